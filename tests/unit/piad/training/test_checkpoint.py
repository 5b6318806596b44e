"""piad.training.checkpoint: reading checkpoints, the checks before a resume (another config,
other images, a checkpoint written before a field existed), log.csv, and stop requests."""

from __future__ import annotations

import csv
import signal
from pathlib import Path

import pytest
import torch
from piad_tiny import tiny_config, toy_images

from piad.errors import PIADError
from piad.training import Trainer
from piad.training.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_NAME,
    LOG_COLUMNS,
    RESUMABLE_FIELDS,
    Interrupted,
    append_log_row,
    check_resumable,
    clear_stop,
    read_checkpoint,
    request_stop,
    signal_name,
    stop_armed,
    stop_at_boundary,
    stop_requested,
    truncate_log,
)


# ------------------------------------------------------------------------------ resume checks
def _make_old_checkpoint(workdir: Path) -> None:
    """A run with the permutations order, its checkpoint rewritten as before issue 17."""
    cfg = tiny_config(data_order="permutations", checkpoint_every=2)
    Trainer(cfg, toy_images(), workdir=workdir, progress=False).run(2)
    path = workdir / CHECKPOINT_NAME
    state = torch.load(path, weights_only=False)
    del state["config"]["data_order"], state["data"]["data_order"]
    torch.save(state, path)


def test_checkpoint_written_before_data_order_resumes_with_permutations(tmp_path: Path) -> None:
    _make_old_checkpoint(tmp_path / "old")
    straight = Trainer(tiny_config(data_order="permutations"), toy_images(), progress=False)
    straight.run(4)
    resumed = Trainer(
        tiny_config(data_order="permutations"),
        toy_images(),
        workdir=tmp_path / "old",
        progress=False,
    )
    assert resumed.iteration == 2
    resumed.run(4)
    for a, b in zip(straight.networks.parameters(), resumed.networks.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(PIADError, match="data_order: 'permutations' -> 'code'"):
        Trainer(tiny_config(), toy_images(), workdir=tmp_path / "old", progress=False)


def test_resume_with_another_config_is_refused(tmp_path: Path) -> None:
    Trainer(tiny_config(), toy_images(), workdir=tmp_path, progress=False).run(2)
    with pytest.raises(PIADError, match="lr_ge"):
        Trainer(tiny_config(lr_ge=3e-4), toy_images(), workdir=tmp_path, progress=False)
    with pytest.raises(PIADError, match="other images"):
        Trainer(tiny_config(), toy_images(seed=1), workdir=tmp_path, progress=False)
    # more iterations, other log intervals: allowed
    t = Trainer(
        tiny_config(iterations=3, log_every=1), toy_images(), workdir=tmp_path, progress=False
    )
    assert t.iteration == 2


def test_read_checkpoint_refuses_other_files_in_one_line(tmp_path: Path) -> None:
    good = tmp_path / "good.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "iteration": 3}, good)
    assert read_checkpoint(good)["iteration"] == 3
    other = tmp_path / "other.pt"
    torch.save({"format": "piad-model/1"}, other)
    with pytest.raises(PIADError, match="is not a PIAD training checkpoint; use another workdir"):
        read_checkpoint(other)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[:40])  # a truncated copy
    with pytest.raises(PIADError) as info:
        read_checkpoint(cut)
    message = str(info.value)
    assert "cut.pt" in message and "delete it to train this run again" in message
    assert "\n" not in message


def test_check_resumable_allows_only_the_bookkeeping_fields_to_change() -> None:
    saved = tiny_config()
    state = {"config": saved.to_dict(), "data_fingerprint": [1.0, 2.0]}
    changed = {"iterations": 99, "checkpoint_every": 7, "log_every": 3, "sample_every": 5}
    assert set(changed) | {"device"} == set(RESUMABLE_FIELDS)
    check_resumable(state, saved.replace(**changed), [1.0, 2.0], "ck.pt")  # no error
    with pytest.raises(
        PIADError, match=r"ck\.pt was made with another config \(batch_size: 8 -> 4"
    ):
        check_resumable(state, saved.replace(batch_size=4), [1.0, 2.0], "ck.pt")
    with pytest.raises(PIADError, match="trained on other images"):
        check_resumable(state, saved, [1.0, 3.0], "ck.pt")


def test_log_rows_are_appended_and_a_killed_runs_tail_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    truncate_log(path, 4)  # no log yet: nothing to do
    assert not path.exists()
    for it in (2, 4, 6):
        append_log_row(path, {c: it if c == "iteration" else 0.5 for c in LOG_COLUMNS})
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["iteration"] for r in rows] == ["2", "4", "6"] and list(rows[0]) == list(LOG_COLUMNS)
    truncate_log(path, 4)
    with open(path, newline="") as f:
        assert [r["iteration"] for r in csv.DictReader(f)] == ["2", "4"]
    assert path.read_text().splitlines()[0] == ",".join(LOG_COLUMNS)


def test_interrupted_names_the_signal_and_exits_128_plus_its_number(tmp_path: Path) -> None:
    stop = Interrupted(signal.SIGTERM, 12, tmp_path / "checkpoint.pt")
    assert stop.exit_code == 143 and Interrupted(signal.SIGINT).exit_code == 130
    assert (
        str(stop)
        == f"interrupted by SIGTERM at iteration 12, checkpoint {tmp_path}/checkpoint.pt written"
    )
    assert str(Interrupted(signal.SIGINT)) == "interrupted by SIGINT"
    assert not isinstance(stop, Exception)  # `except Exception` does not swallow it
    assert signal_name(15) == "SIGTERM" and signal_name(999) == "signal 999"


def test_a_stop_request_raises_at_once_when_armed_and_only_after_a_boundary() -> None:
    try:
        request_stop(signal.SIGTERM)
        request_stop(signal.SIGINT)  # the first signal wins
        assert stop_requested() == signal.SIGTERM
        with pytest.raises(Interrupted) as info, stop_armed():
            pass  # armed with a pending request: raised on entry
        assert info.value.signum == signal.SIGTERM
        clear_stop()
        reached = []
        with pytest.raises(Interrupted) as info, stop_armed():
            with stop_at_boundary():  # a training loop: a request only sets the flag
                request_stop(signal.SIGINT)
                reached.append("rest of the iteration")
            reached.append("after the boundary")
        assert reached == ["rest of the iteration"]  # raised as the boundary was left
        assert info.value.signum == signal.SIGINT
        clear_stop()
        assert stop_requested() is None
        with stop_armed(), stop_at_boundary():
            pass  # no request: nothing raised
    finally:
        clear_stop()

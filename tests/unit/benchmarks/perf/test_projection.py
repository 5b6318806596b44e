"""benchmarks.perf.projection: stand-in presets, suites' model-iterations, hours and the table."""

from __future__ import annotations

import types

import pytest

from benchmarks.experiments import suites
from benchmarks.perf.projection import markdown, piad_model_iterations, project_suites, stand_in


def _row(preset: str, rate: float | None, mode: str = "fused", k: int = 1) -> dict:
    return {"preset": preset, "mode": mode, "k": k, "model_it_per_s": rate}


# ------------------------------------------------------------------------ stand_in
@pytest.mark.parametrize(
    ("family", "measured", "expected"),
    [
        ("mnist", ["cifar10", "mnist"], ("mnist", "measured")),
        ("fmnist", ["mnist"], ("mnist", "as mnist")),  # same networks, one input channel
        ("coil100", ["mnist"], ("mnist", "as mnist (other input channels)")),  # RGB input
        ("coil100", ["cifar10", "mnist"], ("mnist", "as mnist (other input channels)")),
        ("fmnist", ["cifar10"], (None, "not measured: add it to --presets")),  # other networks
        ("celeba", ["mnist", "cifar10"], (None, "not measured: add it to --presets")),
        ("cifar10", [], (None, "not measured: add it to --presets")),
    ],
)
def test_stand_in(family: str, measured: list[str], expected: tuple) -> None:
    assert stand_in(family, measured) == expected


def test_stand_in_takes_the_first_measured_match() -> None:
    assert stand_in("mnist", ["fmnist", "coil100"]) == ("fmnist", "as fmnist")
    assert stand_in("mnist", ["coil100", "fmnist"]) == (
        "coil100",
        "as coil100 (other input channels)",
    )


# ------------------------------------------------------------------------ model-iterations
@pytest.mark.parametrize(
    ("suite", "expected"),
    [
        # 10 digits x 3 seeds = 30 jobs of each; MNIST 50k, CIFAR-10 100k iterations
        ("table2", {"mnist": 30 * 50_000, "cifar10": 30 * 100_000}),
        # F-MNIST 10 x 3 x 50k; COIL-100 30 x 3 x 20k; CelebA 1 x 3 x 200k
        ("table3", {"fmnist": 1_500_000, "coil100": 1_800_000, "celeba": 600_000}),
        # 10 classes x 5 ablations x 3 seeds = 150 jobs of 100k
        ("ablation", {"cifar10": 150 * 100_000}),
        # quick: 3 digits x 1 seed at the suite's own budget of 100 (mnist5k is an mnist family)
        ("quick", {"mnist": 3 * 100}),
    ],
)
def test_piad_model_iterations_of_the_suites(suite: str, expected: dict) -> None:
    assert dict(piad_model_iterations(suite)) == expected


def test_model_iterations_count_piad_jobs_only_and_their_own_budget(monkeypatch) -> None:
    jobs = [
        types.SimpleNamespace(method="piad", dataset="mnist", iters=None),  # the preset: 50k
        types.SimpleNamespace(method="piad", dataset="fmnist", iters=1_000),
        types.SimpleNamespace(method="piad", dataset="mnist5k", iters=200),
        types.SimpleNamespace(method="kde", dataset="mnist", iters=None),
        types.SimpleNamespace(method="piad", dataset="coil100", iters=None),  # 20k
    ]
    monkeypatch.setattr(suites, "make_jobs", lambda suite: jobs)
    # mnist: 50,000 + 200 (mnist5k is the mnist family); fmnist: 1,000; coil100: 20,000
    assert dict(piad_model_iterations("any")) == {
        "mnist": 50_200,
        "fmnist": 1_000,
        "coil100": 20_000,
    }


# ------------------------------------------------------------------------ project_suites
def test_the_docstring_example() -> None:
    rows = [_row("mnist", 10.0, k=2)]
    out = project_suites(rows, ["table2"])
    assert out == [
        {
            "suite": "table2",
            "family": "cifar10",
            "model_iterations": 3_000_000,
            "timed_as": "not measured: add it to --presets",
            "best_setting": "",
            "model_it_per_s": None,
            "hours": None,
        },
        # 1.5M model-iterations / 10 per s = 150,000 s = 41.667 h
        {
            "suite": "table2",
            "family": "mnist",
            "model_iterations": 1_500_000,
            "timed_as": "measured",
            "best_setting": "fused K=2",
            "model_it_per_s": 10.0,
            "hours": 41.667,
        },
    ]


def test_the_best_rate_of_a_preset_is_used() -> None:
    rows = [
        _row("mnist", 5.0, "loop", 1),
        _row("mnist", 25.0, "fused", 8),
        _row("mnist", 20.0, "fused", 16),
        _row("cifar10", 2.5, "fused", 4),
    ]
    out = {r["family"]: r for r in project_suites(rows, ["table2"])}
    assert out["mnist"]["best_setting"] == "fused K=8" and out["mnist"]["model_it_per_s"] == 25.0
    assert out["mnist"]["hours"] == pytest.approx(16.667)  # 1.5M / 25 / 3600 = 16.6667
    assert out["cifar10"]["hours"] == pytest.approx(333.333)  # 3M / 2.5 / 3600 = 333.333


@pytest.mark.parametrize("rate", [None, 0.0])
def test_rows_without_a_rate_are_not_measurements(rate) -> None:
    rows = [_row("mnist", rate, k=4), {"preset": "cifar10", "mode": "fused", "k": 1}]
    out = project_suites(rows, ["table2"])
    assert [r["hours"] for r in out] == [None, None]
    assert {r["timed_as"] for r in out} == {"not measured: add it to --presets"}


def test_stand_ins_carry_the_measured_rate_into_table3() -> None:
    out = {r["family"]: r for r in project_suites([_row("mnist", 100.0, k=4)], ["table3"])}
    assert [*out] == ["celeba", "coil100", "fmnist"]  # sorted by family
    assert out["fmnist"]["timed_as"] == "as mnist"
    assert out["fmnist"]["hours"] == pytest.approx(4.167)  # 1.5M / 100 / 3600 = 4.1667
    assert out["coil100"]["timed_as"] == "as mnist (other input channels)"
    assert out["coil100"]["hours"] == 5.0  # 1.8M / 100 / 3600 = 5.0
    assert out["celeba"]["hours"] is None


def test_rate_is_rounded_to_four_decimals_but_hours_use_the_exact_rate() -> None:
    (out,) = [
        r for r in project_suites([_row("mnist", 1 / 3)], ["table2"]) if r["family"] == "mnist"
    ]
    assert out["model_it_per_s"] == 0.3333
    assert out["hours"] == 1250.0  # 1.5M * 3 / 3600 = 1250 (0.3333 would give 1250.125)


def test_suites_come_in_the_order_asked() -> None:
    out = project_suites([_row("cifar10", 10.0)], ["ablation", "table2"])
    assert [(r["suite"], r["family"]) for r in out] == [
        ("ablation", "cifar10"),
        ("table2", "cifar10"),
        ("table2", "mnist"),
    ]
    assert out[0]["hours"] == pytest.approx(416.667)  # 15M / 10 / 3600 = 416.667


# ------------------------------------------------------------------------ markdown
def test_markdown_of_nothing_is_empty() -> None:
    assert markdown([], "any machine") == ""


def test_markdown_totals_each_fully_measured_suite() -> None:
    rows = [_row("mnist", 10.0, k=2), _row("cifar10", 5.0, k=4)]
    text = markdown(project_suites(rows, ["table2", "table3"]), "Xeon, 2 CPU cores")
    assert text.startswith(
        "\n## Projected PIAD wall-clock of the suites on this machine (Xeon, 2 CPU cores)\n"
    )
    # table2: 1.5M / 10 / 3600 = 41.667 h + 3M / 5 / 3600 = 166.667 h = 208.3 h
    # table3: CelebA has no stand-in
    assert "Totals: table2 208.3 h; table3: part not measured.\n" in text
    assert text.endswith("|\n")


def test_markdown_leaves_the_unmeasured_cells_empty() -> None:
    text = markdown(project_suites([_row("mnist", 10.0, k=2)], ["table2"]), "m")
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].split("|")[1:-1]]
    assert header == [
        "suite",
        "family",
        "model_iterations",
        "timed_as",
        "best_setting",
        "model_it_per_s",
        "hours",
    ]
    cifar = [c.strip() for c in lines[2].split("|")[1:-1]]
    assert cifar == [
        "table2",
        "cifar10",
        "3000000",
        "not measured: add it to --presets",
        "",
        "",
        "",
    ]
    mnist = [c.strip() for c in lines[3].split("|")[1:-1]]
    assert mnist == ["table2", "mnist", "1500000", "measured", "fused K=2", "10", "41.667"]

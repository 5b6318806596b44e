"""benchmarks.perf.fused_speed: settings checks, helpers, speedups, memory fit, group sizes, CLI."""

from __future__ import annotations

import csv
import json
import types
from dataclasses import asdict
from pathlib import Path

import pytest

from benchmarks.perf import fused_speed
from benchmarks.perf.fused_speed import FusedBenchSettings
from piad.errors import PIADError

GiB = 1 << 30


# ------------------------------------------------------------------------ argument parsing
@pytest.mark.parametrize(("k", "iters"), [(0, 1), (1, 0), (-2, 3)])
def test_measure_fused_refuses_k_or_iters_below_one(k: int, iters: int) -> None:
    with pytest.raises(PIADError) as info:
        fused_speed.measure_fused("mnist", k, iters, 1, tiny=True)
    s = FusedBenchSettings(preset="mnist", k=k, iters=iters, threads=1, tiny=True)
    assert str(info.value) == (
        f"bad benchmark settings {s}: mode in ('fused', 'loop'), k >= 1, iters >= 1"
    )


def test_measure_fused_refuses_an_unknown_option() -> None:
    with pytest.raises(TypeError, match="sideways"):
        fused_speed.measure_fused("mnist", 1, 1, 1, sideways=True)


# ------------------------------------------------------------------------ small helpers
def test_tiny_parts_are_valid_preset_changes_and_seeded() -> None:
    import torch

    from piad.config import PIADConfig

    changes, features = fused_speed._tiny_parts()
    config = PIADConfig.preset("cifar10", **changes)
    assert config.gen_channels == (4, 4, 4, 4) and config.latent_dim == 4
    _, again = fused_speed._tiny_parts()
    for p, q in zip(features.parameters(), again.parameters()):
        assert torch.equal(p, q)


def _conf(in_channels: int = 1, size: int = 8):
    return types.SimpleNamespace(in_channels=in_channels, image_size=size)


def test_image_list_shares_one_tensor_by_default() -> None:
    s = FusedBenchSettings(k=3, n_images=4)
    images = fused_speed._image_list(s, _conf(3, 8))
    assert len(images) == 3 and all(x is images[0] for x in images)
    assert images[0].shape == (4, 3, 8, 8) and str(images[0].dtype) == "torch.uint8"


def test_distinct_images_differ_per_member_and_member_zero_is_the_shared_one() -> None:
    import torch

    shared = fused_speed._image_list(FusedBenchSettings(k=2, n_images=4), _conf())[0]
    a, b = fused_speed._image_list(FusedBenchSettings(k=2, n_images=4, share_images=False), _conf())
    assert torch.equal(a, shared)  # seed 0 either way
    assert not torch.equal(a, b)


@pytest.mark.parametrize(("preset", "n"), [("mnist", 6000), ("cifar10", 5000), ("celeba", 5000)])
def test_image_list_defaults_to_one_class_of_the_train_split(preset: str, n: int) -> None:
    (images,) = fused_speed._image_list(FusedBenchSettings(preset=preset), _conf(1, 2))
    assert images.shape == (n, 1, 2, 2)


def test_configs_have_seeds_zero_to_k_and_share_the_features() -> None:
    s = FusedBenchSettings(preset="mnist", k=3, tiny=True, batch_size=8, weights="w")
    configs, features = fused_speed._configs_and_features(s)
    assert [c.seed for c in configs] == [0, 1, 2]
    assert {(c.batch_size, c.device, c.perceptual_weights) for c in configs} == {(8, "cpu", "w")}
    assert sum(p.numel() for p in features.parameters()) == 3 * 4 * 9 + 4 + 4 * 4 * 9 + 4  # 260


class _FakeTrainer:
    """A solo trainer's cache protocol: ``prepare_feature_cache`` decides once."""

    def __init__(self, nbytes: int | None) -> None:
        self._nbytes, self._fx_cache, self._cache_decided, self.builds = nbytes, None, False, 0

    def prepare_feature_cache(self):
        if not self._cache_decided:
            self._cache_decided = True
            if self._nbytes is not None:
                self.builds += 1
                self._fx_cache = types.SimpleNamespace(nbytes=self._nbytes)
        return self._fx_cache


def test_shared_images_build_one_cache_for_all() -> None:
    trainers = [_FakeTrainer(100), _FakeTrainer(100), _FakeTrainer(100)]
    assert fused_speed._prepare_caches(trainers, share=True) == 100  # built once
    assert [t.builds for t in trainers] == [1, 0, 0]
    assert all(t._fx_cache is trainers[0]._fx_cache and t._cache_decided for t in trainers)


def test_distinct_images_build_a_cache_each() -> None:
    trainers = [_FakeTrainer(100), _FakeTrainer(50)]
    assert fused_speed._prepare_caches(trainers, share=False) == 150
    assert [t.builds for t in trainers] == [1, 1]


def test_without_a_first_cache_each_decides_for_itself() -> None:
    trainers = [_FakeTrainer(None), _FakeTrainer(70)]
    assert fused_speed._prepare_caches(trainers, share=True) == 70
    assert trainers[0]._fx_cache is None and trainers[1].builds == 1


class _Stepper:
    def __init__(self, iteration: int) -> None:
        self.iteration, self.steps = iteration, []

    def step(self) -> None:
        self.iteration += 1
        self.steps.append(self.iteration)


@pytest.mark.parametrize(("start", "stepped"), [(0, 1), (98, 99), (99, 101), (199, 201)])
def test_step_skips_the_weight_policy_iteration(start: int, stepped: int) -> None:
    st = _Stepper(start)
    seconds = fused_speed._step(st, 100)
    assert st.steps == [stepped] and seconds >= 0.0  # iteration 100, 200: a policy update


@pytest.mark.parametrize(
    ("changes", "cuda", "note"),
    [
        ({}, False, ""),
        ({"k": 2}, False, "shared images and cache"),
        ({"k": 2, "share_images": False}, False, ""),
        (
            {"tiny": True, "k": 4, "autocast": "bf16"},
            False,
            "tiny config shared images and cache autocast bf16",
        ),
        ({"tf32": True}, False, ""),  # TF32 acts on CUDA only
        ({"tf32": True, "feature_cache": "off"}, True, "tf32 feature cache off"),
    ],
)
def test_note_names_the_non_default_settings(changes: dict, cuda: bool, note: str) -> None:
    assert fused_speed._note(FusedBenchSettings(**changes), cuda) == note


def test_derived_figures_on_a_cpu(monkeypatch) -> None:
    monkeypatch.setattr(fused_speed, "peak_memory_bytes", lambda device: None)
    row = {"peak_rss_gb": 3.0, "s_per_model_it": 0.1}
    fused_speed._add_derived(row, FusedBenchSettings(k=3), False, [0.2, 0.4, 0.3])
    # per model 3.0 / 3; paired: median 0.3 s, 0.3 / 0.1 = 3x
    assert row == pytest.approx(
        {
            "peak_rss_gb": 3.0,
            "s_per_model_it": 0.1,
            "peak_rss_per_model_gb": 1.0,
            "paired_solo_s_per_it": 0.3,
            "paired_speedup": 3.0,
        }
    )


def test_derived_figures_on_cuda_have_the_peak_and_no_pairing(monkeypatch) -> None:
    monkeypatch.setattr(fused_speed, "peak_memory_bytes", lambda device: 3 * GiB // 2)
    row = {"peak_rss_gb": 2.0, "s_per_model_it": 0.1}
    fused_speed._add_derived(row, FusedBenchSettings(k=4, device="cuda"), True, [0.2])
    assert row == {
        "peak_rss_gb": 2.0,
        "s_per_model_it": 0.1,
        "peak_rss_per_model_gb": 0.5,
        "cuda_peak_gb": 1.5,
    }


class _FakeSoloTrainer:
    def __init__(self, config, images, feature_cache=None, **kw) -> None:
        self.config, self.images, self.feature_cache, self.kw = config, images, feature_cache, kw
        self.iteration, self._fx_cache, self._cache_decided = 0, None, False

    def step(self) -> None:
        self.iteration += 1


@pytest.mark.parametrize(
    ("mode", "first_cache", "shared"),
    [
        ("loop", "cache", True),
        ("loop", None, True),
        ("fused", "cache", True),
        ("fused", None, False),
    ],
)
def test_paired_reference_shares_member_zeros_cache(monkeypatch, mode, first_cache, shared) -> None:
    import piad.training

    monkeypatch.setattr(piad.training, "Trainer", _FakeSoloTrainer)
    first = types.SimpleNamespace(_fx_cache=first_cache)
    s = FusedBenchSettings(mode=mode, warmup=3, feature_cache="on")
    ref = fused_speed._paired_reference(
        s, types.SimpleNamespace(n_weight=100), "x", first, {"features": "f"}
    )
    assert (ref.images, ref.feature_cache, ref.kw) == ("x", "on", {"features": "f"})
    assert ref._cache_decided is shared and ref._fx_cache is first_cache
    assert ref.iteration == 3  # warmed up


# ------------------------------------------------------------------------ measurements
def test_measure_fused_on_a_cpu_derives_its_figures_and_shares_the_cache() -> None:
    options = {"mode": "loop", "tiny": True, "n_images": 16, "warmup": 0}
    shared = fused_speed.measure_fused("mnist", 2, 1, 1, **options)
    assert shared["s_per_model_it"] == pytest.approx(shared["s_per_group_iter"] / 2)
    assert shared["peak_rss_per_model_gb"] == pytest.approx(shared["peak_rss_gb"] / 2)
    assert shared["paired_speedup"] == pytest.approx(
        shared["paired_solo_s_per_it"] / shared["s_per_model_it"]
    )
    assert "cuda_peak_gb" not in shared and shared["device"] == "cpu"
    assert shared["note"] == "tiny config shared images and cache"
    distinct = fused_speed.measure_fused(
        "mnist", 2, 1, 1, share_images=False, paired=False, **options
    )
    assert distinct["cache_gb"] == pytest.approx(2 * shared["cache_gb"], rel=0.01)  # 2 caches
    assert "paired_speedup" not in distinct and distinct["note"] == "tiny config"


@pytest.mark.skipif(
    not __import__("torch").cuda.is_available(), reason="the CUDA branch of measure_fused"
)
def test_measure_fused_on_cuda_reports_the_device_peak() -> None:
    row = fused_speed.measure_fused("mnist", 2, 2, 1, "cuda", tiny=True, n_images=16, warmup=0)
    assert row["cuda_peak_gb"] > 0 and "paired_speedup" not in row
    assert row["model_it_per_s"] == pytest.approx(2 / row["s_per_group_iter"])


def test_run_fresh_names_the_preset_and_k(monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(fused_speed, "run_worker", lambda *a: calls.append(a) or {"k": 4})
    s = FusedBenchSettings(preset="cifar10", k=4, threads=3)
    assert fused_speed.run_fresh(s) == {"k": 4}
    assert calls == [("benchmarks.perf.fused_speed", asdict(s), 3, "fused cifar10 K=4")]


def test_from_settings_passes_every_field(monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(fused_speed, "measure_fused", lambda *a, **kw: calls.append((a, kw)))
    s = FusedBenchSettings(preset="cifar10", k=2, iters=3, threads=1, device="cuda:1", tf32=True)
    fused_speed._from_settings(s)
    ((args, kw),) = calls
    assert args == ("cifar10", 2, 3, 1, "cuda:1")
    assert (
        FusedBenchSettings(**dict(zip(("preset", "k", "iters", "threads", "device"), args)), **kw)
        == s
    )


def _fake_run(rates: dict[tuple[str, str, int], float]):
    def run(s: FusedBenchSettings) -> dict:
        return {
            "preset": s.preset,
            "mode": s.mode,
            "k": s.k,
            "peak_rss_gb": 1.0,
            "load_after": 0.5,
            "model_it_per_s": rates[(s.preset, s.mode, s.k)],
        }

    return run


def test_benchmark_runs_loops_then_groups_and_divides_by_the_solo_run(monkeypatch) -> None:
    rates = {("mnist", "loop", 1): 2.0, ("mnist", "fused", 1): 2.5, ("mnist", "fused", 4): 8.0}
    monkeypatch.setattr(fused_speed, "_from_settings", _fake_run(rates))
    logged: list[str] = []
    rows = fused_speed.benchmark(
        ["mnist"], [1, 4], [1], FusedBenchSettings(iters=2), False, logged.append
    )
    assert [(r["mode"], r["k"]) for r in rows] == [("loop", 1), ("fused", 1), ("fused", 4)]
    assert [r["speedup_vs_solo"] for r in rows] == [1.0, 1.25, 4.0]  # 2 / 2, 2.5 / 2, 8 / 2
    assert logged[:2] == [
        "[fused_speed] mnist loop K=1: 2 iterations on cpu ...",
        "[fused_speed]   2 model-it/s, peak RSS 1.00 GiB, load 0.50",
    ]


def test_without_a_loop_the_fused_solo_is_the_reference_per_preset(monkeypatch) -> None:
    rates = {
        ("mnist", "fused", 1): 4.0,
        ("mnist", "fused", 2): 6.0,
        ("cifar10", "fused", 1): 1.0,
        ("cifar10", "fused", 2): 1.5,
    }
    monkeypatch.setattr(fused_speed, "_from_settings", _fake_run(rates))
    rows = fused_speed.benchmark(
        ["mnist", "cifar10"], [1, 2], [], FusedBenchSettings(), False, lambda _: None
    )
    assert [(r["preset"], r["speedup_vs_solo"]) for r in rows] == [
        ("mnist", 1.0),
        ("mnist", 1.5),
        ("cifar10", 1.0),
        ("cifar10", 1.5),
    ]


def test_without_a_solo_run_there_is_no_speedup(monkeypatch) -> None:
    monkeypatch.setattr(fused_speed, "_from_settings", _fake_run({("mnist", "fused", 2): 6.0}))
    (row,) = fused_speed.benchmark(["mnist"], [2], [], FusedBenchSettings(), False, lambda _: None)
    assert "speedup_vs_solo" not in row


def test_benchmark_measures_in_fresh_processes_by_default(monkeypatch) -> None:
    seen: list[FusedBenchSettings] = []
    monkeypatch.setattr(
        fused_speed,
        "run_fresh",
        lambda s: seen.append(s) or _fake_run({(s.preset, s.mode, s.k): 1.0})(s),
    )
    fused_speed.benchmark(["mnist"], [2], [1], FusedBenchSettings(tf32=True), log=lambda _: None)
    assert [(s.mode, s.k, s.tf32) for s in seen] == [("loop", 1, True), ("fused", 2, True)]


# ------------------------------------------------------------------------ memory and groups
def _mem(preset: str, mode: str, k: int, gib: float) -> dict:
    return {"preset": preset, "mode": mode, "k": k, "peak_rss_gb": gib}


def test_per_model_memory_is_a_least_squares_line() -> None:
    rows = [
        _mem("mnist", "fused", 1, 2.0),
        _mem("mnist", "fused", 2, 2.0),
        _mem("mnist", "fused", 3, 5.0),
    ]
    # mean K 2, mean RSS 3; slope = ((-1)(-1) + 0 + (1)(2)) / (1 + 0 + 1) = 1.5; base 3 - 3 = 0
    assert fused_speed.per_model_memory(rows, "mnist") == pytest.approx((0.0, 1.5))


def test_per_model_memory_uses_the_fused_rows_of_the_preset_only() -> None:
    rows = [
        _mem("mnist", "fused", 1, 1.5),
        _mem("mnist", "fused", 4, 3.0),
        _mem("mnist", "loop", 4, 99.0),
        _mem("cifar10", "fused", 8, 99.0),
    ]
    # through (1, 1.5) and (4, 3.0): slope 1.5 / 3 = 0.5, base 1.5 - 0.5 = 1.0
    assert fused_speed.per_model_memory(rows, "mnist") == pytest.approx((1.0, 0.5))


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [_mem("mnist", "fused", 2, 1.0)],
        [_mem("mnist", "fused", 2, 1.0), _mem("mnist", "fused", 2, 1.2)],
        [_mem("mnist", "fused", 1, 1.0), _mem("mnist", "loop", 2, 2.0)],
    ],
)
def test_per_model_memory_needs_two_group_sizes(rows: list[dict]) -> None:
    assert fused_speed.per_model_memory(rows, "mnist") is None


def test_feature_bytes_are_relu4_2_of_a_32_px_image() -> None:
    assert fused_speed.FEATURE_BYTES_PER_IMAGE == 32_768  # 512 channels x 4 x 4 x float32


def test_project_groups_adds_each_members_dense_cache() -> None:
    rows = [_mem("mnist", "fused", 1, 1.5), _mem("mnist", "fused", 2, 2.0)]  # slope 0.5 GiB
    out = {p["card"]: p for p in fused_speed.project_groups(rows, {"mnist": 6000})}
    # cache: 6000 x 32,768 B = 0.18310546875 GiB; per model 0.5 + 0.1831 = 0.68310546875 GiB
    # H200: 139 x 0.9 - 1.5 = 123.6 GiB usable; 123.6 / 0.6831 = 180.9; 123.6 / 0.5 = 247.2
    assert out["H200 (139 GiB)"] == {
        "preset": "mnist",
        "card": "H200 (139 GiB)",
        "per_model_gib_measured": 0.5,
        "dense_cache_gib": 0.183,
        "per_model_gib": 0.683,
        "largest_group": 180,
        "largest_group_no_cache": 247,
    }
    # 24 GB = 22.3517 GiB; x 0.9 - 1.5 = 18.6166 usable; / 0.6831 = 27.25; / 0.5 = 37.23
    assert (out["24 GB card"]["largest_group"], out["24 GB card"]["largest_group_no_cache"]) == (
        27,
        37,
    )


def test_project_groups_edge_cases() -> None:
    flat = [_mem("mnist", "fused", 1, 2.0), _mem("mnist", "fused", 4, 2.0)]  # slope 0
    (h200, card) = fused_speed.project_groups(flat, {})
    assert h200["largest_group"] is None and h200["largest_group_no_cache"] is None
    huge = [_mem("cifar10", "fused", 1, 1.0), _mem("cifar10", "fused", 2, 201.0)]  # 200 GiB each
    (h200, card) = fused_speed.project_groups(huge, {"cifar10": 0})
    assert h200["largest_group"] == 0 and card["largest_group_no_cache"] == 0
    one_k = [_mem("mnist", "fused", 1, 2.0), _mem("mnist", "loop", 2, 3.0)]
    assert fused_speed.project_groups(one_k, {"mnist": 6000}) == []


def test_project_groups_in_the_order_presets_first_appear() -> None:
    rows = [_mem(p, "fused", k, 1.0 + k) for p in ("cifar10", "mnist") for k in (1, 2)]
    out = fused_speed.project_groups(rows, {})
    assert [(p["preset"], p["card"]) for p in out] == [
        ("cifar10", "H200 (139 GiB)"),
        ("cifar10", "24 GB card"),
        ("mnist", "H200 (139 GiB)"),
        ("mnist", "24 GB card"),
    ]


# ------------------------------------------------------------------------ tables
def _measured(k: int, mode: str = "fused", rate: float = 10.0, note: str = "") -> dict:
    return {
        "preset": "mnist",
        "mode": mode,
        "k": k,
        "device": "cpu",
        "threads": 1,
        "iters": 2,
        "s_per_group_iter": k / rate,
        "model_it_per_s": rate,
        "peak_rss_gb": 1.0 + 0.5 * k,
        "s_per_group_iter_mean": 0.5,
        "note": note,
    }


def test_csv_has_the_known_columns_present_in_order(tmp_path: Path) -> None:
    rows = [
        _measured(1, note="tiny config"),
        {**_measured(2, note="tiny config"), "cache_gb": 0.25},
    ]
    csv_path, md_path = fused_speed.write_outputs(rows, [], tmp_path, "m; torch")
    with open(csv_path, newline="") as f:
        read = list(csv.DictReader(f))
    assert list(read[0]) == [
        "preset",
        "mode",
        "k",
        "device",
        "threads",
        "iters",
        "s_per_group_iter",
        "model_it_per_s",
        "peak_rss_gb",
        "cache_gb",
        "note",
    ]  # s_per_group_iter_mean is not a column
    assert [r["cache_gb"] for r in read] == ["", "0.25"]
    text = md_path.read_text()
    assert text.startswith("# Fused training speed\n\nMachine: m; torch\n\n| preset")
    assert "## Projected" not in text  # tiny: neither the group nor the suite projection


def test_markdown_rounds_to_four_decimals(tmp_path: Path) -> None:
    rows = [{**_measured(1, note="tiny config"), "s_per_group_iter": 0.123456789}]
    _, md_path = fused_speed.write_outputs(rows, [], tmp_path, "m")
    assert "0.1235" in md_path.read_text() and "0.123456789" not in md_path.read_text()


def test_markdown_adds_both_projections_for_real_rows(tmp_path: Path) -> None:
    rows = [_measured(1), _measured(2, rate=20.0)]
    projection = fused_speed.project_groups(rows, {"mnist": 6000})
    _, md_path = fused_speed.write_outputs(rows, projection, tmp_path, "Xeon, 2 CPU cores; torch")
    text = md_path.read_text()
    assert (
        "## Projected largest group per card" in text and "floor((90% of the card - 1.5 GiB" in text
    )
    # the suites' projection, on the machine's part before ";", at the best rate 20 model-it/s:
    # Table 2 MNIST 1.5M / 20 / 3600 = 20.833 h; CIFAR-10 not measured
    assert "on this machine (Xeon, 2 CPU cores)" in text and "| fused K=2 " in text
    assert "20.833" in text and "table2: part not measured" in text


def test_read_rows_turns_blanks_into_none_and_keeps_the_order(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("preset,mode,k,model_it_per_s,note\nmnist,loop,1,2.5,\n")
    (tmp_path / "b.csv").write_text("preset,mode,k,model_it_per_s,note\nmnist,fused,4,8.0,x\n")
    rows = fused_speed.read_rows([str(tmp_path / "a.csv"), str(tmp_path / "b.csv")])
    assert rows == [
        {"preset": "mnist", "mode": "loop", "k": 1, "model_it_per_s": 2.5, "note": None},
        {"preset": "mnist", "mode": "fused", "k": 4, "model_it_per_s": 8.0, "note": "x"},
    ]


def test_read_rows_names_a_missing_table(tmp_path: Path) -> None:
    missing = tmp_path / "none.csv"
    with pytest.raises(PIADError) as info:
        fused_speed.read_rows([str(missing)])
    assert str(info.value) == f"no benchmark table at {missing}; run the benchmark with --out first"


def test_read_rows_keeps_numbers_in_a_partly_blank_column(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("preset,k,cuda_peak_gb\nmnist,1,\nmnist,2,1.25\n")
    rows = fused_speed.read_rows([str(tmp_path / "a.csv")])
    assert [r["cuda_peak_gb"] for r in rows] == [None, 1.25]


# ------------------------------------------------------------------------ main
@pytest.fixture
def fixed_machine(monkeypatch) -> None:
    monkeypatch.setattr(fused_speed, "machine_description", lambda device, threads: "m; t")


def _write_csv(path: Path, rows: list[dict]) -> str:
    import pandas as pd

    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def test_from_csv_merges_and_recomputes_speedups_against_fused_solo(
    fixed_machine, tmp_path
) -> None:
    a = _write_csv(tmp_path / "a.csv", [_measured(1, rate=4.0, note="tiny config")])
    b = _write_csv(
        tmp_path / "b.csv",
        [_measured(2, rate=6.0, note="tiny config"), _measured(4, rate=10.0, note="tiny config")],
    )
    assert fused_speed.main(["--from-csv", f"{a},{b}", "--out", str(tmp_path / "m")]) == 0
    with open(tmp_path / "m" / "fused_speed.csv", newline="") as f:
        merged = list(csv.DictReader(f))
    assert [(r["k"], float(r["speedup_vs_solo"])) for r in merged] == [
        ("1", 1.0),
        ("2", 1.5),
        ("4", 2.5),
    ]  # 4/4, 6/4, 10/4
    md = (tmp_path / "m" / "fused_speed.md").read_text()
    assert "## Projected largest group per card" in md  # from the fused rows' memory slope
    assert "Projected PIAD wall-clock" not in md  # tiny rows: no suite projection


def test_from_csv_prefers_the_loop_solo(fixed_machine, tmp_path) -> None:
    a = _write_csv(
        tmp_path / "a.csv",
        [_measured(1, "fused", 4.0), _measured(1, "loop", 2.0), _measured(2, "fused", 6.0)],
    )
    assert fused_speed.main(["--from-csv", a, "--out", str(tmp_path / "m")]) == 0
    with open(tmp_path / "m" / "fused_speed.csv", newline="") as f:
        merged = list(csv.DictReader(f))
    assert [float(r["speedup_vs_solo"]) for r in merged] == [2.0, 1.0, 3.0]  # against 2.0


def test_from_csv_of_a_missing_file_is_a_one_line_error(fixed_machine, tmp_path, capsys) -> None:
    assert fused_speed.main(["--from-csv", str(tmp_path / "x.csv")]) == 2
    assert capsys.readouterr().err.startswith("error: no benchmark table at ")


@pytest.fixture
def no_benchmark(monkeypatch, fixed_machine) -> dict:
    got: dict = {}

    def fake(presets, fuse, loop, base, fresh):
        got.update(presets=presets, fuse=fuse, loop=loop, base=base, fresh=fresh)
        return [{**_measured(1), "preset": presets[0]}]

    def groups(rows, sizes):
        got["sizes"] = sizes
        return []

    monkeypatch.setattr(fused_speed, "benchmark", fake)
    monkeypatch.setattr(fused_speed, "project_groups", groups)
    return got


def test_main_builds_the_settings_from_the_arguments(no_benchmark, tmp_path) -> None:
    argv = [
        "--presets",
        "cifar10,mnist,",
        "--fuse",
        "2,8",
        "--loop",
        "",
        "--iters",
        "3",
        "--warmup",
        "2",
        "--threads",
        "1",
        "--weights",
        "torchvision",
        "--autocast",
        "bf16",
        "--tf32",
        "--feature-cache",
        "on",
        "--n-images",
        "100",
        "--distinct-images",
        "--unpaired",
        "--in-process",
        "--out",
        str(tmp_path),
    ]
    assert fused_speed.main(argv) == 0
    assert (no_benchmark["presets"], no_benchmark["fuse"], no_benchmark["loop"]) == (
        ["cifar10", "mnist"],
        [2, 8],
        [],
    )
    assert no_benchmark["fresh"] is False
    assert no_benchmark["base"] == FusedBenchSettings(
        iters=3,
        warmup=2,
        threads=1,
        n_images=100,
        share_images=False,
        autocast="bf16",
        tf32=True,
        feature_cache="on",
        weights="torchvision",
        paired=False,
    )
    assert no_benchmark["sizes"] == {"cifar10": 100, "mnist": 100}


def test_main_defaults(no_benchmark, tmp_path) -> None:
    assert fused_speed.main(["--out", str(tmp_path)]) == 0
    assert (no_benchmark["fuse"], no_benchmark["loop"], no_benchmark["fresh"]) == (
        [1, 2, 4, 8],
        [1],
        True,
    )
    assert no_benchmark["base"] == FusedBenchSettings()
    assert no_benchmark["sizes"] == {"mnist": 6000, "cifar10": 5000}  # one class each


def test_main_tiny_skips_the_group_projection(no_benchmark, tmp_path) -> None:
    assert fused_speed.main(["--tiny", "--out", str(tmp_path)]) == 0
    assert no_benchmark["base"].tiny and "sizes" not in no_benchmark


@pytest.mark.parametrize("argv", [["--iters", "0"], ["--threads", "0"], ["--loop", "1,two"]])
def test_main_bad_arguments_are_one_line(no_benchmark, capsys, argv: list[str]) -> None:
    assert fused_speed.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "base" not in no_benchmark


def test_main_worker_prints_one_json_line(monkeypatch, capsys) -> None:
    seen = []
    monkeypatch.setattr(fused_speed, "_from_settings", lambda s: seen.append(s) or {"k": s.k})
    s = FusedBenchSettings(preset="cifar10", k=4, tiny=True)
    assert fused_speed.main(["--worker", json.dumps(asdict(s))]) == 0
    assert seen == [s]
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"k": 4}

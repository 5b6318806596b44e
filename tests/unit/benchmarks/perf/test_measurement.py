"""benchmarks.perf.measurement: what the speed benchmarks share."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import types

import pytest

from benchmarks.perf import measurement
from benchmarks.perf.measurement import (
    check_run_args,
    int_list,
    load_average,
    machine_description,
    parse_worker,
    peak_rss_gb,
    run_worker,
    worker_command,
    worker_env,
)
from piad.errors import PIADError


def done(code: int, out: str, err: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess(["x"], code, out, err)


def test_worker_figures_are_its_last_json_line_and_failures_one_line() -> None:
    assert parse_worker(done(0, 'warming up\n{"it_per_s": 1.5}\n'), "mnist") == {"it_per_s": 1.5}
    with pytest.raises(PIADError, match=r"worker for mnist failed: RuntimeError: out of memory$"):
        parse_worker(done(1, "", "Traceback\n  ...\nRuntimeError: out of memory\n"), "mnist")
    with pytest.raises(PIADError, match="printed no figures"):
        parse_worker(done(0, "no json here\n"), "mnist")
    with pytest.raises(PIADError, match="printed no figures"):
        parse_worker(done(0, ""), "mnist")


def test_checks_threads_and_machine_line() -> None:
    check_run_args(iters=1, threads=1, device="cpu")
    with pytest.raises(PIADError, match="--iters and --threads must be >= 1"):
        check_run_args(iters=3, threads=0, device="cpu")
    env = worker_env(3)
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "3"
    assert "3 torch threads" in machine_description("cpu", 3)
    assert 0 < peak_rss_gb() < 1024


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units checked on Linux")
def test_peak_rss_is_in_gib() -> None:
    import resource

    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert peak_rss_gb() == pytest.approx(kib / (1 << 20), rel=0.05)


# ------------------------------------------------------------------------ argument checks
@pytest.mark.parametrize(("iters", "threads"), [(0, 1), (1, 0), (-1, 2), (0, 0)])
def test_iters_and_threads_below_one_are_refused(iters: int, threads: int) -> None:
    with pytest.raises(PIADError, match=r"^--iters and --threads must be >= 1$"):
        check_run_args(iters=iters, threads=threads, device="cpu")


@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_without_cuda_is_refused(monkeypatch, device: str) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(PIADError, match=r"--device cuda asked for, but CUDA is not available"):
        check_run_args(iters=1, threads=1, device=device)


def test_cuda_with_cuda_is_accepted(monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert check_run_args(iters=1, threads=1, device="cuda:0") is None


def test_iters_are_checked_before_the_device(monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(PIADError, match="--iters and --threads"):
        check_run_args(iters=0, threads=1, device="cuda")


# ------------------------------------------------------------------------ memory, load, machine
@pytest.mark.parametrize(
    ("platform", "maxrss", "gib"),
    [
        ("linux", 3 * (1 << 20), 3.0),  # KiB: 3 * 2^20 KiB = 3 GiB
        ("linux", 1 << 19, 0.5),  # 2^19 KiB = 0.5 GiB
        ("darwin", 3 * (1 << 30), 3.0),  # bytes: 3 * 2^30 B = 3 GiB
        ("darwin", 1 << 29, 0.5),  # 2^29 B = 0.5 GiB
    ],
)
def test_peak_rss_units_per_platform(monkeypatch, platform: str, maxrss: int, gib: float) -> None:
    monkeypatch.setattr(measurement, "sys", types.SimpleNamespace(platform=platform))
    fake = types.SimpleNamespace(
        getrusage=lambda who: types.SimpleNamespace(ru_maxrss=maxrss), RUSAGE_SELF=0
    )
    monkeypatch.setattr(measurement, "resource", fake)
    assert peak_rss_gb() == gib


def test_load_average_is_the_one_minute_figure(monkeypatch) -> None:
    monkeypatch.setattr(os, "getloadavg", lambda: (1.25, 2.5, 3.75), raising=False)
    assert load_average() == 1.25


def test_load_average_is_nan_without_getloadavg(monkeypatch) -> None:
    monkeypatch.delattr(os, "getloadavg", raising=False)
    assert math.isnan(load_average())


def _machine(monkeypatch, processor: str, cuda: bool) -> None:
    import torch

    monkeypatch.setattr(measurement.platform, "processor", lambda: processor)
    monkeypatch.setattr(measurement.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(measurement.os, "cpu_count", lambda: 7)
    monkeypatch.setattr(measurement, "load_average", lambda: 0.254)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Fake GPU 80GB")


def test_machine_line_names_cpu_cores_threads_torch_and_load(monkeypatch) -> None:
    import torch

    _machine(monkeypatch, "Xeon", cuda=False)
    assert machine_description("cpu", 3) == (
        f"Xeon, 7 CPU cores, 3 torch threads; torch {torch.__version__}; "
        "load average 0.25 at the end"  # 0.254 to two decimals
    )


def test_machine_line_falls_back_to_the_architecture(monkeypatch) -> None:
    _machine(monkeypatch, "", cuda=False)
    assert machine_description("cpu", 1).startswith("x86_64, 7 CPU cores, 1 torch threads;")


@pytest.mark.parametrize(
    ("device", "cuda", "gpu"),
    [("cuda", True, True), ("cuda:0", True, True), ("cpu", True, False), ("cuda", False, False)],
)
def test_machine_line_names_the_gpu_only_for_a_cuda_run(monkeypatch, device, cuda, gpu) -> None:
    _machine(monkeypatch, "Xeon", cuda=cuda)
    line = machine_description(device, 2)
    assert ("2 torch threads, GPU Fake GPU 80GB; torch" in line) == gpu
    assert ("GPU" in line) == gpu


# ------------------------------------------------------------------------ the worker
def test_worker_command_is_python_m_module_with_json_settings() -> None:
    settings = {"preset": "mnist", "iters": 2, "tiny": True}
    cmd = worker_command("benchmarks.speed", settings)
    assert cmd[:4] == [sys.executable, "-m", "benchmarks.speed", "--worker"]
    assert len(cmd) == 5 and json.loads(cmd[4]) == settings


def test_worker_env_copies_the_environment_and_leaves_it_alone(monkeypatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "16")
    monkeypatch.setenv("PIAD_TEST_MARKER", "kept")
    env = worker_env(2)
    assert env["OMP_NUM_THREADS"] == "2" and env["MKL_NUM_THREADS"] == "2"
    assert env["PIAD_TEST_MARKER"] == "kept"
    assert os.environ["OMP_NUM_THREADS"] == "16"  # a copy, not this process's environment


@pytest.mark.parametrize(
    ("proc", "message"),
    [
        (done(1, "", ""), "benchmark worker for cifar10 failed: no output"),
        (done(1, "", "   \n"), "benchmark worker for cifar10 failed: no output"),
        (done(-9, '{"a": 1}\n', "boom\nKilled\n"), "benchmark worker for cifar10 failed: Killed"),
        (done(0, "a\nb\n", ""), "benchmark worker for cifar10 printed no figures (last line: 'b')"),
        (done(0, "", ""), "benchmark worker for cifar10 printed no figures (last line: 'none')"),
    ],
)
def test_a_bad_worker_is_one_line_naming_it(proc, message: str) -> None:
    with pytest.raises(PIADError) as info:
        parse_worker(proc, "cifar10")
    assert str(info.value) == message


def test_a_long_last_line_is_quoted_cut_to_200_characters() -> None:
    with pytest.raises(PIADError) as info:
        parse_worker(done(0, "x" * 500), "mnist")
    assert f"(last line: {'x' * 200!r})" in str(info.value)


def test_figures_are_read_after_trailing_blank_lines() -> None:
    proc = done(0, 'log line\n{"s_per_iter": 0.5, "peak_rss_gb": 1.25}\n\n\n')
    assert parse_worker(proc, "mnist") == {"s_per_iter": 0.5, "peak_rss_gb": 1.25}


@pytest.fixture
def worker_module(tmp_path, monkeypatch) -> str:
    """A module in a fresh folder that echoes its settings and thread count as figures."""
    (tmp_path / "piad_echo_worker.py").write_text(
        textwrap.dedent("""\
        import json, os, sys
        settings = json.loads(sys.argv[sys.argv.index("--worker") + 1])
        if settings.get("fail"):
            raise SystemExit("worker says no")
        print("some log")
        print(json.dumps({"settings": settings, "omp": os.environ["OMP_NUM_THREADS"],
                          "mkl": os.environ["MKL_NUM_THREADS"]}))
        """)
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return "piad_echo_worker"


def test_run_worker_runs_the_module_with_its_settings_and_threads(worker_module: str) -> None:
    figures = run_worker(worker_module, {"preset": "mnist", "k": 4}, 3, "mnist")
    assert figures == {"settings": {"preset": "mnist", "k": 4}, "omp": "3", "mkl": "3"}


def test_run_worker_failure_names_what_and_the_last_error_line(worker_module: str) -> None:
    with pytest.raises(PIADError, match=r"^benchmark worker for fused K=2 failed: worker says no$"):
        run_worker(worker_module, {"fail": True}, 1, "fused K=2")


@pytest.mark.parametrize(
    ("text", "ints"),
    [("1,2,4,8", [1, 2, 4, 8]), ("", []), ("3,", [3]), ("1,,2", [1, 2]), (" 2,4 ", [2, 4])],
)
def test_int_list(text: str, ints: list[int]) -> None:
    assert int_list(text, "--fuse") == ints


@pytest.mark.parametrize("text", ["a", "1,x", "1.5", "2;4"])
def test_int_list_refuses_what_is_not_an_integer_list(text: str) -> None:
    with pytest.raises(PIADError) as info:
        int_list(text, "--fuse")
    assert str(info.value) == f"--fuse: expected comma-separated integers, got {text!r}"

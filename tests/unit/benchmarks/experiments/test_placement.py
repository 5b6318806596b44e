"""benchmarks/experiments/placement.py: ``--devices`` parsed and checked against the visible
devices, the device slots (the one check of the backend name and ``--jobs-per-device``), and
CPU threads per job fixed by cores and slots alone."""

from __future__ import annotations

import pytest

from benchmarks.experiments import placement
from benchmarks.experiments.placement import (
    BACKENDS,
    default_threads,
    device_slots,
    parse_devices,
    visible_devices,
)
from piad.errors import PIADError


@pytest.fixture
def two_gpus(monkeypatch):
    """A machine that shows cuda:0 and cuda:1."""
    monkeypatch.setattr(placement, "visible_devices", lambda: ["cuda:0", "cuda:1"])


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(placement, "visible_devices", lambda: ["cpu"])


def test_visible_devices_are_cuda_names_or_the_cpu():
    import torch

    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    assert visible_devices() == ([f"cuda:{i}" for i in range(n)] or ["cpu"])


def test_cpu_tokens_are_normalised_and_deduplicated(no_gpu):
    assert parse_devices("cpu") == ["cpu"]
    assert parse_devices(" CPU , cpu ") == ["cpu"]
    assert parse_devices(["cpu"]) == ["cpu"]
    assert parse_devices(None) == ["cpu"] and parse_devices("") == ["cpu"]  # nothing visible


def test_cuda_means_every_visible_gpu_in_order(two_gpus):
    assert parse_devices(None) == ["cuda:0", "cuda:1"]
    assert parse_devices("cuda") == ["cuda:0", "cuda:1"]
    assert parse_devices("cuda:1,cuda:0,cuda:1") == ["cuda:1", "cuda:0"]
    assert parse_devices("cuda:1,cpu") == ["cuda:1", "cpu"]


def test_a_device_that_is_not_visible_names_the_visible_ones(two_gpus, monkeypatch):
    with pytest.raises(PIADError) as err:
        parse_devices("cuda:7")
    assert str(err.value) == (
        "device 'cuda:7' is not available (visible CUDA devices: cuda:0, cuda:1); "
        "use --devices cpu or one of the visible ones"
    )
    monkeypatch.setattr(placement, "visible_devices", lambda: ["cpu"])
    with pytest.raises(PIADError, match=r"\(visible CUDA devices: none\)"):
        parse_devices("cuda")


def test_an_unknown_token_says_what_is_accepted(no_gpu):
    with pytest.raises(PIADError, match="unknown device 'gpu0'; use cpu, cuda"):
        parse_devices("gpu0")


def test_ray_devices_are_kinds_not_names():
    assert parse_devices("cuda", backend="ray") == ["cuda"]
    assert parse_devices("cuda:0,cuda:1", backend="ray") == ["cuda"]
    assert parse_devices("gpu", backend="ray") == ["cuda"]
    assert parse_devices("cpu", backend="ray") == ["cpu"]
    assert parse_devices(None, backend="ray") == []  # decided from the cluster
    for bad in ("cpu,cuda:0", "tpu"):
        with pytest.raises(PIADError, match="with --backend ray give 'cpu' or 'cuda'"):
            parse_devices(bad, backend="ray")


@pytest.mark.parametrize(
    ("devices", "per_device", "slots"),
    [
        (["cuda:0", "cuda:1"], 2, ["cuda:0", "cuda:0", "cuda:1", "cuda:1"]),
        (["cuda:1"], 3, ["cuda:1"] * 3),
        (["cpu"], 1, ["cpu"]),
        ([], 4, ["cpu"]),  # no device given: one CPU slot
    ],
)
def test_device_slots(devices, per_device, slots):
    for backend in BACKENDS:
        assert device_slots(backend, devices, per_device) == slots


def test_device_slots_check_the_backend_and_the_count():
    with pytest.raises(PIADError, match="unknown backend 'slurm'; known: local, ray, inline"):
        device_slots("slurm", ["cpu"], 1)
    with pytest.raises(PIADError, match="--jobs-per-device must be >= 1, got 0"):
        device_slots("local", ["cpu"], 0)


@pytest.mark.parametrize(
    ("cores", "slots", "threads"),
    [(2, 1, 2), (2, 2, 1), (16, 3, 5), (16, 0, 16), (1, 4, 1)],  # 16 // 3 = 5; never below 1
)
def test_default_threads_share_the_cores_among_the_slots(monkeypatch, cores, slots, threads):
    monkeypatch.setattr(placement, "_cpu_count", lambda: cores)
    assert default_threads(slots) == threads

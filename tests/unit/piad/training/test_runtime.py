"""The accelerator calls of piad.training.runtime and their CPU stand-ins."""

from __future__ import annotations

import torch

from piad.training import runtime


def test_cpu_stand_ins() -> None:
    assert runtime.synchronize("cpu") is None
    runtime.reset_peak_memory("cpu")  # nothing to reset, no error
    assert runtime.peak_memory_bytes("cpu") is None  # the CPU's peak is the process's RSS
    assert runtime.allocated_bytes("cpu") == 0
    free, total = runtime.free_memory_bytes("cpu"), runtime.total_memory_bytes("cpu")
    assert 0 < free <= total
    assert runtime.device_description("cpu") == "cpu"
    if not torch.cuda.is_available():
        assert runtime.accelerator_rng_state() is None
        runtime.set_accelerator_rng_state(None)  # a CPU checkpoint restores nothing here


def test_tf32_sets_and_restores_both_flags() -> None:
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    with runtime.tf32(True):
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        with runtime.tf32(False):
            assert not torch.backends.cuda.matmul.allow_tf32
            assert not torch.backends.cudnn.allow_tf32
        assert torch.backends.cudnn.allow_tf32
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before

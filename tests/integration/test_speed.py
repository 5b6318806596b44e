"""The speed benchmark runs on a tiny config and writes its tables (no timing assertions)."""

from __future__ import annotations

import csv

import pytest

from benchmarks.perf import speed
from piad.errors import PIADError

TRAIN_QUANTITIES = {"s_per_iter", "s_per_iter_best", "critic_s", "enc_gen_s", "iter_per_s_fp32"}
ALL_QUANTITIES = TRAIN_QUANTITIES | {
    "data_s",
    "policy_extra_s",
    "vgg_forward_s",
    "vgg_backward_s",
    "peak_rss_train_gb",
    "score_img_per_s_b32",
    "score_img_per_s_large",
    "peak_rss_gb",
    "feature_cache_build_s",  # the tiny run caches its 64 images' features ("auto")
    "feature_cache_gb",
}


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_cli_tiny_writes_csv_and_markdown(tmp_path, capsys):
    out = tmp_path / "bench"
    argv = [
        "--tiny",
        "--in-process",
        "--presets",
        "mnist",
        "--iters",
        "1",
        "--warmup",
        "0",
        "--threads",
        "1",
    ]
    assert speed.main([*argv, "--out", str(out)]) == 0
    rows = _read(out / "speed.csv")
    assert tuple(rows[0]) == speed.CSV_COLUMNS
    mnist = {r["quantity"]: r for r in rows if r["preset"] == "mnist"}
    assert set(mnist) == ALL_QUANTITIES
    for r in mnist.values():
        assert r["device"] == "cpu" and r["threads"] == "1" and r["note"] == "tiny config"
    assert float(mnist["s_per_iter"]["value"]) >= float(mnist["s_per_iter_best"]["value"]) > 0
    assert float(mnist["peak_rss_gb"]["value"]) >= float(mnist["peak_rss_train_gb"]["value"]) > 0
    assert mnist["s_per_iter"]["reference"] == "1.02"
    # MNIST alone cannot project Table 2 (it needs the CIFAR-10 speed too)
    assert not any(r["quantity"].startswith("projected") for r in rows)
    md = (out / "speed.md").read_text()
    assert md.startswith("# PIAD speed benchmark") and "| s_per_iter" in md
    assert "CPU cores" in md
    assert "wrote" in capsys.readouterr().out


def test_fresh_subprocess_reports_training_figures():
    settings = speed.BenchSettings(preset="cifar10", iters=1, warmup=0, tiny=True,
                                   train_only=True, threads=1, **speed.TINY_SIZES)  # fmt: skip
    figures = speed.run_fresh(settings)
    assert set(figures) == TRAIN_QUANTITIES | {"feature_cache_build_s", "feature_cache_gb"}
    assert figures["iter_per_s_fp32"] == pytest.approx(1 / figures["s_per_iter"])


def test_rows_speedup():
    base = speed.BenchSettings()
    # time: reference / measured; rate: measured / reference; unknown quantity: no reference
    assert speed._row("mnist", base, "s_per_iter", 0.51)["speedup"] == 2.0
    assert speed._row("cifar10", base, "score_img_per_s_b32", 140.0)["speedup"] == 2.0
    assert speed._row("mnist", base, "peak_rss_train_gb", 0.705)["speedup"] == 2.0
    assert speed._row("mnist", base, "data_s", 0.1)["reference"] is None


def test_projection_hours(monkeypatch):
    monkeypatch.setattr(
        speed,
        "measure",
        lambda s: {"s_per_iter": 1.0, "iter_per_s_fp32": {"mnist": 1.0, "cifar10": 0.5}[s.preset]},
    )
    rows = speed.benchmark(["mnist", "cifar10"], speed.BenchSettings(), fresh=False,
                           log=lambda _: None)  # fmt: skip
    (proj,) = [r for r in rows if r["quantity"] == "projected_table2_hours"]
    # 30 x 50k its at 1 it/s + 30 x 100k its at 0.5 it/s = 1.5M + 6M s
    assert proj["value"] == pytest.approx(7_500_000 / 3600, abs=1e-3)


def test_bad_arguments(capsys):
    assert speed.main(["--iters", "0"]) == 2
    assert capsys.readouterr().err == "error: --iters and --threads must be >= 1\n"


# ------------------------------------------------------------------ trainer speed switches
def _tiny_trainer(**kwargs):
    import torch

    from piad.config import PIADConfig
    from piad.training import Trainer

    cfg = PIADConfig.preset(
        "mnist", device="cpu", batch_size=4, n_weight=2, **speed._tiny_config("mnist")
    )
    images = torch.randint(0, 256, (16, 1, 32, 32), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(1))  # fmt: skip
    return Trainer(cfg, images, features=speed._tiny_features(), progress=False, **kwargs)


def test_channels_last_on_cpu_changes_layout_not_results(monkeypatch):
    import torch

    from piad.training import runtime as trainer_module

    fast = _tiny_trainer()
    conv = fast.networks.G.tail.conv1.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    monkeypatch.setattr(trainer_module, "CPU_CHANNELS_LAST", False)
    plain = _tiny_trainer()
    assert plain.networks.G.tail.conv1.weight.is_contiguous()
    fast.run(3)  # includes the weight-policy update at iteration 2
    plain.run(3)
    for p, q in zip(fast.networks.parameters(), plain.networks.parameters()):
        assert torch.allclose(p, q, rtol=1e-4, atol=1e-6)
    assert fast.gammas == pytest.approx(plain.gammas, rel=1e-3)


def test_bf16_autocast_trains_and_differs_from_fp32():
    import torch

    fp32, bf16 = _tiny_trainer(), _tiny_trainer(autocast="bf16")
    fp32.run(2)
    bf16.run(2)
    bf16.check_finite()
    assert bf16._sums.dtype == torch.float32
    pairs = list(zip(fp32.networks.parameters(), bf16.networks.parameters()))
    assert all(torch.isfinite(q).all() for _, q in pairs)
    assert any(not torch.equal(p, q) for p, q in pairs)  # other numerics, as documented


def test_unknown_autocast_mode_is_refused():
    with pytest.raises(PIADError, match="autocast"):
        _tiny_trainer(autocast="fp16")


def test_packed_jobs_sum_their_rates():
    settings = speed.BenchSettings(preset="mnist", iters=1, warmup=0, tiny=True,
                                   train_only=True, threads=1, **speed.TINY_SIZES)  # fmt: skip
    assert speed.run_packed(settings, 2) > 0


def test_bf16_mode_reports_bf16_rate_and_score_difference(tmp_path):
    argv = ["--tiny", "--in-process", "--presets", "mnist", "--iters", "1", "--warmup", "0"]
    argv += ["--threads", "1", "--autocast", "bf16", "--out", str(tmp_path)]
    assert speed.main(argv) == 0
    rows = {r["quantity"]: r for r in _read(tmp_path / "speed.csv")}
    assert "iter_per_s_bf16" in rows and "iter_per_s_fp32" not in rows
    assert rows["s_per_iter"]["note"].endswith("bf16 autocast")
    assert 0 <= float(rows["bf16_score_rel_diff"]["value"]) < 1


def test_feature_cache_off_drops_its_rows_and_notes_it(tmp_path):
    argv = ["--tiny", "--in-process", "--presets", "mnist", "--iters", "1", "--warmup", "0"]
    assert (
        speed.main([*argv, "--threads", "1", "--feature-cache", "off", "--out", str(tmp_path)]) == 0
    )
    rows = _read(tmp_path / "speed.csv")
    assert {r["quantity"] for r in rows} == ALL_QUANTITIES - {
        "feature_cache_build_s",
        "feature_cache_gb",
    }
    assert {r["note"] for r in rows} == {"tiny config feature cache off"}

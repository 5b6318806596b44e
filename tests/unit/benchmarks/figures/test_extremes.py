"""benchmarks.figures.extremes: the least and most anomalous images picked from known scores,
the scores of each distance against a stand-in model whose reconstruction is known, the
panel titles of Figure 5 (AUC, anomalies shown) and the one-line errors."""

from __future__ import annotations

import numpy as np
import piad_tiny
import pytest
import torch
from torch import nn

from benchmarks.figures import extremes
from benchmarks.figures.extremes import Ranking, plot_extremes, rank_by_distances
from piad.errors import PIADError
from piad.perceptual import PerceptualFeatures
from piad.perceptual.features import IMAGENET_STD

VALUES = (120, 130, 160, 100, 20, 250)  # one grey level per 8x8 RGB image
LABELS = np.array([0, 0, 0, 1, 1, 1])


def _images() -> np.ndarray:
    return np.stack([np.full((8, 8, 3), v, np.uint8) for v in VALUES])


class GreyModel:
    """Reconstructs every image as flat mid-grey (0 in [-1, 1]): d(x, G(E(x))) = d(x, 0)."""

    config = piad_tiny.tiny_config(in_channels=3)

    def __init__(self) -> None:
        self.batches: list[int] = []

    def reconstruct(self, images, batch_size=128):
        self.batches.append(batch_size)
        return torch.zeros(len(images), 3, 8, 8)

    def features(self):
        raise AssertionError("features are given: the model's own are not loaded")


def _identity_features() -> PerceptualFeatures:
    """f(x) = x, mu = 0, sigma = 1."""
    return PerceptualFeatures(
        nn.Identity(), lambda x: x, torch.zeros(1, 3, 1, 1), torch.ones(1, 3, 1, 1), {}
    )


def test_least_and_most_are_picked_from_the_scores_ties_in_order():
    r = Ranking("mse", np.array([0.2, 0.1, 0.2, 0.3, 0.0]), 0.5)
    assert r.least(3).tolist() == [4, 1, 0]
    assert r.most(3).tolist() == [3, 0, 2]  # the tie 0 / 2 keeps the test-set order
    assert r.least(10).tolist() == [4, 1, 0, 2, 3]


def test_rank_by_distances_scores_each_image_by_hand():
    x = np.array(VALUES) / 127.5 - 1  # every pixel of image i
    model = GreyModel()
    rankings = rank_by_distances(
        model, _images(), LABELS, ("mse", "perc", "rel_perc_l1"), _identity_features(), 4
    )
    assert list(rankings) == ["mse", "perc", "rel_perc_l1"] and model.batches == [4]
    # MSE compares ImageNet-normalised images: ((x - 0) / 2) / std per channel
    per_channel = 1 / (2 * np.array(IMAGENET_STD)) ** 2
    assert rankings["mse"].scores == pytest.approx(x**2 * per_channel.mean(), rel=1e-5)
    assert rankings["perc"].scores == pytest.approx(x**2, rel=1e-5)  # f = identity
    assert rankings["rel_perc_l1"].scores == pytest.approx(np.ones(6), rel=1e-5)  # |x| / |x|
    # anomaly 100 (0.0465) beats two normals of three, 20 and 250 beat all three
    assert rankings["mse"].auc == pytest.approx(8 / 9)
    assert rankings["rel_perc_l1"].auc == pytest.approx(0.5)
    assert rankings["mse"].least(3).tolist() == [1, 0, 3]
    assert rankings["mse"].most(3).tolist() == [5, 4, 2]


def test_rank_by_distances_errors_are_one_line():
    model, images = GreyModel(), _images()
    with pytest.raises(PIADError, match=r"both normal \(0\) and anomalous \(1\)"):
        rank_by_distances(model, images, np.zeros(6), ("mse",))
    with pytest.raises(PIADError, match="give at least one distance; known: mse, perc"):
        rank_by_distances(model, images, LABELS, ())
    with pytest.raises(PIADError, match="6 images but 5 labels"):
        rank_by_distances(model, images, LABELS[1:], ("mse",))
    with pytest.raises(PIADError, match="unknown reconstruction distance 'l2'"):
        rank_by_distances(model, images, LABELS, ("l2",))
    assert model.batches == []  # nothing was reconstructed


def test_plot_extremes_titles_name_the_auc_and_the_anomalies_shown(tmp_path, monkeypatch):
    titles: list[list[str]] = []
    save = extremes.save_figure

    def spy(fig, out, name, formats):
        titles.append([ax.get_title() for ax in fig.axes])
        return save(fig, out, name, formats)

    monkeypatch.setattr(extremes, "save_figure", spy)
    scores = np.array(VALUES, dtype=float)
    rankings = {"mse": Ranking("mse", scores, 8 / 9), "l1": Ranking("l1", -scores, 0.25)}
    paths = plot_extremes(_images(), rankings, tmp_path, k=2, labels=LABELS, formats=("png",))
    assert [p.name for p in paths] == ["extremes.png"]
    # axes are row by row: least of each distance, then most of each
    assert titles[0] == [
        "(a) MSE: 0.889\nleast anomalous (2/2 anomalies)",  # 20 and 100
        "(b) l1: 0.250\nleast anomalous (1/2 anomalies)",  # 250 and 160
        "most anomalous (1/2 anomalies)",
        "most anomalous (2/2 anomalies)",
    ]
    as_tensor = torch.from_numpy(_images()).permute(0, 3, 1, 2).float() / 127.5 - 1
    plot_extremes(as_tensor, rankings, tmp_path, k=1, name="t", formats=("png",))
    assert titles[1][0] == "(a) MSE: 0.889\nleast anomalous"  # no labels: no count
    with pytest.raises(PIADError, match="k must be >= 1, got 0"):
        plot_extremes(_images(), rankings, tmp_path, k=0)

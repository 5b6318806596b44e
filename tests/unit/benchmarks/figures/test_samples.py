"""benchmarks.figures.samples: the seeded picks of normal and anomalous test images (group by
group in the paper's attribute order), and Figure 4's panels drawn from a stand-in model."""

from __future__ import annotations

import numpy as np
import piad_tiny
import pytest
import torch

from benchmarks.figures import samples
from benchmarks.figures.samples import pick_examples, plot_samples
from benchmarks.figures.testsets import EvalImages
from piad.errors import PIADError


def _data(n_normal: int = 6, n_anomal: int = 6, groups=None) -> EvalImages:
    labels = np.array([0] * n_normal + [1] * n_anomal)
    images = np.zeros((len(labels), 8, 8, 3), np.uint8)
    return EvalImages(images, labels, groups or {}, "toy")


def test_picks_are_seeded_distinct_and_of_the_right_label():
    data = _data(10, 7)
    normal, anomal = pick_examples(data, n=4, seed=3)
    assert normal.dtype == anomal.dtype == np.int64
    assert len(set(normal)) == 4 and (data.labels[normal] == 0).all()
    assert len(set(anomal)) == 4 and (data.labels[anomal] == 1).all()
    again = pick_examples(data, n=4, seed=3)
    assert np.array_equal(again[0], normal) and np.array_equal(again[1], anomal)
    other = pick_examples(data, n=4, seed=4)
    assert not (np.array_equal(other[0], normal) and np.array_equal(other[1], anomal))
    few_normal, all_anomal = pick_examples(_data(2, 3), n=5)
    assert sorted(few_normal) == [0, 1] and sorted(all_anomal) == [2, 3, 4]  # fewer than n


def test_groups_come_in_the_papers_attribute_order_n_over_groups_each():
    groups = {
        "Zzz": np.array([6, 7]),
        "Eyeglasses": np.array([8, 9]),
        "Bald": np.array([10, 11]),
        "Empty": np.array([], dtype=np.int64),
    }
    _, anomal = pick_examples(_data(6, 6, groups), n=5, seed=0)
    # four groups, 5 // 4 = 1 each; Bald before Eyeglasses (paper), then the rest sorted
    assert [int(a) // 2 for a in anomal] == [5, 4, 3]  # Bald, Eyeglasses, Zzz; Empty skipped
    _, two_each = pick_examples(_data(6, 6, groups), n=8, seed=0)
    assert [int(a) // 2 for a in two_each] == [5, 5, 4, 4, 3, 3]
    _, none = pick_examples(_data(6, 0, {"Bald": np.array([], dtype=np.int64)}), n=2)
    assert none.dtype == np.int64 and len(none) == 0


def test_pick_examples_errors_are_one_line():
    with pytest.raises(PIADError, match="n must be >= 1, got 0"):
        pick_examples(_data(), n=0)
    with pytest.raises(PIADError, match="the test set toy has no normal image"):
        pick_examples(_data(0, 4), n=2)


class StandInModel:
    """Samples are white, reconstructions black: every panel's layout can be read off."""

    config = piad_tiny.tiny_config(in_channels=3)

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def sample(self, n, seed=0):
        self.calls.append(("sample", n, seed))
        return torch.ones(n, 3, 8, 8)

    def reconstruct(self, images):
        self.calls.append(("reconstruct", len(images)))
        return -torch.ones(len(images), 3, 8, 8)


def test_figure_4_panels(tmp_path, monkeypatch):
    drawn = []
    save = samples.save_figure

    def spy(fig, out, name, formats):
        drawn.append([(ax.get_title(), ax.images[0].get_array().shape) for ax in fig.axes])
        return save(fig, out, name, formats)

    monkeypatch.setattr(samples, "save_figure", spy)
    model = StandInModel()
    normal = np.full((3, 8, 8, 3), 200, np.uint8)
    anomalies = np.full((2, 8, 8, 3), 10, np.uint8)
    paths = plot_samples(model, normal, anomalies, tmp_path, n=4, seed=7, formats=("png",))
    assert [p.name for p in paths] == ["samples.png"]
    assert model.calls == [("sample", 8, 7), ("reconstruct", 3), ("reconstruct", 2)]
    # 8 samples, 4 a row; each image set over its reconstructions; 8 px + 2 px padding
    assert drawn[0] == [
        ("(a) Random sample G(z)", (22, 42, 3)),
        ("(b) Reconst. of normal: x (top), G(E(x)) (bottom)", (22, 32, 3)),
        ("(c) Reconst. of anomaly: x (top), G(E(x)) (bottom)", (22, 22, 3)),
    ]
    plot_samples(model, normal, None, tmp_path, n=4, name="s2", formats=("png",))
    assert [title[:3] for title, _ in drawn[1]] == ["(a)", "(b)"]  # no anomaly: no panel (c)

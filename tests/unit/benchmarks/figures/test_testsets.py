"""benchmarks.figures.testsets: where a trained model is loaded from (and the one-line errors
when there is none), the test set of a job or of a split, seeded subsets that keep the
anomaly groups, and the lazy view that reads only the images indexed."""

from __future__ import annotations

import numpy as np
import piad_tiny
import pytest
import torch

from benchmarks.data.splits import Split
from benchmarks.experiments.jobs import Job, JobFolder
from benchmarks.experiments.results import Result
from benchmarks.figures import testsets
from benchmarks.figures.testsets import (
    EvalImages,
    SplitImages,
    job_eval_images,
    load_model,
    split_eval_images,
)
from piad.errors import MissingInputError, PIADError


class Dataset:
    """Image i is filled with the value i; records what was read."""

    fingerprint = "fp"

    def __init__(self) -> None:
        self.taken: list[list[int]] = []

    def take(self, index):
        self.taken.append([int(i) for i in index])
        return np.stack([np.full((2, 2, 1), i, np.uint8) for i in index])


SPLIT = Split("toy", "toy_groups", "h", 0, "fp", [0, 1], [7, 3, 9, 4], [0, 1, 1, 0], {"v": [1, 2]})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny PIAD after two iterations (a quarter of a second), saved as a job's work/."""
    from piad.model import PIAD

    config = piad_tiny.tiny_config(
        in_channels=3, dz_hidden=(8,), batch_size=4, iterations=2, checkpoint_every=1
    )
    images = np.random.default_rng(0).integers(0, 256, (8, 8, 8, 3)).astype(np.uint8)
    job = tmp_path_factory.mktemp("job")
    model = PIAD(config).fit(images, workdir=job / JobFolder.WORK, progress=False)
    return model, job, images[:3]


def test_load_model_from_a_file_and_from_a_job_folder(trained, tmp_path):
    model, job, x = trained
    expected = model.reconstruct(x)
    model.save(tmp_path / "m.pt")
    for source in (tmp_path / "m.pt", job):
        loaded = load_model(source, device="cpu")
        assert loaded.iterations_run == 2 and loaded.config == model.config
        assert torch.allclose(loaded.reconstruct(x), expected, atol=1e-6), source


def test_load_model_says_what_to_give_instead(tmp_path):
    with pytest.raises(MissingInputError, match=r"no model file at .*absent\.pt; give a PIAD"):
        load_model(tmp_path / "absent.pt")
    folder = tmp_path / "job"
    folder.mkdir()
    work = folder / "work"
    with pytest.raises(MissingInputError) as err:
        load_model(folder)
    assert str(err.value) == (
        f"no checkpoint.pt in {folder} or {work}; give a model file (PIAD.save) or the folder "
        "of a PIAD job that trained"
    )


def test_eval_images_checks_lengths_and_subsets_keep_the_groups():
    with pytest.raises(PIADError, match="3 images but 2 labels"):
        EvalImages(np.zeros((3, 2, 2, 1)), [0, 1])
    images = np.arange(10)[:, None, None, None].astype(np.uint8)
    labels = np.array([0] * 5 + [1] * 5)
    data = EvalImages(images, labels, {"a": np.array([5, 6]), "b": np.array([7, 8, 9])}, "toy")
    assert data.labels.dtype == np.int64
    assert data.subset(None) is data and data.subset(10) is data and data.subset(99) is data
    sub = data.subset(6, seed=2)
    kept = sub.images[:, 0, 0, 0]
    assert len(sub.labels) == 6 and list(kept) == sorted(kept)  # in test-set order
    assert np.array_equal(sub.labels, labels[kept]) and sub.name == "toy"
    for group, original in data.groups.items():  # the same images, at their new positions
        assert sorted(kept[sub.groups[group]]) == sorted(set(kept) & set(original))
    again = data.subset(6, seed=2)
    assert np.array_equal(again.images, sub.images)
    with pytest.raises(PIADError, match="max_images must be >= 2, got 1"):
        data.subset(1)


def test_split_images_read_only_the_positions_asked_for():
    dataset = Dataset()
    view = SplitImages(dataset, np.array([7, 3, 9, 4]))
    assert len(view) == 4
    assert view[np.array([3, 0])][:, 0, 0, 0].tolist() == [4, 7]
    assert dataset.taken == [[4, 7]]
    assert np.asarray(view, dtype=np.float32).dtype == np.float32
    assert dataset.taken[-1] == [7, 3, 9, 4]


def test_job_eval_images_apply_the_jobs_split_to_its_data(tmp_path, monkeypatch):
    job = Job("s", "toy", "toy_groups", "h", "kde", "", 0)
    folder = JobFolder.of(job, tmp_path)
    SPLIT.save(folder.split)
    Result(job, "ok", auc=0.5).save(folder.path)
    dataset = Dataset()
    asked = []
    monkeypatch.setattr(testsets, "load_dataset", lambda name, root: asked.append(name) or dataset)
    data = job_eval_images(folder.path, tmp_path / "data")
    assert asked == ["toy"] and data.name == "toy/kde/h/seed0"
    assert data.labels.tolist() == [0, 1, 1, 0] and data.groups["v"].tolist() == [1, 2]
    assert dataset.taken == []  # nothing is read before it is indexed
    assert data.images[np.array([1])][0, 0, 0, 0] == 3
    dataset.fingerprint = "other"
    with pytest.raises(PIADError, match="differ from the data of job toy/kde/h/seed0"):
        job_eval_images(folder.path, tmp_path / "data")


def test_split_eval_images_default_to_the_datasets_protocol(tmp_path, monkeypatch):
    asked = []

    def load_split(dataset, protocol, normal, seed, root):
        asked.append((dataset, protocol, normal, seed))
        return Dataset(), SPLIT

    monkeypatch.setattr(testsets, "load_split", load_split)
    data = split_eval_images("mnist", "3", tmp_path, seed=2)
    assert asked == [("mnist", "one_vs_all", "3", 2)]
    assert data.name == "mnist/one_vs_all/3/seed2" and len(data.images) == 4
    assert split_eval_images("mnist", "3", tmp_path, "other").name == "mnist/other/3/seed0"

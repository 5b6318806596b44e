"""piad.cli.estimators: the methods registered as entry points, building them, the record of
how training images were read, and model files written and read back."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import numpy as np
import pytest
import torch

import piad.cli.estimators as estimators
from baselines import KDE
from piad.cli.estimators import (
    ENTRY_POINT_GROUP,
    ESTIMATOR_FORMAT,
    TrainingInput,
    build_estimator,
    estimator_class,
    load_model,
    method_names,
    save_estimator,
    versions,
)
from piad.errors import PIADError
from piad.image_files import ImageRecipe, LoadedImages

REPO = Path(__file__).resolve().parents[4]


def test_methods_come_from_entry_points():
    names = {ep.name: ep.value for ep in entry_points(group="piad.estimators")}
    assert names.get("kde") == "baselines:KDE" and names.get("ocsvm") == "baselines:OCSVM", (
        "reinstall the suite (pip install -e .) so that its entry points are registered"
    )
    assert names.get("deep-svdd") == "baselines.deep_svdd:DeepSVDD"
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("piad") == "piad.cli:main"
    source = "\n".join(p.read_text() for p in (REPO / "piad").rglob("*.py"))
    assert "import baselines" not in source and "from baselines" not in source
    assert "import benchmarks" not in source and "from benchmarks" not in source


def _loaded(sizes: list[tuple[int, int]], channels: list[int]) -> LoadedImages:
    n = len(sizes)
    images = np.zeros((n, 8, 8, max(channels)), np.uint8)
    return LoadedImages(images, [Path(f"{i}.png") for i in range(n)], sizes, channels)


def test_method_names_put_piad_first_then_the_registered_ones_sorted(monkeypatch):
    ep = EntryPoint("x", "baselines:KDE", ENTRY_POINT_GROUP)
    monkeypatch.setattr(estimators, "registered", lambda: {"zeta": ep, "alpha": ep, "piad": ep})
    assert method_names() == ["piad", "alpha", "zeta"]


def test_unknown_and_unloadable_methods_are_one_line(monkeypatch):
    broken = EntryPoint("broken", "baselines:NoSuchEstimator", ENTRY_POINT_GROUP)
    kde = EntryPoint("kde", "baselines:KDE", ENTRY_POINT_GROUP)
    monkeypatch.setattr(estimators, "registered", lambda: {"broken": broken, "kde": kde})
    assert estimator_class("kde") is KDE
    with pytest.raises(PIADError, match=r"^unknown method 'svm'; available: piad, broken, kde \("):
        estimator_class("svm")
    with pytest.raises(PIADError) as info:
        estimator_class("broken")
    message = str(info.value)
    assert message.startswith("method 'broken' is registered (baselines:NoSuchEstimator) but")
    assert "AttributeError" in message and "\n" not in message


def test_build_estimator_passes_only_the_keywords_a_constructor_takes():
    kde = build_estimator("kde", seed=3, device="cpu", channels=1)  # KDE takes a seed only
    assert isinstance(kde, KDE) and kde.seed == 3
    svdd = build_estimator("deep-svdd", seed=2, device="auto", channels=3)
    auto = "cuda" if torch.cuda.is_available() else "cpu"
    assert (svdd.family, svdd.seed, svdd.device) == ("cifar10", 2, auto)
    assert build_estimator("deep-svdd", seed=0, device="cpu", channels=1).family == "mnist"


def test_training_input_records_sizes_and_channels_and_round_trips():
    sizes = [(30, 30), (28, 28), (28, 28)]
    info = TrainingInput.from_images(_loaded(sizes, [1, 3, 1]), ImageRecipe(16, None, "celeba"))
    assert info.recipe == ImageRecipe(16, 3, "celeba")  # the channels the images were read with
    assert info.source_channels == [1, 3] and info.source_sizes == [(28, 28), (30, 30)]
    assert info.n_source_sizes == 2 and info.one_size() is None  # several sizes: any accepted
    assert TrainingInput.from_dict(json.loads(json.dumps(info.to_dict()))) == info
    one = TrainingInput.from_images(_loaded([(28, 28)] * 2, [1, 1]), ImageRecipe(8))
    assert one.one_size() == (28, 28)
    many = TrainingInput.from_images(_loaded([(s, s) for s in range(10, 22)], [1] * 12),
                                     ImageRecipe(8))  # fmt: skip
    assert len(many.source_sizes) == 10 and many.n_source_sizes == 12
    assert TrainingInput(ImageRecipe(8), [1], None).one_size() is None


def test_an_estimator_file_is_read_back_and_scores_as_the_estimator(tmp_path):
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (30, 4, 4, 1), dtype=np.uint8)
    test = rng.integers(0, 256, (5, 4, 4, 1), dtype=np.uint8)
    fitted = KDE(cv=2, bandwidths=[1.0]).fit(train)
    info = TrainingInput(ImageRecipe(4, 1), [1], [(4, 4)], 1)
    path = save_estimator(tmp_path / "kde.pt", fitted, "kde", {"input": info.to_dict()})
    blob = torch.load(path, weights_only=True)  # readable without running a pickle
    assert blob["format"] == ESTIMATOR_FORMAT and isinstance(blob["estimator"], bytes)
    model = load_model(path)
    assert (model.method, model.input, model.path) == ("kde", info, path)
    scores = model.score(test)
    assert scores.dtype == np.float64 and scores.shape == (5,)
    np.testing.assert_array_equal(scores, fitted.score(test))
    assert not model.reconstructs and model.reconstruct(test) is None


def test_a_piad_model_saved_from_python_is_read_as_its_config_says(tmp_path):
    from piad_tiny import tiny_config, toy_images

    from piad import PIAD

    images = toy_images(16).numpy()[:, 0]
    piad = PIAD(tiny_config(iterations=1)).fit(images, progress=False)
    piad.save(tmp_path / "m.pt")
    model = load_model(tmp_path / "m.pt")
    assert model.method == "piad" and model.reconstructs
    assert model.input == TrainingInput(ImageRecipe(8, 1, "square"), [1], [(8, 8)], 1,
                                        recorded=False)  # fmt: skip
    np.testing.assert_array_equal(model.score(images[:3]), piad.score(images[:3]))
    rec = model.reconstruct(images[:3])
    assert rec.dtype == np.uint8 and rec.shape == (3, 8, 8, 1)


def test_files_that_are_no_model_are_one_line(tmp_path):
    with pytest.raises(PIADError, match=r"no model file at .*none\.pt; train one with `piad fit"):
        load_model(tmp_path / "none.pt")
    torch.save({"format": "something-else/1"}, tmp_path / "other.pt")
    with pytest.raises(PIADError, match=r"other\.pt is not a PIAD model file \(no piad-model/1"):
        load_model(tmp_path / "other.pt")
    (tmp_path / "noise.pt").write_bytes(b"\x00" * 64)
    with pytest.raises(PIADError, match=r"noise\.pt is not a PIAD model file \(.*piad fit`$"):
        load_model(tmp_path / "noise.pt")


def test_versions_name_what_made_a_model_file():
    got = versions()
    assert {"piad", "torch", "numpy", "pillow", "python", "scikit-learn"} <= set(got)
    assert got["numpy"] == np.__version__ and all(isinstance(v, str) for v in got.values())

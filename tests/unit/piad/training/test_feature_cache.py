"""The real images' feature cache: exact packing, same training with and without, the auto rule."""

from __future__ import annotations

import pytest
import torch
from piad_tiny import tiny_features, toy_images
from piad_tiny import training_config as tiny_config

from piad.errors import PIADError
from piad.training import Trainer
from piad.training import feature_cache as feature_cache_module
from piad.training.feature_cache import FeatureCache, pack_bits, unpack_bits


def sparse_rows(n: int, shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    f = torch.randn((n, *shape), generator=g)
    return torch.relu(f)  # post-ReLU, about half zeros


@pytest.mark.parametrize("k", [1, 7, 8, 13, 64])
def test_bits_round_trip(k: int) -> None:
    mask = torch.rand(5, k, generator=torch.Generator().manual_seed(k)) > 0.5
    bits = pack_bits(mask)
    assert bits.dtype == torch.uint8 and bits.shape == (5, (k + 7) // 8)
    assert torch.equal(unpack_bits(bits, k), mask)


def test_pack_bits_layout() -> None:
    mask = torch.tensor([[True, False, False, False, False, False, False, True, True]])
    assert pack_bits(mask).tolist() == [[1 + 128, 1]]  # bit j of byte i = entry 8 i + j


@pytest.mark.parametrize("packed", [True, False])
def test_cache_returns_the_rows_exactly(packed: bool) -> None:
    f = sparse_rows(10, (3, 2, 2))
    f[0, 0, 0, 0] = -0.0  # a negative zero comes back as a zero
    cache = FeatureCache(10, (3, 2, 2), torch.float32, "cpu", packed=packed)
    cache.put(0, f[:4])
    cache.put(4, f[4:])
    index = torch.tensor([9, 0, 3, 3, 5])
    assert torch.equal(cache[index], f[index])
    assert cache[index].shape == (5, 3, 2, 2)


def test_packed_cache_is_smaller_for_post_relu_features() -> None:
    f = sparse_rows(64, (512, 4, 4))
    dense = FeatureCache(64, (512, 4, 4), torch.float32, "cpu", packed=False)
    packed = FeatureCache(64, (512, 4, 4), torch.float32, "cpu", packed=True)
    dense.put(0, f)
    packed.put(0, f)
    zeros = float((f == 0).float().mean())
    assert dense.nbytes == f.numel() * 4
    assert packed.nbytes == pytest.approx(f.numel() * (1 / 8 + 4 * (1 - zeros)), rel=1e-6)
    assert packed.nbytes < 0.6 * dense.nbytes


def test_cache_refuses_gaps_wrong_shapes_and_early_reads() -> None:
    cache = FeatureCache(4, (2,), torch.float32, "cpu", packed=True)
    with pytest.raises(PIADError, match="do not continue"):
        cache.put(1, torch.ones(2, 2))
    with pytest.raises(PIADError, match="do not continue"):
        cache.put(0, torch.ones(2, 3))
    cache.put(0, torch.ones(2, 2))
    with pytest.raises(PIADError, match="holds 2 of 4 rows"):
        cache[torch.tensor([0])]


# ------------------------------------------------------------------------------ in the trainer
def _trainer(mode: str, **changes) -> Trainer:
    cfg = tiny_config(reconstruction="rel_perc_l1", n_weight=2, **changes)
    return Trainer(cfg, toy_images(), features=tiny_features(), progress=False, feature_cache=mode)


def test_cached_and_uncached_training_are_identical() -> None:
    on, off = _trainer("on"), _trainer("off")
    on.run(5)  # crosses two weight-policy updates (n_weight 2)
    off.run(5)
    assert on._fx_cache is not None and off._fx_cache is None
    for (name, p), q in zip(on.networks.named_parameters(), off.networks.parameters()):
        assert torch.equal(p, q), name
    assert on.gammas == off.gammas
    # the cached rows are the features of the very images of the last batch
    x = on.data.next()
    assert torch.equal(on._real_features(x), on.features(x))


def test_auto_caches_when_small_and_reused_only(monkeypatch) -> None:
    assert _trainer("auto").prepare_feature_cache() is not None  # 24 images, 4 x 8 draws
    few_draws = _trainer("auto", iterations=2)  # 2 x 8 = 16 draws < 24 images
    assert few_draws.prepare_feature_cache() is None
    monkeypatch.setattr(feature_cache_module, "CPU_CACHE_FRACTION", 0.0)  # no memory to spare
    assert _trainer("auto").prepare_feature_cache() is None
    assert _trainer("on").prepare_feature_cache() is not None  # "on" ignores the budget


def test_no_features_no_cache_and_bad_mode_is_named() -> None:
    mse = Trainer(tiny_config(), toy_images(), progress=False, feature_cache="on")
    mse.run(2)
    assert mse.prepare_feature_cache() is None
    with pytest.raises(PIADError, match=r"feature_cache mode 'always'; known: auto, off, on"):
        Trainer(tiny_config(), toy_images(), progress=False, feature_cache="always")

"""piad.training.data: BatchSource's batch orders of Algorithm 1 (issue 17: the authors'
repeated epochs, and plain permutations), seeding, and its state round trip."""

from __future__ import annotations

import pytest
import torch

from piad.errors import PIADError
from piad.training.data import MIN_EPOCH_IMAGES, BatchSource

CPU = torch.device("cpu")


def indexed(n: int) -> torch.Tensor:
    """n one-pixel float images whose value is their index (batches show which were drawn)."""
    return torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1)


def drawn(src: BatchSource, batches: int) -> list[list[int]]:
    return [src.next().flatten().long().tolist() for _ in range(batches)]


def test_small_set_is_repeated_to_10k_per_epoch_and_batches_hold_copies() -> None:
    # COIL-100's 57 training images, batch 32 (issue 14): 176 copies = 10,032 images per epoch,
    # 313 whole batches, the last 16 images of the shuffled epoch dropped
    src = BatchSource(indexed(57), 32, CPU, seed=0, data_order="code")
    assert (src.epoch_length, src.batches_per_epoch) == (176 * 57, 313)
    epoch = drawn(src, 313)
    assert all(len(b) == 32 for b in epoch)  # no partial batch
    counts = torch.bincount(torch.tensor(epoch).flatten(), minlength=57)
    assert int(counts.sum()) == 10_016 and int(counts.max()) <= 176 and int(counts.min()) >= 160
    distinct = [len(set(b)) for b in epoch]
    # E[distinct] = 57 (1 - C(10032 - 176, 32) / C(10032, 32)) = 24.7 for draws without
    # replacement from 176 copies of each image; a permutation of the 57 would give 32
    assert 23.7 < sum(distinct) / len(distinct) < 25.7
    assert max(distinct) < 32 and sum(d < 32 for d in distinct) > 300  # copies share batches


def test_code_order_reshuffles_every_epoch_and_is_seeded() -> None:
    a = BatchSource(indexed(57), 32, CPU, seed=5, data_order="code")
    first, second = drawn(a, 313), drawn(a, 313)
    assert first != second  # a fresh shuffle per epoch
    b = BatchSource(indexed(57), 32, CPU, seed=5, data_order="code")
    assert drawn(b, 626) == first + second
    assert drawn(BatchSource(indexed(57), 32, CPU, seed=6, data_order="code"), 1) != first[:1]


def test_large_set_is_not_repeated_and_drops_the_last_partial_batch() -> None:
    n = MIN_EPOCH_IMAGES + 50  # 10,050 images: 314 batches of 32, 2 images left out per epoch
    src = BatchSource(indexed(n), 32, CPU, seed=1, data_order="code")
    assert (src.epoch_length, src.batches_per_epoch) == (n, 314)
    epoch = torch.tensor(drawn(src, 314)).flatten()
    assert len(set(epoch.tolist())) == 314 * 32  # every image at most once per epoch
    nxt = torch.tensor(drawn(src, 1)).flatten()
    assert len(set(nxt.tolist())) == 32  # the next epoch starts with a fresh batch


def old_permutation_stream(n: int, b: int, seed: int, batches: int) -> list[list[int]]:
    """The suite's order before issue 17, written out: permutations, batches span epochs."""
    gen = torch.Generator().manual_seed(seed)
    order, pos, out = torch.empty(0, dtype=torch.long), 0, []
    for _ in range(batches):
        if pos + b > order.numel():
            parts, have = [order[pos:]], order.numel() - pos
            while have < b:
                parts.append(torch.randperm(n, generator=gen))
                have += n
            order, pos = torch.cat(parts), 0
        out.append(order[pos : pos + b].tolist())
        pos += b
    return out


@pytest.mark.parametrize(("n", "b"), [(10, 4), (57, 32), (3, 5)])
def test_permutations_order_is_bit_for_bit_the_old_one(n: int, b: int) -> None:
    src = BatchSource(indexed(n), b, CPU, seed=3, data_order="permutations")
    assert drawn(src, 20) == old_permutation_stream(n, b, 3, 20)
    assert BatchSource(indexed(n), b, CPU, seed=3).data_order == "permutations"  # the default


def test_state_round_trip_mid_epoch_and_order_mismatch() -> None:
    src = BatchSource(indexed(57), 32, CPU, seed=2, data_order="code")
    drawn(src, 100)
    state = src.state_dict()
    assert state["data_order"] == "code"
    expected = drawn(src, 400)  # crosses an epoch boundary
    again = BatchSource(indexed(57), 32, CPU, seed=99, data_order="code")
    again.load_state_dict(state)
    assert drawn(again, 400) == expected
    other = BatchSource(indexed(57), 32, CPU, seed=2, data_order="permutations")
    with pytest.raises(PIADError, match=r"data_order='code'.*resume with data_order='code'"):
        other.load_state_dict(state)


def test_state_saved_before_the_option_is_the_permutations_order() -> None:
    old = BatchSource(indexed(10), 4, CPU, seed=0)
    drawn(old, 3)
    state = old.state_dict()
    del state["data_order"]  # as written before issue 17
    expected = drawn(old, 5)
    resumed = BatchSource(indexed(10), 4, CPU, seed=1, data_order="permutations")
    resumed.load_state_dict(state)
    assert drawn(resumed, 5) == expected
    with pytest.raises(PIADError, match="data_order='permutations'"):
        BatchSource(indexed(10), 4, CPU, seed=1, data_order="code").load_state_dict(state)


def test_bad_order_and_batch_larger_than_an_epoch() -> None:
    with pytest.raises(PIADError, match="unknown data order 'random'; known: code, permutations"):
        BatchSource(indexed(4), 2, CPU, seed=0, data_order="random")
    with pytest.raises(PIADError, match="batch_size 20000 is larger than an epoch"):
        BatchSource(indexed(10_000), 20_000, CPU, seed=0, data_order="code")


def test_batch_source_epochs_are_permutations_and_seeded() -> None:
    images = torch.arange(10, dtype=torch.float32).view(10, 1, 1, 1) / 10
    src = BatchSource(images, batch_size=4, device=torch.device("cpu"), seed=3)
    drawn = torch.cat([src.next().flatten() for _ in range(5)])  # 20 = two epochs
    assert sorted(drawn[:10].tolist()) == sorted(images.flatten().tolist())
    assert sorted(drawn[10:].tolist()) == sorted(images.flatten().tolist())
    assert not torch.equal(drawn[:10], drawn[10:])  # reshuffled each epoch
    again = BatchSource(images, batch_size=4, device=torch.device("cpu"), seed=3)
    assert torch.equal(torch.cat([again.next().flatten() for _ in range(5)]), drawn)


def test_batch_source_smaller_than_a_batch_and_state_round_trip() -> None:
    images = torch.arange(3, dtype=torch.float32).view(3, 1, 1, 1)
    src = BatchSource(images, batch_size=5, device=torch.device("cpu"), seed=0)
    assert src.next().shape == (5, 1, 1, 1)
    state = src.state_dict()
    expected = [src.next() for _ in range(3)]
    src.load_state_dict(state)
    assert all(torch.equal(src.next(), e) for e in expected)

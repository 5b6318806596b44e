"""benchmarks/data/integrity.py: damaged dataset files are found, and stop the preflight with
one line per file, the command that replaces it, exit 2 and no job folder.

Real files on disk in the layouts the loaders read: a garbage IDX file, a 5,000-byte .gz where
the catalogue states 9,912,422, a truncated .gz, a truncated CIFAR-10 batch, a COIL-100 zip cut
short.
"""

from __future__ import annotations

import gzip
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
from toy_sources import idx_folder

from benchmarks import cli
from benchmarks.data import integrity
from benchmarks.data.acquire import plan
from benchmarks.data.integrity import archive_problem, damaged_files, idx_problem

RNG = np.random.default_rng(0)


def run_all(root: Path, out: Path, suite: str, dataset: str, capsys) -> tuple[int, list[str]]:
    argv = ["--suite", suite, "--datasets", dataset, "--methods", "kde", "--seeds", "0"]
    argv += ["--data-root", str(root), "--out", str(out), "--no-progress"]
    code = cli.main(argv)
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.startswith("error")]


def assert_one_line_stop(code: int, lines: list[str], path: Path, dataset: str, root: Path, out):
    assert code == 2
    assert len(lines) == 1, lines
    (line,) = lines
    assert line.startswith(f"error: {path}: ")
    assert f"python -m benchmarks.fetch {dataset} --data-root {root}" in line
    assert not out.exists()  # stopped before any job folder


def test_idx_problems_name_what_is_wrong(tmp_path):
    good = idx_folder(tmp_path / "plain", gz=False)
    assert all(idx_problem(p) is None for p in good.values())
    gz = idx_folder(tmp_path / "gz", gz=True)
    assert all(idx_problem(p) is None for p in gz.values())
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"this is not an idx file at all")
    assert "not an IDX file" in idx_problem(garbage)
    short = tmp_path / "short"
    short.write_bytes(good["train-images-idx3-ubyte"].read_bytes()[:-1])
    assert idx_problem(short) == "holds 15,695 bytes but its IDX header (20, 28, 28) needs 15,696"
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gz["train-images-idx3-ubyte"].read_bytes()[:200])
    assert "damaged gzip" in idx_problem(cut)
    whole_but_short = tmp_path / "whole.gz"  # a valid gzip of a truncated IDX file
    whole_but_short.write_bytes(gzip.compress(short.read_bytes()))
    assert "needs 15,696" in idx_problem(whole_but_short)


def test_archives_are_read_to_their_end_when_small(tmp_path, monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.bin", RNG.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    good = tmp_path / "good.zip"
    good.write_bytes(buf.getvalue())
    assert archive_problem(good) is None
    flipped = bytearray(buf.getvalue())
    flipped[100] ^= 0xFF  # inside the compressed member: only a full read sees it
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(flipped))
    assert archive_problem(bad) is not None
    monkeypatch.setattr(integrity, "FULL_READ_BYTES", 10)  # now "large": directory only
    assert archive_problem(bad) is None
    assert archive_problem(bad, full=True) is not None  # --verify reads it all


def test_garbage_idx_stops_the_preflight(tmp_path, capsys):
    root, out = tmp_path / "data", tmp_path / "out"
    paths = idx_folder(root / "MNIST" / "raw", gz=False)  # torchvision's layout, plain files
    paths["t10k-labels-idx1-ubyte"].write_bytes(b"\x89PNG garbage" * 10)
    code, lines = run_all(root, out, "table2", "mnist", capsys)
    assert_one_line_stop(code, lines, paths["t10k-labels-idx1-ubyte"], "mnist", root, out)
    assert "not an IDX file" in lines[0]


def test_a_small_gz_where_the_catalogue_states_its_size_stops_the_preflight(tmp_path, capsys):
    root, out = tmp_path / "data", tmp_path / "out"
    paths = idx_folder(root / "mnist", gz=False)
    gz = root / "mnist" / "train-images-idx3-ubyte.gz"
    gz.write_bytes(RNG.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    code, lines = run_all(root, out, "table2", "mnist", capsys)
    assert_one_line_stop(code, lines, gz, "mnist", root, out)
    assert "5,000 bytes, the catalogue states 9,912,422" in lines[0]
    # the bug of plan(): the four files of the folder existed, so "corrupt" became "present"
    rows = {r.file: r.state for r in plan("mnist", root)}
    assert rows["mnist/train-images-idx3-ubyte.gz"] == "corrupt"
    assert paths  # the plain files stay


def test_a_truncated_gz_stops_the_preflight(tmp_path, capsys):
    root, out = tmp_path / "data", tmp_path / "out"
    paths = idx_folder(root / "fmnist", gz=True)
    victim = paths["train-images-idx3-ubyte"]
    victim.write_bytes(victim.read_bytes()[:-300])
    code, lines = run_all(root, out, "table3", "fmnist", capsys)
    assert_one_line_stop(code, lines, victim, "fmnist", root, out)
    assert "damaged or truncated archive" in lines[0]


def cifar_folder(root: Path, n: int) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                 "test_batch"):  # fmt: skip
        entry = {b"data": np.zeros((n, 3072), np.uint8), b"labels": [0] * n}
        (folder / name).write_bytes(pickle.dumps(entry))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"x"] * 10}))
    return folder


def test_a_truncated_cifar_batch_stops_the_preflight(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(integrity, "CIFAR_BATCH_IMAGES", 50)  # 10,000 in the real batches
    root, out = tmp_path / "data", tmp_path / "out"
    folder = cifar_folder(root, 50)
    assert damaged_files("cifar10", root) == []
    victim = folder / "data_batch_3"
    victim.write_bytes(victim.read_bytes()[:5000])
    code, lines = run_all(root, out, "table2", "cifar10", capsys)
    assert_one_line_stop(code, lines, victim, "cifar10", root, out)
    assert f"rm -r {folder} && python -m benchmarks.fetch cifar10" in lines[0]


def coil_zip(n: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for k in range(n):
            zf.writestr(f"coil-100/obj{k % 100 + 1}__{5 * (k // 100)}.png", bytes(400))
    return buf.getvalue()


def test_a_coil_zip_cut_short_stops_the_preflight(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(integrity, "COIL_IMAGES", 30)
    root, out = tmp_path / "data", tmp_path / "out"
    root.mkdir()
    archive = root / "coil-100.zip"
    data = coil_zip(30)
    archive.write_bytes(data)
    assert damaged_files("coil100", root) == []
    archive.write_bytes(data[: len(data) // 2])
    code, lines = run_all(root, out, "table3", "coil100", capsys)
    assert_one_line_stop(code, lines, archive, "coil100", root, out)
    assert "damaged or truncated archive" in lines[0]

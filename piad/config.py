"""PIAD configuration: one dataclass, presets per dataset family, fidelity variants.

Defaults follow the authors' code where it differs from the paper ("code" variant); the
paper's values are the named variant "paper". Every such difference lives in :data:`FIDELITY`.

>>> cfg = PIADConfig.preset("cifar10")
>>> cfg.latent_shape, cfg.n_dis, cfg.lr_ge
((256, 1, 1), 2, 0.0001)
>>> PIADConfig.preset("lsun", variant="paper").iterations
200000

This module does not import torch.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from piad.errors import PIADError, unknown_name

FAMILIES = ("mnist", "fmnist", "coil100", "cifar10", "celeba", "lsun")
VARIANTS = ("code", "paper")
DISTANCE_NAMES = ("mse", "perc", "perc_l1", "rel_perc_l1")  # piad.losses.DISTANCES
PERCEPTUAL_DISTANCES = ("perc", "perc_l1", "rel_perc_l1")  # need the VGG-19 features
WEIGHT_POLICIES = ("gradnorm", "fixed")
GRAD_STATISTICS = ("std", "l2")
GRAD_POOLINGS = ("median", "mean")
DATA_ORDERS = ("code", "permutations")  # piad.training.data.BatchSource
#: FIDELITY's paper value where the paper is silent: both variants then use the code's value.
NOT_IN_PAPER = "n/a"
#: What runs did before a field existed: a config SAVED then (checkpoint, model file) that lacks
#: the field means this value, not today's default (:meth:`PIADConfig.from_saved`).
LEGACY_DEFAULTS: dict[str, Any] = {"data_order": "permutations"}  # issue 17

# Paper vs the authors' code, per family: {family: {field: (code_value, paper_value, why)}}.
# The "code" variant uses the first value, "paper" the second, except where the paper is silent
# (paper value NOT_IN_PAPER): both variants then use the code's value. The docs print this table.
_COMMON_FIDELITY: dict[str, tuple[Any, Any, str]] = {
    "lr_ge": (
        1e-4,
        2e-4,
        "supplement sec. 1 says 0.0002 for E+G; the authors' configs use 0.0001",
    ),
    "grad_statistic": (
        "std",
        "l2",
        "Alg. 2 stores the L2 norm of each layer's gradient; the code stores its std "
        "(supplement sec. 1.2: nearly the same ratio)",
    ),
    "grad_pooling": (
        "median",
        "mean",
        "Alg. 3 averages per-layer means of the ratios; the code takes the median of all "
        "layers' last ratios pooled",
    ),
    "data_order": (
        "code",
        NOT_IN_PAPER,
        "the paper does not say how batches are drawn; the code repeats a training set of "
        "N < 10,000 images ceil(10,000 / N) times per epoch, shuffles the copies together and "
        "drops the last partial batch; 'permutations' draws reshuffled epochs of the N images, "
        "batches spanning epochs (checkpoints saved without the field resume with it)",
    ),
}
FIDELITY: dict[str, dict[str, tuple[Any, Any, str]]] = {
    family: dict(_COMMON_FIDELITY) for family in FAMILIES
}
FIDELITY["lsun"]["iterations"] = (
    300_000,
    200_000,
    "supplement sec. 1 says 200k iterations for LSUN; the authors' LSUN config runs 300k",
)


def _family_settings(family: str) -> dict[str, Any]:
    """Architecture and schedule of one family (supplement Tables 1-4, sec. 1)."""
    small = {  # supplement Table 1: MNIST, fMNIST, COIL-100 (32 px)
        "image_size": 32,
        "latent_dim": 32,
        "latent_size": 1,
        "gen_channels": (32, 32, 32, 32),
        "enc_channels": (32, 32, 32, 32),
        "dx_channels": (32, 32, 32, 32),
        "dz_hidden": (128, 128),
        "n_dis": 2,
    }
    wide64 = {  # supplement Tables 3-4: 64 px, 64 filters everywhere
        "image_size": 64,
        "in_channels": 3,
        "gen_channels": (64, 64, 64, 64, 64),
        "enc_channels": (64, 64, 64, 64, 64),
        "dx_channels": (64, 64, 64, 64, 64),
        "n_dis": 3,
    }
    table = {
        "mnist": {**small, "in_channels": 1, "iterations": 50_000},
        "fmnist": {**small, "in_channels": 1, "iterations": 50_000},
        "coil100": {**small, "in_channels": 3, "iterations": 20_000},
        "cifar10": {  # supplement Table 2
            "image_size": 32,
            "in_channels": 3,
            "latent_dim": 256,
            "latent_size": 1,
            "gen_channels": (256, 256, 128, 64),
            "enc_channels": (64, 64, 128, 256),
            "dx_channels": (32, 32, 64, 128),
            # Table 2 prints D_Z input 32x1x1, but the latent is 256x1x1 (facts note)
            "dz_hidden": (1024, 1024),
            "n_dis": 2,
            "iterations": 100_000,
        },
        # supplement Table 4; latent 64x1x1 (the table's D_Z input 32 contradicts its G input)
        "celeba": {**wide64, "latent_dim": 64, "latent_size": 1, "dz_hidden": (256, 256),
                   "iterations": 200_000},
        # supplement Table 3: latent 32x4x4, residual block at 4x4 in G, pre-act block in E
        "lsun": {**wide64, "latent_dim": 32, "latent_size": 4, "dz_hidden": (2048, 2048),
                 "iterations": 300_000},
    }  # fmt: skip
    return dict(table[family])


@dataclass(frozen=True)
class PIADConfig:
    """Everything that defines a PIAD run. Defaults: the MNIST preset, "code" variant.

    Channel tuples are ordered by resolution: ``gen_channels`` from 4x4 up to the image size
    (first entry = output of G's first conv / residual block, then one per BlockUp);
    ``enc_channels`` / ``dx_channels`` from the image size down to 4x4 (first entry = output
    of the first 3x3 conv, then one per BlockDown). Each has ``log2(image_size / 4) + 1``
    entries. The heads keep the last block's width (supplement Tables 1-4).
    """

    family: str = "mnist"
    variant: str = "code"
    # data and networks (supplement Tables 1-4)
    image_size: int = 32
    in_channels: int = 1
    latent_dim: int = 32
    latent_size: int = 1  # r: latent shape is (latent_dim, r, r); 4 for LSUN
    gen_channels: tuple[int, ...] = (32, 32, 32, 32)
    enc_channels: tuple[int, ...] = (32, 32, 32, 32)
    dx_channels: tuple[int, ...] = (32, 32, 32, 32)
    dz_hidden: tuple[int, ...] = (128, 128)
    # schedule (Alg. 1, supplement sec. 1)
    n_dis: int = 2
    iterations: int = 50_000
    batch_size: int = 32
    lr_ge: float = 1e-4
    lr_d: float = 5e-4
    betas: tuple[float, float] = (0.5, 0.99)
    weight_decay: float = 1e-8
    gp_weight: float = 10.0  # lambda of eq. 5
    drift: float = 1e-3  # weight of E[D(x)^2] (supplement sec. 1)
    # weighting of the losses (eq. 8-9, Alg. 2-3)
    weights: str = "gradnorm"  # or "fixed"
    n_weight: int = 100
    history: int = 200
    alpha: float = 0.05
    grad_statistic: str = "std"  # "l2" in the paper
    grad_pooling: str = "median"  # "mean" in the paper
    # batch order of Alg. 1 lines 2 and 7 (piad.training.data): the code's, or "permutations"
    data_order: str = "code"
    gamma_e: float = 10.0  # "fixed" weights only (ablation "baseline")
    gamma_g: float = 100.0
    # distances (eq. 1-4)
    reconstruction: str = "rel_perc_l1"
    score_distance: str | None = None  # None: same as ``reconstruction``
    perceptual_weights: str = "torchvision"
    perceptual_stats: str | None = None  # None: the default statistics for the weights
    # bookkeeping
    checkpoint_every: int = 1000
    log_every: int = 100
    sample_every: int = 5000
    seed: int = 0
    device: str = "auto"  # "auto": CUDA when available, else CPU

    def __post_init__(self) -> None:
        for name in ("gen_channels", "enc_channels", "dx_channels", "dz_hidden", "betas"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        self._validate()

    # ------------------------------------------------------------------ presets
    @classmethod
    def preset(cls, family: str, variant: str = "code", **changes: Any) -> PIADConfig:
        """The configuration of a dataset family in a fidelity variant ("code" or "paper")."""
        if family not in FAMILIES:
            raise unknown_name("family", family, FAMILIES)
        if variant not in VARIANTS:
            raise unknown_name("variant", variant, VARIANTS)
        values = _family_settings(family)
        pick = 0 if variant == "code" else 1
        for name, choices in FIDELITY[family].items():
            values[name] = choices[0] if choices[1] == NOT_IN_PAPER else choices[pick]
        cfg = cls(family=family, variant=variant, **values)
        return cfg.replace(**changes) if changes else cfg

    def replace(self, **changes: Any) -> PIADConfig:
        """A copy with some fields changed; unknown fields raise :class:`PIADError`."""
        _check_fields(changes)
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PIADConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`PIADError`."""
        _check_fields(data)
        return cls(**data)

    @classmethod
    def from_saved(cls, data: dict[str, Any]) -> PIADConfig:
        """:meth:`from_dict` for a config a run recorded (checkpoint, model file).

        A field missing from it was added later: it takes :data:`LEGACY_DEFAULTS`' value (what
        the run did), not today's default, so old checkpoints resume as they were trained.
        """
        return cls.from_dict({**LEGACY_DEFAULTS, **data})

    # ------------------------------------------------------------------ derived values
    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """Shape of one latent code z ~ N(0, I) (supplement Tables 1-4)."""
        return (self.latent_dim, self.latent_size, self.latent_size)

    @property
    def n_resample(self) -> int:
        """Number of BlockUp (= BlockDown) blocks: log2(image_size / 4)."""
        return round(math.log2(self.image_size / 4))

    @property
    def score_distance_name(self) -> str:
        return self.score_distance or self.reconstruction

    @property
    def needs_perceptual(self) -> bool:
        """True when training or scoring uses the VGG-19 features."""
        return (
            self.reconstruction in PERCEPTUAL_DISTANCES
            or self.score_distance_name in PERCEPTUAL_DISTANCES
        )

    # ------------------------------------------------------------------ checks
    def _validate(self) -> None:
        _choice("family", self.family, (*FAMILIES, "custom"))
        _choice("variant", self.variant, VARIANTS)
        _choice("weights", self.weights, WEIGHT_POLICIES)
        _choice("grad_statistic", self.grad_statistic, GRAD_STATISTICS)
        _choice("grad_pooling", self.grad_pooling, GRAD_POOLINGS)
        _choice("data_order", self.data_order, DATA_ORDERS)
        _choice("reconstruction distance", self.reconstruction, DISTANCE_NAMES)
        _choice("score distance", self.score_distance_name, DISTANCE_NAMES)
        size = self.image_size
        if size < 8 or size & (size - 1):
            raise PIADError(f"image_size must be a power of two >= 8, got {size}")
        if self.in_channels not in (1, 3):
            raise PIADError(f"in_channels must be 1 or 3, got {self.in_channels}")
        if self.latent_size not in (1, 4):
            raise PIADError(
                f"latent_size must be 1 (latent dim x 1 x 1) or 4 (LSUN, 4x4), "
                f"got {self.latent_size}"
            )
        expected = self.n_resample + 1
        for name in ("gen_channels", "enc_channels", "dx_channels"):
            value = getattr(self, name)
            if len(value) != expected or min(value) < 1:
                raise PIADError(
                    f"{name} needs {expected} positive widths for image_size {size} "
                    f"(one per resolution from 4x4 to {size}x{size}), got {value}"
                )
        if not self.dz_hidden or min(self.dz_hidden) < 1:
            raise PIADError(f"dz_hidden needs positive widths, got {self.dz_hidden}")
        positive: tuple[str, ...] = ("latent_dim", "n_dis", "batch_size", "n_weight", "history")
        positive += ("checkpoint_every", "log_every", "sample_every")
        for name in positive:
            if getattr(self, name) < 1:
                raise PIADError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.iterations < 0:
            raise PIADError(f"iterations must be >= 0, got {self.iterations}")
        if not 0.0 < self.alpha <= 1.0:
            raise PIADError(f"alpha (exponential smoothing) must be in (0, 1], got {self.alpha}")
        if len(self.betas) != 2:
            raise PIADError(f"betas must be two numbers (Adam), got {self.betas}")


def _choice(kind: str, value: object, known: tuple[str, ...]) -> None:
    if value not in known:
        raise unknown_name(kind, value, known)


_FIELDS = tuple(f.name for f in dataclasses.fields(PIADConfig))


def _check_fields(names: dict[str, Any]) -> None:
    for name in names:
        if name not in _FIELDS:
            raise unknown_name("PIADConfig field", name, _FIELDS)


def fidelity_rows() -> list[dict[str, Any]]:
    """:data:`FIDELITY` as table rows (family, field, code, paper, why) for the docs."""
    return [
        {"family": fam, "field": name, "code": code, "paper": paper, "why": why}
        for fam, fields in FIDELITY.items()
        for name, (code, paper, why) in fields.items()
    ]


__all__ = [
    "DATA_ORDERS",
    "DISTANCE_NAMES",
    "FAMILIES",
    "FIDELITY",
    "LEGACY_DEFAULTS",
    "NOT_IN_PAPER",
    "PERCEPTUAL_DISTANCES",
    "VARIANTS",
    "PIADConfig",
    "fidelity_rows",
]


def fidelity_markdown() -> str:
    """The paper-vs-code table, one row per differing field (families that share it merged)."""
    from tabulate import tabulate

    merged: dict[tuple[str, str, str, str], list[str]] = {}
    for row in fidelity_rows():
        key = (row["field"], str(row["code"]), str(row["paper"]), row["why"])
        merged.setdefault(key, []).append(row["family"])
    rows = [
        [field, ", ".join(fams), code, paper, why]
        for (field, code, paper, why), fams in merged.items()
    ]
    headers = ["field", "families", "code (default)", "paper (--variant paper)", "why"]
    return tabulate(rows, headers=headers, tablefmt="github")


if __name__ == "__main__":  # python -m piad.config: print the fidelity table
    print(fidelity_markdown())

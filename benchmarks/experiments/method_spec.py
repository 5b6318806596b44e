"""The typed name of a method run: method, its variant, and (PIAD) its fidelity variant.

The one place where method names are parsed and formatted. A suite names methods as
``method`` or ``method-variant`` (``"ocsvm-holdout"``, ``"piad-ablation-perc"``); a job stores
``Job.method`` and ``Job.variant``; a job folder and a table column use the label. For methods
with fidelity variants (PIAD: the authors' code values or the paper's, :data:`piad.config.FIDELITY`)
the fidelity is part of the job variant: ``"code"`` / ``"paper"`` for the plain method,
``"ablation-perc"`` (code fidelity, unmarked, so the label equals the paper's row name) and
``"paper-ablation-perc"`` for ablation rows.

>>> spec = MethodSpec.from_suite("piad-ablation-perc", fidelity="paper")
>>> spec
MethodSpec(method='piad', variant='ablation-perc', fidelity='paper')
>>> spec.job_variant, spec.label
('paper-ablation-perc', 'piad-paper-ablation-perc')
>>> MethodSpec.from_job("piad", "paper-ablation-perc") == spec
True
>>> MethodSpec.from_label("ocsvm-holdout").label
'ocsvm-holdout'
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.registry import METHODS
from piad.errors import PIADError, unknown_name

FIDELITIES = ("code", "paper")


def split_label(label: str) -> tuple[str, str]:
    """``(method, variant)`` of ``method[-variant]``: the longest registered method name that
    ``label`` starts with (method names may hold '-': ``deep-svdd-soft`` is Deep SVDD's
    ``soft`` variant), else the text before the first '-'.

    >>> split_label("ocsvm-holdout"), split_label("kde")
    (('ocsvm', 'holdout'), ('kde', ''))
    """
    for name in sorted(METHODS, key=len, reverse=True):
        if label == name:
            return name, ""
        if label.startswith(name + "-"):
            return name, label[len(name) + 1 :]
    method, _, variant = label.partition("-")
    return method, variant


def _has_fidelity(method: str) -> bool:
    """Whether a registered method takes code|paper variants (built-ins: import
    :mod:`benchmarks.experiments.methods` first, as every caller of this module does)."""
    return method in METHODS and METHODS.get(method).fidelity


@dataclass(frozen=True)
class MethodSpec:
    """``method`` (registered name), ``variant`` ("" = plain), ``fidelity`` ("" or code|paper)."""

    method: str
    variant: str = ""
    fidelity: str = ""

    def __post_init__(self) -> None:
        if self.fidelity and self.fidelity not in FIDELITIES:
            raise unknown_name("fidelity variant", self.fidelity, FIDELITIES)

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_suite(cls, name: str, fidelity: str = "code") -> MethodSpec:
        """A suite's method name under a fidelity variant (ignored by methods without one)."""
        if fidelity not in FIDELITIES:
            raise unknown_name("variant", fidelity, FIDELITIES)
        method, variant = split_label(name)
        return cls(method, variant, fidelity if _has_fidelity(method) else "")

    @classmethod
    def from_job(cls, method: str, variant: str) -> MethodSpec:
        """Decode ``Job.variant`` (inverse of :attr:`job_variant`)."""
        if not _has_fidelity(method):
            return cls(method, variant)
        rest = variant or "code"
        for fidelity in FIDELITIES:
            if rest == fidelity:
                return cls(method, "", fidelity)
            if rest.startswith(fidelity + "-"):
                return cls(method, rest[len(fidelity) + 1 :], fidelity)
        return cls(method, rest, "code")

    @classmethod
    def from_label(cls, label: str) -> MethodSpec:
        """Decode a label (``"piad-paper-ablation-perc"``, ``"ocsvm-holdout"``, ``"kde"``)."""
        return cls.from_job(*split_label(label))

    # ------------------------------------------------------------------ formatting
    @property
    def job_variant(self) -> str:
        """What ``Job.variant`` stores."""
        if not self.fidelity:
            return self.variant
        if not self.variant:
            return self.fidelity
        return self.variant if self.fidelity == "code" else f"{self.fidelity}-{self.variant}"

    @property
    def label(self) -> str:
        """The job folder's and the tables' name of this run: ``method[-job_variant]``."""
        return f"{self.method}-{self.job_variant}" if self.job_variant else self.method

    def check(self) -> MethodSpec:
        """Raise :class:`PIADError` unless the method and its variant are registered."""
        entry = METHODS.get(self.method)
        if self.variant not in entry.variants:
            known = [f"{self.method}-{v}" if v else self.method for v in entry.variants]
            raise unknown_name(f"{entry.display} variant", self.variant, known)
        if entry.fidelity and not self.fidelity:
            raise PIADError(f"method {self.method!r} needs a fidelity variant (code or paper)")
        return self


__all__ = ["FIDELITIES", "MethodSpec", "split_label"]

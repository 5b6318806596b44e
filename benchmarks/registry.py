"""One registry per kind of thing the suite runs: datasets, protocols, methods, suites.

Built-in entries register themselves where they are defined (:mod:`benchmarks.data.info`,
:mod:`benchmarks.data.protocols`, :mod:`benchmarks.experiments.methods`,
:mod:`benchmarks.experiments.suites`); a plugin module (``$PIAD_PLUGINS``) adds its own with one
call each::

    from benchmarks.registry import register_method
    register_method("mymethod", build_mymethod, display="My method")

This module imports nothing else of the suite: every module may use it, it uses none of them.

>>> reg = Registry("colour")
>>> reg.register("red", 1)
1
>>> reg.get("blue")
Traceback (most recent call last):
...
piad.errors.PIADError: unknown colour 'blue'; known: red
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from piad.errors import PIADError, unknown_name

if TYPE_CHECKING:  # types only: no import at run time
    from benchmarks.data.info import DatasetInfo
    from benchmarks.data.protocols import Protocol
    from benchmarks.experiments.suites import SuiteSpec

T = TypeVar("T")
PLUGINS_ENV = "PIAD_PLUGINS"


class Registry(Generic[T]):
    """Names -> entries of one kind; an unknown name raises one line listing the known ones.

    Behaves as a read-only mapping (``in``, ``[]``, iteration, ``len``); tests may swap entries
    with ``monkeypatch.setitem(registry.entries, name, entry)``.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.entries: dict[str, T] = {}

    def register(self, name: str, entry: T, *, replace: bool = False) -> T:
        """Add ``entry`` under ``name``; a second entry of the same name needs ``replace``."""
        if not name or not isinstance(name, str):
            raise PIADError(f"a {self.kind} needs a non-empty name, got {name!r}")
        if name in self.entries and not replace and self.entries[name] != entry:
            raise PIADError(
                f"{self.kind} {name!r} is already registered; pick another name or pass "
                "replace=True"
            )
        self.entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        """The entry called ``name``, or a :class:`PIADError` that lists the known names."""
        try:
            return self.entries[name]
        except KeyError:
            raise unknown_name(self.kind, name, self.entries) from None

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> list[str]:
        return list(self.entries)

    def values(self) -> list[T]:
        return list(self.entries.values())


# ----------------------------------------------------------------------------- entries


def resolve(target: Callable[..., Any] | str) -> Callable[..., Any]:
    """A callable, or ``"package.module:function"`` imported on first use (keeps facts light)."""
    if callable(target):
        return target
    module, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as err:
        raise PIADError(f"cannot import {target!r} ({err}); reinstall the suite") from err


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset's static facts and its loader ``loader(root, download) -> ImageSet``."""

    info: DatasetInfo
    loader: Callable[..., Any] | str = field(compare=False)

    def load(self, root: Any, download: bool = True) -> Any:
        return resolve(self.loader)(root, download=download)


@dataclass(frozen=True)
class MethodEntry:
    """A method the runner can run.

    ``factory(job, info, device, workdir, progress, threads) -> estimator`` (fit / score / info,
    see :mod:`benchmarks.experiments.methods`). ``variants`` maps each variant name to its
    display name ("" is the plain method); ``fidelity`` methods (PIAD) also take the
    ``code|paper`` variant of :data:`piad.config.FIDELITY`; ``reported_as`` is the method's name
    in the reported tables (default: its own name) and ``reported`` gives variants that are
    rows of their own there (PIAD's ablation rows); ``trains`` methods take ``--iters``;
    ``fusable`` methods may train as fused groups (``--fuse``); their ``fusion_key(job, info)``
    says which jobs may share a group from the job alone (without it, the runner builds each
    job's estimator and asks it).
    """

    name: str
    factory: Callable[..., Any] | str = field(compare=False)
    display: str = ""
    variants: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({"": ""}))
    fidelity: bool = False
    reported_as: str = ""
    reported: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    trains: bool = False
    fusable: bool = False
    fusion_key: Callable[..., Any] | str | None = field(default=None, compare=False)

    def build(self, *args: Any, **kwargs: Any) -> Any:
        return resolve(self.factory)(*args, **kwargs)

    def display_name(self, variant: str = "") -> str:
        """How tables name this method's ``variant``."""
        if self.variants.get(variant):
            return self.variants[variant]
        return f"{self.display} {variant}" if variant else self.display

    def reported_name(self, variant: str = "") -> str:
        """The method of the reported tables a run of ``variant`` is compared with."""
        return self.reported.get(variant, self.reported_as)


DATASETS: Registry[DatasetEntry] = Registry("dataset")
PROTOCOLS: Registry[Protocol] = Registry("protocol")
METHODS: Registry[MethodEntry] = Registry("method")
SUITES: Registry[SuiteSpec] = Registry("suite")


def register_dataset(
    info: DatasetInfo, loader: Callable[..., Any] | str, *, replace: bool = False
) -> DatasetEntry:
    """Register a dataset: its :class:`~benchmarks.data.info.DatasetInfo` and its loader."""
    return DATASETS.register(info.name, DatasetEntry(info, loader), replace=replace)


def register_protocol(protocol: Protocol, *, replace: bool = False) -> Protocol:
    """Register an evaluation protocol (:class:`benchmarks.data.protocols.Protocol`)."""
    return PROTOCOLS.register(protocol.name, protocol, replace=replace)


def register_method(
    name: str,
    factory: Callable[..., Any] | str,
    *,
    display: str = "",
    variants: Mapping[str, str] | None = None,
    fidelity: bool = False,
    reported_as: str = "",
    reported: Mapping[str, str] | None = None,
    trains: bool = False,
    fusable: bool = False,
    fusion_key: Callable[..., Any] | str | None = None,
    replace: bool = False,
) -> MethodEntry:
    """Register a method with one call (see :class:`MethodEntry` for the fields)."""
    if not name or name.startswith("-") or name.endswith("-"):
        raise PIADError(f"method name {name!r} must not start or end with '-'")
    entry = MethodEntry(
        name=name,
        factory=factory,
        display=display or name,
        variants=MappingProxyType(dict(variants) if variants else {"": ""}),
        fidelity=fidelity,
        reported_as=reported_as or name,
        reported=MappingProxyType(dict(reported or {})),
        trains=trains,
        fusable=fusable,
        fusion_key=fusion_key,
    )
    return METHODS.register(name, entry, replace=replace)


def register_suite(spec: SuiteSpec, *, replace: bool = False) -> SuiteSpec:
    """Register a suite (:class:`benchmarks.experiments.suites.SuiteSpec`)."""
    return SUITES.register(spec.name, spec, replace=replace)


def plugin_names() -> list[str]:
    """The module names in ``$PIAD_PLUGINS`` (comma-separated)."""
    return [n.strip() for n in os.environ.get(PLUGINS_ENV, "").split(",") if n.strip()]


def load_plugins(names: Sequence[str] | None = None) -> list[str]:
    """Import the plugin modules (default: ``$PIAD_PLUGINS``); returns their names."""
    if names is None:
        names = plugin_names()
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise PIADError(
                f"plugin module {name!r} from ${PLUGINS_ENV} cannot be imported ({err}); "
                "fix the name or PYTHONPATH"
            ) from err
    return list(names)


__all__ = [
    "DATASETS",
    "METHODS",
    "PLUGINS_ENV",
    "PROTOCOLS",
    "SUITES",
    "DatasetEntry",
    "MethodEntry",
    "Registry",
    "load_plugins",
    "plugin_names",
    "register_dataset",
    "register_method",
    "register_protocol",
    "register_suite",
    "resolve",
]

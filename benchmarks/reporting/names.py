"""How tables name, order and match things: methods, datasets, protocol layouts, class order.

Run methods are named by their registry entry (:func:`benchmarks.registry.register_method`);
the competitors the suite does not run (AnoGAN, ADGAN, ...) by :data:`METHOD_NAMES`. A run is
compared with the reported method its entry names (``ocsvm-holdout`` with the paper's
``ocsvm``, an ablation row with ``piad-ablation-...``), on the dataset its
:class:`~benchmarks.data.info.DatasetInfo` says (``mnist5k``: the paper's MNIST numbers).

>>> reported_method("piad-paper"), reported_method("ocsvm-holdout")
('piad', 'ocsvm')
>>> reported_method("piad-paper-ablation-perc")
'piad-ablation-perc'
>>> display_name("piad-code"), display_name("ocsvm-holdout"), display_name("lsa", ours=False)
('PIAD', 'OC-SVM holdout', 'LSA (reported)')
"""

from __future__ import annotations

from collections.abc import Iterable

from benchmarks.data.info import dataset_info
from benchmarks.data.protocols import LAYOUTS, normal_classes
from benchmarks.experiments.method_spec import MethodSpec, split_label
from benchmarks.experiments.methods import ABLATIONS  # (and registers the methods)
from benchmarks.registry import DATASETS, METHODS, PROTOCOLS
from piad.errors import PIADError

MISSING = "—"
#: Paper order of the methods (Table 2 columns, then Table 3's GPND).
METHOD_ORDER = ("ocsvm", "kde", "anogan", "adgan", "ocgan", "alad", "lsa", "deep_svdd", "gpnd")
#: Names of the reported methods the suite does not run itself.
METHOD_NAMES = {
    "ocsvm": "OC-SVM",
    "kde": "KDE",
    "anogan": "AnoGAN",
    "adgan": "ADGAN",
    "ocgan": "OCGAN",
    "alad": "ALAD",
    "lsa": "LSA",
    "deep_svdd": "Deep SVDD",
    "gpnd": "GPND",
    "piad": "PIAD",
}
#: The paper's order of the per-class tables (Table 2, then Table 3 left).
DATASET_ORDER = ("mnist5k", "mnist", "cifar10", "fmnist", "coil100")


def spec(label: str) -> MethodSpec:
    return MethodSpec.from_label(label)


def reported_method(label: str) -> str:
    """The method of the reported tables a run of ours (``label``) is compared with."""
    s = spec(label)
    if s.method not in METHODS:
        return s.method
    return METHODS.get(s.method).reported_name(s.variant)


def is_ablation_row(label: str) -> bool:
    """Whether ``label`` (ours or a reported method) is one of PIAD's ablation rows, the rows
    of Table 3 (right) (``piad-ablation-perc``, ``piad-paper-ablation-mse-fixed``)."""
    s = spec(label)
    return s.method == "piad" and s.variant in ABLATIONS


def reported_name(method: str) -> str:
    """The reported method a method's plain run is compared with (``deep-svdd``: ``deep_svdd``)."""
    return METHODS.get(method).reported_as if method in METHODS else method


def display_name(label: str, ours: bool = True) -> str:
    """Column/row name of a method; reported-only methods are marked "(reported)"."""
    if not ours:
        base, variant = split_label(label)
        if variant and base in METHODS and variant in METHODS.get(base).variants:
            return METHODS.get(base).display_name(variant) + " (reported)"
        return f"{METHOD_NAMES.get(label, label)} (reported)"
    s = spec(label)
    if s.method not in METHODS:
        name = METHOD_NAMES.get(s.method, s.method)
        return f"{name} {s.variant}" if s.variant else name
    name = METHODS.get(s.method).display_name(s.variant)
    return name + (" [paper variant]" if s.fidelity == "paper" else "")


def method_key(label: str) -> tuple[int, str]:
    """Sort key: the paper's columns, then the paper's own method (PIAD, a method with
    fidelity variants), then its variant rows in their registered order, then the rest."""
    base = reported_method(label)
    if base in METHOD_ORDER:
        return (METHOD_ORDER.index(base), label)
    s = spec(label)
    entry = METHODS.get(s.method) if s.method in METHODS else None
    if entry is not None and entry.fidelity:
        if not s.variant:
            return (len(METHOD_ORDER), label)
        rows = [v for v in entry.variants if v]
        if s.variant in rows:
            return (len(METHOD_ORDER) + 1 + rows.index(s.variant), label)
    return (len(METHOD_ORDER) + 1 + len(METHODS) * 100, label)


def dataset_title(name: str) -> str:
    """How tables name a dataset ("CIFAR-10"); unregistered names as they are."""
    return DATASETS.get(name).info.title if name in DATASETS else name


def reported_dataset(name: str) -> str:
    """The dataset of the reported tables a dataset of ours is compared with."""
    if name not in DATASETS:
        return name
    return DATASETS.get(name).info.reported_as or name


def row_kind(protocol: str) -> str:
    """``"class"``, ``"group"`` or ``"single"``: how a protocol's rows are laid out."""
    layout = PROTOCOLS.get(protocol).layout if protocol in PROTOCOLS else "classes"
    return LAYOUTS[layout]


def summary_of(protocol: str) -> str:
    """The summary table a protocol's averages also go to ("table3-left"), or ""."""
    return PROTOCOLS.get(protocol).summary if protocol in PROTOCOLS else ""


def group_order(protocol: str) -> tuple[str, ...]:
    """The anomaly groups a protocol scores, in its order (CelebA: the paper's attributes)."""
    return PROTOCOLS.get(protocol).groups if protocol in PROTOCOLS else ()


def full_classes(dataset: str, protocol: str) -> list[str] | None:
    """Every normal class of a full run, or None when the dataset or protocol is unknown."""
    try:
        return list(normal_classes(protocol, dataset_info(dataset)))
    except PIADError:
        return None


def class_order(dataset: str, protocol: str, rows: Iterable[str]) -> list[str]:
    """Rows in the dataset's class order (then any others alphabetically)."""
    rows = list(dict.fromkeys(rows))
    order = full_classes(dataset, protocol) or []
    if dataset in DATASETS:
        order += list(DATASETS.get(dataset).info.classes)
    position = {name: i for i, name in reversed(list(enumerate(order)))}
    return sorted(rows, key=lambda r: (position.get(r, len(position)), r))


def dataset_rank(dataset: str) -> int:
    return DATASET_ORDER.index(dataset) if dataset in DATASET_ORDER else len(DATASET_ORDER)


__all__ = [
    "DATASET_ORDER",
    "METHOD_NAMES",
    "METHOD_ORDER",
    "MISSING",
    "class_order",
    "dataset_rank",
    "dataset_title",
    "display_name",
    "full_classes",
    "group_order",
    "method_key",
    "reported_dataset",
    "reported_method",
    "reported_name",
    "row_kind",
    "summary_of",
]

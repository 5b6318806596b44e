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

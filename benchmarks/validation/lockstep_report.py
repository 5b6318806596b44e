"""The lockstep check's report: relative differences, the first parting and its diagnosis,
and the CSV / Markdown / JSON outputs (:mod:`benchmarks.validation.lockstep` runs the check)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

LOSS_FLOOR = 1e-3  # losses near 0: |a - b| / max(|a|, |b|, LOSS_FLOOR)


ABRUPT = 1e4  # a jump of the largest difference by this factor in one iteration = abrupt


CAUSES = {
    "D_X": "the image critic's loss (WGAN-GP terms, drift 0.001 E[D^2], gradient penalty mixing, "
    "minibatch stddev) or the batch / G(z) it sees",
    "D_Z": "the latent critic's loss (WGAN-GP terms, drift, gradient penalty) or the z / E(x) it "
    "sees",
    "w_DX": "the critics' Adam step (betas, eps, weight decay) or their gradients",
    "w_DZ": "the critics' Adam step (betas, eps, weight decay) or their gradients",
    "adv_G": "the E+G step's inputs (which batch and z it sees) or the G / D_X forward pass",
    "adv_E": "the E+G step's batch or the E / D_Z forward pass",
    "rec": "the perceptual distance (VGG input preprocessing, statistics, relative L1) or the "
    "batch the E+G step sees",
    "gamma_G": "the weight policy: per-layer statistic, history length, smoothing, median, the "
    "iteration at which gammas are updated and when they take effect",
    "gamma_E": "the weight policy (as gamma_G), for the encoder's losses",
    "w_E": "the E+G update: order of weighting and backpropagation, which gamma the step uses, "
    "Adam eps / weight decay",
    "w_G": "the E+G update (as w_E), for the generator",
}


def quantities(n_dis: int) -> list[str]:
    """Compared quantities in the order one iteration of Algorithm 1 computes them."""
    critic = [f"{k}[{i}]" for i in range(1, n_dis + 1) for k in ("D_X", "D_Z")]
    return [*critic, "w_DX", "w_DZ", "adv_G", "adv_E", "rec", "gamma_G", "gamma_E", "w_E", "w_G"]


def _no_nan(obj: Any) -> Any:
    """NaN -> None and +-inf -> "inf" / "-inf", recursively (JSON has neither)."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, float) and math.isinf(obj):
        return "inf" if obj > 0 else "-inf"
    if isinstance(obj, dict):
        return {k: _no_nan(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_no_nan(v) for v in obj]
    return obj


def _where(row: dict[str, Any]) -> str:
    return f" in {row['where']}" if row.get("where") else ""


def rel_diff(a: float, b: float, floor: float = LOSS_FLOOR) -> float:
    """|a - b| / max(|a|, |b|, floor); inf when exactly one is not finite."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return 0.0 if a == b or (math.isnan(a) and math.isnan(b)) else math.inf
    return abs(a - b) / max(abs(a), abs(b), floor)


def first_parting(rows: list[dict[str, Any]], rtol: float) -> dict[str, Any] | None:
    """The first (iteration, quantity) beyond ``rtol``, in computation order; None if none."""
    for r in rows:
        if not r["rel"] <= rtol:  # NaN parts too
            return r
    return None


def diagnose(
    parting: dict[str, Any] | None,
    per_iter_max: list[float],
    n_weight: int,
    rtol: float,
    iters: int,
    dtype_name: str = "float64",
) -> str:
    """One paragraph: identical, or what parted first, where, abruptly or gradually, and why."""
    if parting is None:
        worst = max(per_iter_max) if per_iter_max else 0.0
        return (
            f"identical to tolerance (rtol {rtol:g}) over all {iters} iterations; the largest "
            f"relative difference of any quantity was {worst:.2e}"
        )
    t, q = parting["iteration"], parting["quantity"]
    before = per_iter_max[t - 2] if t >= 2 else 0.0
    jump = parting["rel"] / before if before > 0 else math.inf
    kind = q.split("[")[0]
    if q.startswith("w_"):
        where = f"iteration {t}, quantity {q}{_where(parting)} (rel {parting['rel']:.2e})"
    else:
        where = (
            f"iteration {t}, quantity {q} (ours {parting['ours']:.10g}, theirs "
            f"{parting['theirs']:.10g}, rel {parting['rel']:.2e})"
        )
    update = f"; {t} is a weight-policy update iteration" if t % n_weight == 0 else ""
    if not math.isfinite(parting["rel"]):  # one side diverged (NaN or inf): no growth to measure
        return (
            f"parted ABRUPTLY at {where}: one side's value is not finite{update}. A computation "
            f"diverged on one side only; look at {CAUSES.get(kind, kind)}."
        )
    if jump >= ABRUPT:
        caveat = ""
        if dtype_name == "float32":
            caveat = (
                " In float32 this need not be a code difference: Adam's first steps move a "
                "weight by about +-lr whatever its gradient's size, so a gradient entry that "
                "rounding leaves near zero with either sign moves it 2 lr apart; rerun with "
                "--dtype float64 to tell."
            )
        return (
            f"parted ABRUPTLY at {where}: the largest difference jumped {jump:.1e}x from "
            f"{before:.1e} in one iteration{update}. A computation differs; look at "
            f"{CAUSES.get(kind, kind)}.{caveat}"
        )
    return (
        f"parted GRADUALLY at {where}: the largest difference grew by {jump:.1f}x in its last "
        f"iteration (from {before:.1e}){update}. No single computation differs: rounding "
        "differences (float order of operations) are amplified by the adversarial dynamics; "
        f"the first quantity to cross is {q}, i.e. {CAUSES.get(kind, kind)}."
    )


def write_outputs(summary: dict[str, Any], out: Path, n_dis: int, head: int = 12) -> list[Path]:
    """``lockstep.csv`` (long format), ``lockstep.md`` (table + diagnosis), ``lockstep.json``."""
    import pandas as pd

    from piad.io import atomic_write_json, atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    columns = ["iteration", "quantity", "ours", "theirs", "rel", "where"]
    df = pd.DataFrame(summary["rows"], columns=columns)
    paths = [atomic_write_text(out / "lockstep.csv", df.to_csv(index=False))]
    wide = df.pivot(index="iteration", columns="quantity", values="rel")[quantities(n_dis)]
    iters = list(wide.index)
    pick = set(iters[:head]) | {i for i in iters if i % 25 == 0} | {iters[-1]} if iters else set()
    if summary["first_parting"]:
        t = summary["first_parting"]["iteration"]
        pick |= {i for i in iters if t - 2 <= i <= t + 2}
    table = wide.loc[sorted(pick)].map(lambda v: f"{v:.1e}")
    s = summary["settings"]
    md = [
        "# Lockstep: the suite vs the authors' implementation",
        "",
        f"Peer: {summary['peer'].get('repo')} @ {summary['peer'].get('commit')} "
        f"(checkout verified: {summary['peer'].get('verified')})",
        f"Settings: MNIST preset, digit {s['normal']}, {s['n_train']} training images, "
        f"{s['iters']} iterations, {s['dtype']}, tape from {s['tape_from']}, n_weight "
        f"{s['n_weight']}, rtol {s['rtol']:g}, {s['threads']} threads",
        f"Start: weight rel diff {max(summary['start_weight_rel_diff'].values()):.1e}; "
        f"preprocessing max |their - our image| {summary['preprocessing_max_abs_diff']:.2e}",
        "Seconds per iteration: "
        + ", ".join(f"{k} {v:.2f}" for k, v in summary["seconds_per_iteration"].items()),
        "",
        "Relative difference per quantity (|a - b| / max(|a|, |b|, 1e-3) for losses; max over",
        "each network's tensors of max|a - b| / max|a| for weights w_*):",
        "",
        table.to_markdown(disable_numparse=True),  # keep the .1e text of every cell
        "",
        "Diagnosis: " + summary["diagnosis"],
        "",
    ]
    paths.append(atomic_write_text(out / "lockstep.md", "\n".join(md)))
    plain = {k: v for k, v in summary.items() if k != "rows"}
    paths.append(atomic_write_json(out / "lockstep.json", _no_nan(plain)))
    return paths


__all__ = [
    "ABRUPT",
    "CAUSES",
    "LOSS_FLOOR",
    "diagnose",
    "first_parting",
    "quantities",
    "rel_diff",
    "write_outputs",
]

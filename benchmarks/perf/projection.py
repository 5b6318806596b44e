"""Wall-clock of whole suites projected from measured fused throughput (``fused_speed``).

A suite's PIAD cost is its model-iterations: for each PIAD job, the iterations of its preset
(the paper's budget). Each preset's jobs are divided by the best measured model-iterations/s of
a preset with the same networks (``mnist`` stands for ``fmnist``, and, with a different input
layer only, for ``coil100``; ``cifar10`` for the ablation). A family without a measured
stand-in is reported as such, never guessed. The baselines and the scoring passes are not in it
(minutes against hours), nor the weight-policy iterations (one in ``n_weight`` = 100).

>>> rows = [{"preset": "mnist", "mode": "fused", "k": 2, "model_it_per_s": 10.0}]
>>> [r["hours"] for r in project_suites(rows, ["table2"])]  # cifar10 (not measured), mnist
[None, 41.667]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

#: networks that decide a preset's cost (everything but the input channels)
_SHAPE_FIELDS = ("image_size", "latent_dim", "gen_channels", "enc_channels", "dx_channels",
                 "dz_hidden")  # fmt: skip


def _shape(family: str) -> tuple[Any, ...]:
    from piad.config import PIADConfig

    c = PIADConfig.preset(family)
    return tuple(getattr(c, f) for f in _SHAPE_FIELDS)


def stand_in(family: str, measured: Sequence[str]) -> tuple[str | None, str]:
    """(measured preset that times ``family``, how close): exact, other input channels, none."""
    from piad.config import PIADConfig

    if family in measured:
        return family, "measured"
    for preset in measured:
        if _shape(preset) == _shape(family):
            same = PIADConfig.preset(preset).in_channels == PIADConfig.preset(family).in_channels
            return preset, f"as {preset}" + ("" if same else " (other input channels)")
    return None, "not measured: add it to --presets"


def piad_model_iterations(suite: str) -> Counter[str]:
    """Model-iterations of a suite's PIAD jobs per preset family (the paper's budgets)."""
    from benchmarks.data.info import dataset_info
    from benchmarks.experiments.suites import make_jobs
    from piad.config import PIADConfig

    out: Counter[str] = Counter()
    for job in make_jobs(suite):
        if job.method != "piad":
            continue
        family = dataset_info(job.dataset).family
        out[family] += job.iters or PIADConfig.preset(family).iterations
    return out


def project_suites(
    rows: Sequence[dict[str, Any]], suites: Sequence[str] = ("table2", "table3", "ablation")
) -> list[dict[str, Any]]:
    """One row per (suite, family): PIAD jobs' model-iterations, the rate used, hours."""
    best: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r.get("model_it_per_s") and (
            r["preset"] not in best or r["model_it_per_s"] > best[r["preset"]]["model_it_per_s"]
        ):
            best[r["preset"]] = r
    out = []
    for suite in suites:
        for family, iters in sorted(piad_model_iterations(suite).items()):
            preset, how = stand_in(family, list(best))
            rate = best[preset]["model_it_per_s"] if preset else None
            setting = f"{best[preset]['mode']} K={best[preset]['k']}" if preset else ""
            out.append({
                "suite": suite, "family": family, "model_iterations": iters,
                "timed_as": how, "best_setting": setting,
                "model_it_per_s": round(rate, 4) if rate else None,
                "hours": round(iters / rate / 3600, 3) if rate else None,
            })  # fmt: skip
    return out


def markdown(projection: Sequence[dict[str, Any]], machine: str) -> str:
    """The projection as a Markdown section, with each suite's total where all is measured."""
    import pandas as pd

    if not projection:
        return ""
    frame = pd.DataFrame(projection).astype(object)
    frame = frame.where(frame.notna(), "")
    totals = []
    for suite in dict.fromkeys(r["suite"] for r in projection):
        mine = [r for r in projection if r["suite"] == suite]
        if all(r["hours"] is not None for r in mine):
            totals.append(f"{suite} {sum(r['hours'] for r in mine):.1f} h")
        else:
            totals.append(f"{suite}: part not measured")
    return (
        f"\n## Projected PIAD wall-clock of the suites on this machine ({machine})\n\n"
        "The paper's iterations of every PIAD job, at the best measured model-iterations/s of "
        "its preset (module docstring of benchmarks.perf.projection). Totals: "
        + "; ".join(totals)
        + ".\n\n"
        + frame.to_markdown(index=False)
        + "\n"
    )


__all__ = ["markdown", "piad_model_iterations", "project_suites", "stand_in"]

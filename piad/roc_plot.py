"""The one ROC plot of the project: curves with their AUCs on a matplotlib axis.

Used by a job's ``roc.png`` (:mod:`benchmarks.reporting.plots`), the suite figures
(:mod:`benchmarks.figures.suite`) and ``piad report`` (:mod:`piad.cli.plots`); anomalies
(label 1) are the positive class, as everywhere in the suite.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt, numpy as np
>>> ax = plt.figure().add_subplot()
>>> draw_roc(ax, {"all": (np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))})
{'all': 0.75}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: the chance diagonal
CHANCE = {"color": "#999999", "linestyle": ":", "linewidth": 0.8}


def draw_roc(
    ax: Any,
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    auc_digits: int = 3,
    fontsize: float = 7,
    **line: Any,
) -> dict[str, float]:
    """Draw one ROC curve per ``name -> (labels, scores)`` on ``ax``, each labelled with its AUC
    (the name, or the AUC alone for an empty name), the chance diagonal, unit limits (a
    perfect curve on the border stays visible) and a legend; returns the AUCs by name.
    ``line`` styles every curve (``color=``, ``lw=``)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    aucs = {}
    for name, (labels, scores) in curves.items():
        y, s = np.asarray(labels), np.asarray(scores)
        fpr, tpr, _ = roc_curve(y, s)
        aucs[name] = float(roc_auc_score(y, s))
        auc = f"AUC {aucs[name]:.{auc_digits}f}"
        ax.plot(fpr, tpr, label=f"{name} ({auc})" if name else auc, **line)
    ax.plot([0, 1], [0, 1], label="chance", **CHANCE)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.legend(fontsize=fontsize, loc="lower right")
    return aucs


__all__ = ["CHANCE", "draw_roc"]

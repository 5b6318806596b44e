"""piad.roc_plot: ROC curves on a matplotlib axis, each labelled with its AUC, the chance
diagonal, unit limits and a legend."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from piad.roc_plot import CHANCE, draw_roc


@pytest.fixture
def ax():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def test_auc_of_a_hand_computed_example(ax):
    # anomalies (1) score 0.35 and 0.8, normals 0.1 and 0.4: 3 of the 4 pairs are ordered
    labels, scores = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
    assert draw_roc(ax, {"test": (labels, scores)}) == {"test": 0.75}
    curve, chance = ax.get_lines()
    fpr, tpr, _ = roc_curve(labels, scores)
    np.testing.assert_array_equal(curve.get_xdata(), fpr)
    np.testing.assert_array_equal(curve.get_ydata(), tpr)
    assert curve.get_label() == "test (AUC 0.750)"
    assert list(chance.get_xdata()) == [0, 1] and list(chance.get_ydata()) == [0, 1]
    assert chance.get_label() == "chance" and chance.get_linestyle() == CHANCE["linestyle"]


def test_one_curve_per_name_with_its_auc_and_the_legend(ax):
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(50), np.ones(50)].astype(int)
    curves = {"good": (labels, labels + rng.normal(0, 0.5, 100)), "": (labels, rng.random(100))}
    aucs = draw_roc(ax, curves, auc_digits=2, color="red", lw=2.5)
    for name, (y, s) in curves.items():
        assert aucs[name] == pytest.approx(roc_auc_score(y, s), abs=1e-15)
    names = [line.get_label() for line in ax.get_lines()]
    assert names == [f"good (AUC {aucs['good']:.2f})", f"AUC {aucs['']:.2f}", "chance"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == names
    for line in ax.get_lines()[:2]:  # the styling goes to the curves, not to the diagonal
        assert line.get_color() == "red" and line.get_linewidth() == 2.5
    assert ax.get_lines()[2].get_color() == CHANCE["color"]
    assert ax.get_xlim() == (-0.01, 1.01) and ax.get_ylim() == (-0.01, 1.01)

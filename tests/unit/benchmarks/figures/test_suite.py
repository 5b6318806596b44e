"""benchmarks.figures.suite: the ROC curves of a suite read from hand-made job folders (one per
seed, per class or CelebA group), the AUC mean +- std above each panel, the default folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from benchmarks.data.splits import Split
from benchmarks.experiments.jobs import Job
from benchmarks.experiments.results import Result
from benchmarks.figures import suite
from benchmarks.figures.suite import SeedCurve, plot_suite_roc, suite_curves, suite_figures
from piad.errors import MissingInputError, PIADError
from piad.io import atomic_save_npz

LABELS = np.array([0, 0, 0, 1, 1, 1])


def _job(out: Path, job: Job, scores, groups=None, scores_file="scores.npz", **fields) -> Path:
    """A finished job folder as the runner writes it; test indices in a shuffled order."""
    folder = job.folder(out)
    test = np.array([25, 21, 22, 23, 24, 20])
    Split(job.dataset, job.protocol, job.normal, job.seed, "fp", [0], test, LABELS,
          groups or {}).save(folder / "split.npz")  # fmt: skip
    atomic_save_npz(folder / "scores.npz", scores=np.asarray(scores, float), labels=LABELS,
                    test_index=test)  # fmt: skip
    auc = float(roc_auc_score(LABELS, scores))
    Result(job, "ok", auc=auc, aucs={g: auc for g in groups or {}}, scores_file=scores_file,
           split_file="split.npz", **fields).save(folder)  # fmt: skip
    return folder


def _kde(normal: str, seed: int) -> Job:
    return Job("s", "mnist", "one_vs_all", normal, "kde", "", seed)


def test_seed_curve_auc():
    curve = SeedCurve(0, LABELS, np.array([0.1, 0.5, 0.3, 0.4, 0.8, 0.9]))
    assert curve.auc == pytest.approx(8 / 9)


def test_suite_curves_per_class_seed_and_group(tmp_path):
    _job(tmp_path, _kde("3", 1), [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    _job(tmp_path, _kde("3", 0), [0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    celeba = Job("s", "celeba", "celeba_attributes", "normal", "kde", "", 0)
    # groups are positions into the test set: Bald = anomalies 3 and 4, Bangs = anomaly 5
    _job(tmp_path, celeba, [0.1, 0.2, 0.3, 0.9, 0.8, 0.0], {"Bald": [3, 4], "Bangs": [5]})
    curves = suite_curves(tmp_path)
    assert sorted(curves) == [("celeba", "kde"), ("mnist", "kde")]
    mnist = curves["mnist", "kde"]["3"]
    assert sorted(c.seed for c in mnist) == [0, 1]
    assert {c.seed: c.auc for c in mnist} == {0: 0.0, 1: 1.0}
    bald, bangs = curves["celeba", "kde"]["Bald"][0], curves["celeba", "kde"]["Bangs"][0]
    assert bald.labels.tolist() == [0, 0, 0, 1, 1] and bald.auc == 1.0  # normals + its own
    assert bangs.scores.tolist() == [0.1, 0.2, 0.3, 0.0] and bangs.auc == 0.0


def test_suite_curves_errors_are_one_line(tmp_path):
    with pytest.raises(PIADError, match=r"no finished job under .*run the suite first"):
        suite_curves(tmp_path)
    _job(tmp_path, _kde("3", 0), [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], scores_file="gone.npz")
    with pytest.raises(MissingInputError, match=r"has no scores file gone\.npz; rerun the job"):
        suite_curves(tmp_path)


def _spy(monkeypatch) -> list[tuple[list[tuple[str, bool]], set[str]]]:
    """Per figure saved: (title and visibility of each axes, every text of the figure)."""
    drawn: list[tuple[list[tuple[str, bool]], set[str]]] = []
    save = suite.save_figure

    def spy(fig, out, name, formats):
        texts = {t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text"))}
        drawn.append(([(ax.get_title(), ax.get_visible()) for ax in fig.axes], texts))
        return save(fig, out, name, formats)

    monkeypatch.setattr(suite, "save_figure", spy)
    return drawn


def test_plot_suite_roc_titles_give_the_auc_over_seeds(tmp_path, monkeypatch):
    drawn = _spy(monkeypatch)
    good = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    bad = np.array([0.1, 0.5, 0.3, 0.4, 0.2, 0.6])  # AUC 6 / 9
    curves = {
        "3": [SeedCurve(1, LABELS, bad), SeedCurve(0, LABELS, good)],
        **{str(c): [SeedCurve(0, LABELS, good)] for c in (4, 5, 6, 7, 8)},
    }
    paths = plot_suite_roc(curves, tmp_path, "roc", "title", ("png",))
    assert [p.name for p in paths] == ["roc.png"]
    panels, texts = drawn[0]
    std = np.std([1.0, 6 / 9], ddof=1)
    assert panels[0] == (f"3: AUC {(1 + 6 / 9) / 2:.3f} ± {std:.3f}", True)
    assert panels[1] == ("4: AUC 1.000", True)  # one seed: no spread
    assert len(panels) == 10 and [v for _, v in panels].count(False) == 4  # 2 rows of 5
    assert "title" in texts


def test_suite_figures_default_folder_and_budget(tmp_path, monkeypatch, capsys):
    drawn = _spy(monkeypatch)
    results = tmp_path / "my_suite"
    job = Job("s", "mnist", "one_vs_all", "3", "piad", "code", 0, iters=10)
    _job(results, job, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], iters_run=10, iters_paper=50_000)

    def unreadable():
        raise PIADError("reported.csv is broken")

    monkeypatch.setattr(suite, "load_reported", unreadable)
    monkeypatch.chdir(tmp_path)
    paths = suite_figures(results, formats=("png",))
    folder = Path("results") / "figures" / "my_suite"
    assert paths == [folder / "roc_mnist_piad-code.png", folder / "bars.png"]
    assert all(p.is_file() for p in paths)
    assert (
        "mnist, PIAD: ROC per class, every seed\n"
        "REDUCED BUDGET: 10 iterations (paper: 50000), not a reproduction"
    ) in drawn[0][1]
    assert "note: the paper's numbers could not be read (reported.csv is broken)" in (
        capsys.readouterr().err
    )

"""``piad fit --eval-every`` and ``piad report``'s training curve; ``--tensorboard`` without
the extra is one line and exit 2."""

from __future__ import annotations

import sys

from piad import PIAD


def test_fit_with_evaluation_and_the_report_shows_the_curve(ones_and_sevens, tiny_json, cli):
    model, work = ones_and_sevens / "tiny.pt", ones_and_sevens / "work"
    code, stdout, err = cli(
        "fit", ones_and_sevens / "train", "--out", model, "--preset", tiny_json,
        "--iters", "4", "--workdir", work, "--eval-every", "2",
        "--eval-dir", ones_and_sevens / "test", "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    assert "evaluating every 2 iterations on 40 images" in stdout
    history = PIAD.load(model).eval_history
    assert [r["iteration"] for r in history] == [2, 4]
    assert history[-1]["n_images"] == 40 and 0 <= history[-1]["roc_auc"] <= 1
    assert (work / "eval.csv").read_text().count("\n") == 3
    plain = ones_and_sevens / "plain.pt"
    assert cli("fit", ones_and_sevens / "train", "--out", plain, "--preset", tiny_json,
               "--iters", "4", "--no-progress")[0] == 0  # fmt: skip
    a, b = PIAD.load(model).networks.state_dict(), PIAD.load(plain).networks.state_dict()
    assert all((a[k] == b[k]).all() for k in a)  # evaluation changed no weight

    out = ones_and_sevens / "report"
    code, _, err = cli("report", model, ones_and_sevens / "test", "--out", out,
                       "--labels", "auto", "--no-progress")  # fmt: skip
    assert code == 0, err
    assert (out / "training_curve.png").stat().st_size > 1000
    assert "training_curve.png" in (out / "index.html").read_text()
    assert "## Training curve" in (out / "report.md").read_text()
    code, _, _ = cli("report", plain, ones_and_sevens / "test", "--out", ones_and_sevens / "r2",
                     "--no-progress")  # fmt: skip
    assert code == 0 and not (ones_and_sevens / "r2" / "training_curve.png").exists()


def test_fit_evaluation_options_are_checked(ones_and_sevens, tiny_json, cli, one_line_error,
                                            monkeypatch):  # fmt: skip
    base = ["fit", ones_and_sevens / "train", "--out", ones_and_sevens / "m.pt",
            "--preset", tiny_json, "--iters", "2", "--no-progress"]  # fmt: skip
    code, _, err = cli(*base, "--eval-every", "1")
    one_line_error(code, err, "--eval-every needs --eval-dir")
    code, _, err = cli(*base, "--eval-dir", ones_and_sevens / "test")
    one_line_error(code, err, "--eval-every")
    code, _, err = cli(*base, "--eval-every", "1", "--eval-dir", ones_and_sevens / "train")
    one_line_error(code, err, "neither a normal/ nor an anomaly/")
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    code, _, err = cli(*base, "--tensorboard", ones_and_sevens / "tb")
    one_line_error(code, err, "pip install 'piad-suite[tensorboard]'")
    assert not (ones_and_sevens / "m.pt").exists()

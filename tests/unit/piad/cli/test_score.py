"""``piad score``: the score table, ranks, labels and ROC AUC, and every bad input."""

from __future__ import annotations

import csv
import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score

from piad import PIAD
from piad.image_arrays import resize_uint8


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def tiny_model(ones_and_sevens, tiny_json, cli) -> Path:
    out = ones_and_sevens / "tiny.pt"
    code, _, err = cli(
        "fit",
        ones_and_sevens / "train",
        "--out",
        out,
        "--preset",
        tiny_json,
        "--iters",
        2,
        "--no-progress",
    )
    assert code == 0, err
    return out


def test_score_kde_ones_vs_sevens_with_auto_labels(ones_and_sevens, kde_model, cli):
    out = ones_and_sevens / "res" / "scores.csv"
    code, stdout, err = cli(
        "score",
        kde_model,
        ones_and_sevens / "test",
        "--out",
        out,
        "--labels",
        "auto",
        "--no-progress",
    )
    assert code == 0, err
    rows = _read(out)
    assert len(rows) == 40 and list(rows[0]) == ["path", "score", "rank", "label"]
    scores = np.array([float(r["score"]) for r in rows])
    ranks = np.array([int(r["rank"]) for r in rows])
    labels = np.array([int(r["label"]) for r in rows])
    assert sorted(ranks) == list(range(1, 41))
    assert np.all(np.diff(scores[np.argsort(ranks)]) <= 0)  # rank 1 = the highest score
    want = [1 if "/anomaly/" in r["path"] else 0 for r in rows]
    assert labels.tolist() == want and labels.sum() == 20
    auc = roc_auc_score(labels, scores)
    assert auc > 0.9  # KDE tells real ones from sevens
    summary = json.loads((ones_and_sevens / "res" / "scores.json").read_text())
    assert summary["roc_auc"] == pytest.approx(auc, abs=1e-12)
    assert summary["n_normal"] == summary["n_anomaly"] == 20 and summary["method"] == "kde"
    assert f"ROC AUC {auc:.4f} (20 normal, 20 anomalous images)" in stdout


def test_score_labels_from_a_csv_give_the_same_auc(ones_and_sevens, kde_model, cli):
    test = ones_and_sevens / "test"
    lines = ["file,label"] + [
        f"{p.relative_to(test).as_posix()},{'anomaly' if p.parent.name == 'anomaly' else 0}"
        for p in sorted(test.rglob("*.*"))
    ]
    (test / "labels.csv").write_text("\n".join(lines) + "\n")
    code, _, err = cli(
        "score",
        kde_model,
        test,
        "--out",
        ones_and_sevens / "a.csv",
        "--labels",
        test / "labels.csv",
        "--no-progress",
    )
    assert code == 0, err
    cli(
        "score",
        kde_model,
        test,
        "--out",
        ones_and_sevens / "b.csv",
        "--labels",
        "auto",
        "--no-progress",
    )
    a = json.loads((ones_and_sevens / "a.json").read_text())
    b = json.loads((ones_and_sevens / "b.json").read_text())
    assert a["roc_auc"] == b["roc_auc"] and a["n_images"] == 40


def test_score_single_files_without_labels(ones_and_sevens, kde_model, cli):
    picked = [
        ones_and_sevens / "test" / "anomaly" / "003.png",
        ones_and_sevens / "test" / "normal" / "004.jpg",
    ]
    out = ones_and_sevens / "s.csv"
    code, stdout, _ = cli("score", kde_model, *picked, "--out", out, "--no-progress")
    assert code == 0 and "ROC AUC" not in stdout
    rows = _read(out)
    assert [r["path"] for r in rows] == [str(p) for p in picked]
    assert list(rows[0]) == ["path", "score", "rank"]
    assert json.loads(out.with_suffix(".json").read_text())["roc_auc"] is None


def test_score_piad_equals_the_python_api(ones_and_sevens, tiny_model, mnist5k, files, cli):
    """The CSV holds PIAD.score of the digits resized as the datasets do (28 -> 8)."""
    out = ones_and_sevens / "p.csv"
    folder = ones_and_sevens / "more"
    digits = files.digits(mnist5k, 7, 9, start=200)
    files.write_images(folder, digits)
    assert cli("score", tiny_model, folder, "--out", out, "--no-progress")[0] == 0
    got = np.array([float(r["score"]) for r in _read(out)])
    want = PIAD.load(tiny_model).score(resize_uint8(digits, 8))
    assert np.array_equal(got, want)


# ------------------------------------------------------------------------------ bad input
def _not_models(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {
        "random bytes": folder / "random.pt",
        "an image": folder / "image.pt",
        "another torch file": folder / "other.pt",
        "a pickled object": folder / "obj.pt",
    }
    out["random bytes"].write_bytes(np.random.default_rng(0).bytes(300))
    Image.new("L", (8, 8)).save(out["an image"], format="png")
    torch.save({"format": "something-else/1", "weights": torch.zeros(2)}, out["another torch file"])
    torch.save(torch.nn.Linear(2, 2), out["a pickled object"])  # refused by weights_only
    return out


@pytest.mark.parametrize(
    "kind", ["random bytes", "an image", "another torch file", "a pickled object"]
)
def test_score_refuses_a_file_that_is_not_a_model(
    tmp_path, mnist5k, files, cli, kind, one_line_error
):
    files.write_images(tmp_path / "imgs", files.digits(mnist5k, 1, 2))
    model = _not_models(tmp_path / "models")[kind]
    out = tmp_path / "scores.csv"
    code, _, err = cli("score", model, tmp_path / "imgs", "--out", out)
    one_line_error(code, err, str(model), "is not a PIAD model file", "piad fit")
    assert len(err) < 400 and not out.exists() and not out.with_suffix(".json").exists()


def test_score_missing_model(tmp_path, cli, one_line_error):
    code, _, err = cli("score", tmp_path / "none.pt", tmp_path, "--out", tmp_path / "s.csv")
    one_line_error(code, err, "no model file", "none.pt", "piad fit")


def test_score_refuses_another_size_unless_converted(
    ones_and_sevens, kde_model, mnist5k, cli, one_line_error
):
    folder = ones_and_sevens / "big"
    folder.mkdir()
    for i, d in enumerate(mnist5k[0][:3]):
        Image.fromarray(d).resize((56, 56)).save(folder / f"{i}.png")
    out = ones_and_sevens / "s.csv"
    code, _, err = cli("score", kde_model, folder, "--out", out, "--no-progress")
    one_line_error(code, err, "0.png (and 2 more) is 56x56", "trained on 28x28", "--convert")
    assert not out.exists()
    assert cli("score", kde_model, folder, "--out", out, "--convert", "--no-progress")[0] == 0
    assert len(_read(out)) == 3


def test_score_refuses_other_channels_unless_converted(
    ones_and_sevens, kde_model, mnist5k, files, cli, one_line_error
):
    folder = ones_and_sevens / "rgb"
    files.write_images(folder, files.digits(mnist5k, 1, 2, start=300), rgb=True)
    out = ones_and_sevens / "s.csv"
    code, _, err = cli("score", kde_model, folder, "--out", out, "--no-progress")
    one_line_error(code, err, "000.png (and 1 more) is RGB", "trained on grayscale", "--convert")
    assert not out.exists()
    assert cli("score", kde_model, folder, "--out", out, "--convert", "--no-progress")[0] == 0
    grey = ones_and_sevens / "grey"
    files.write_images(grey, files.digits(mnist5k, 1, 2, start=300))
    cli("score", kde_model, grey, "--out", ones_and_sevens / "g.csv", "--no-progress")
    same = [r["score"] for r in _read(out)] == [
        r["score"] for r in _read(ones_and_sevens / "g.csv")
    ]
    assert same  # grey content in RGB files, converted back: the same scores


BAD_SCORES = {
    "image outside normal/ and anomaly/": (
        lambda d: (d / "stray").mkdir() or d / "stray",
        ["--labels", "auto"],
        ["stray", "neither a normal/ nor an anomaly/"],
    ),
    "labels CSV without a row for an image": (
        lambda d: (d / "labels.csv").write_text("normal/000.png,0\n") and None,
        ["--labels", "LABELS"],
        ["has no row in the labels file", "and 38 more"],
    ),
    "only normal images": (lambda d: None, ["--labels", "auto", "ONLY_NORMAL"], ["needs both"]),
    "labels CSV missing": (
        lambda d: None,
        ["--labels", "nope.csv"],
        ["nope.csv", "does not exist"],
    ),
    "bad label value": (
        lambda d: (d / "labels.csv").write_text("path,label\nnormal/000.png,maybe\n") and None,
        ["--labels", "LABELS"],
        ["label 'maybe' is not 0/normal or 1/anomaly"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_SCORES))
def test_score_bad_labels(ones_and_sevens, kde_model, mnist5k, cli, one_line_error, case):
    make, extra, needles = BAD_SCORES[case]
    test = ones_and_sevens / "test"
    stray = make(test)
    if stray is not None:
        Image.fromarray(mnist5k[0][0]).save(stray / "x.png")
    extra = [str(test / "labels.csv") if a == "LABELS" else a for a in extra]
    target = test / "normal" if "ONLY_NORMAL" in extra else test
    extra = [a for a in extra if a != "ONLY_NORMAL"]
    out = ones_and_sevens / "s.csv"
    code, _, err = cli("score", kde_model, target, "--out", out, "--no-progress", *extra)
    one_line_error(code, err, *needles)
    assert not out.exists()


def test_score_out_is_a_folder_and_empty_input(ones_and_sevens, kde_model, cli, one_line_error):
    (ones_and_sevens / "dir.csv").mkdir()
    code, _, err = cli(
        "score", kde_model, ones_and_sevens / "test", "--out", ones_and_sevens / "dir.csv"
    )
    one_line_error(code, err, "dir.csv is a folder")
    (ones_and_sevens / "empty").mkdir()
    code, _, err = cli(
        "score", kde_model, ones_and_sevens / "empty", "--out", ones_and_sevens / "s.csv"
    )
    one_line_error(code, err, "empty", "is empty")


def test_a_pickled_estimator_file_is_read_only_after_its_format_is_checked(
    tmp_path, cli, one_line_error
):
    """A torch file claiming the estimator format with a pickle that cannot be read."""
    path = tmp_path / "broken.pt"
    torch.save(
        {
            "format": "piad-estimator/1",
            "method": "kde",
            "provenance": {},
            "estimator": pickle.dumps(None)[:-1],
        },
        path,
    )
    (tmp_path / "imgs").mkdir()
    Image.new("L", (28, 28)).save(tmp_path / "imgs" / "a.png")
    code, _, err = cli("score", path, tmp_path / "imgs", "--out", tmp_path / "s.csv")
    one_line_error(code, err, "cannot read the kde estimator", "fit it again")


def test_python_m_piad_score_in_a_subprocess(ones_and_sevens, kde_model):
    out = ones_and_sevens / "sub.csv"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "piad",
            "score",
            str(kde_model),
            str(ones_and_sevens / "test"),
            "--out",
            str(out),
            "--labels",
            "auto",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "ROC AUC" in done.stdout and len(_read(out)) == 40


def test_an_unwritable_output_is_one_line(ones_and_sevens, kde_model, cli, one_line_error,
                                          monkeypatch):  # fmt: skip
    import piad.cli.score as score

    def refuse(path, obj):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(score, "atomic_write_json", refuse)
    out = ones_and_sevens / "s.csv"
    code, _, err = cli("score", kde_model, ones_and_sevens / "test", "--out", out,
                       "--no-progress")  # fmt: skip
    one_line_error(code, err, "PermissionError", "s.json", "permissions")
    assert not out.exists()

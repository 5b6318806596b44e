"""``piad report``: its files, the pages that show them, reconstructions, and bad input."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import numpy as np
from PIL import Image

from piad import PIAD
from piad.cli import plots
from piad.cli.estimators import load_model
from piad.image_arrays import to_uint8

PICTURES = {"most_anomalous.png", "least_anomalous.png", "histogram.png", "overview.png"}


def _sources(page: str) -> set[str]:
    return set(re.findall(r'src="([^"]+)"', page))


def test_report_with_labels(ones_and_sevens, kde_model, cli):
    out = ones_and_sevens / "report"
    code, stdout, err = cli(
        "report",
        kde_model,
        ones_and_sevens / "test",
        "--out",
        out,
        "--labels",
        "auto",
        "--k",
        6,
        "--no-progress",
    )
    assert code == 0, err
    assert "ROC AUC" in stdout
    names = {p.name for p in out.iterdir()}
    assert {*PICTURES, "roc.png", "index.html", "report.md", "scores.csv", "summary.json"} == names
    for name in PICTURES | {"roc.png"}:
        with Image.open(out / name) as im:
            assert im.format == "PNG" and min(im.size) > 100
    page = (out / "index.html").read_text()
    assert _sources(page) == PICTURES | {"roc.png"}
    md = (out / "report.md").read_text()
    assert set(re.findall(r"\]\(([^)]+\.png)\)", md)) == PICTURES | {"roc.png"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["k"] == 6 and summary["reconstructions"] is False
    assert summary["roc_auc"] > 0.9 and summary["n_images"] == 40
    # the page lists the 6 most anomalous images first, with the highest score
    scores = {}
    for line in (out / "scores.csv").read_text().splitlines()[1:]:
        path, score, rank, _label = line.rsplit(",", 3)
        scores[path] = (float(score), int(rank))
    top = max(scores, key=lambda p: scores[p][0])
    assert scores[top][1] == 1 and top in md.split("least anomalous")[0]


def test_report_without_labels_has_no_roc(ones_and_sevens, kde_model, cli):
    out = ones_and_sevens / "r2"
    code, _, err = cli(
        "report",
        kde_model,
        ones_and_sevens / "test" / "anomaly",
        "--out",
        out,
        "--k",
        100,
        "--no-progress",
    )
    assert code == 0, err
    assert not (out / "roc.png").exists()
    assert _sources((out / "index.html").read_text()) == PICTURES
    summary = json.loads((out / "summary.json").read_text())
    assert summary["k"] == 20 and summary["roc_auc"] is None  # k clipped to the 20 images


def test_report_piad_shows_reconstructions(ones_and_sevens, kde_model, tiny_json, cli):
    model_path = ones_and_sevens / "tiny.pt"
    assert cli("fit", ones_and_sevens / "train", "--out", model_path, "--preset", tiny_json,
               "--iters", 2, "--no-progress")[0] == 0  # fmt: skip
    out = ones_and_sevens / "rp"
    code, _, err = cli("report", model_path, ones_and_sevens / "test", "--out", out, "--k", 8,
                       "--labels", "auto", "--no-progress")  # fmt: skip
    assert code == 0, err
    assert json.loads((out / "summary.json").read_text())["reconstructions"] is True
    assert "G(E(x))" in (out / "report.md").read_text()
    # 8 images with reconstructions: 2 rows of 4 pairs; without (a baseline): 1 row of 8
    x = np.zeros((8, 8, 8, 1), np.uint8)
    alone = plots.grid_png(x, None, [0.0] * 8, list(range(1, 9)), None, "t")
    with Image.open(out / "most_anomalous.png") as pairs, Image.open(io.BytesIO(alone)) as single:
        assert pairs.size[1] > 1.5 * single.size[1]
    loaded = load_model(model_path)
    want = to_uint8(PIAD.load(model_path).reconstruct(x[:2])).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(loaded.reconstruct(x[:2]), want)
    assert load_model(kde_model).reconstruct(x[:2]) is None


def test_report_out_is_a_file(ones_and_sevens, kde_model, cli, one_line_error):
    target = ones_and_sevens / "report.txt"
    target.write_text("keep me")
    code, _, err = cli("report", kde_model, ones_and_sevens / "test", "--out", target)
    one_line_error(code, err, "report.txt is a file", "folder")
    assert target.read_text() == "keep me"


def test_report_inside_the_image_folder(ones_and_sevens, kde_model, cli, one_line_error):
    out = ones_and_sevens / "test" / "report"
    code, _, err = cli("report", kde_model, ones_and_sevens / "test", "--out", out)
    one_line_error(code, err, "is inside the image folder", "elsewhere")
    assert not out.exists()


def test_report_bad_model_writes_nothing(ones_and_sevens, cli, one_line_error):
    fake = ones_and_sevens / "fake.pt"
    fake.write_bytes(b"\x00" * 64)
    out = ones_and_sevens / "r3"
    code, _, err = cli("report", fake, ones_and_sevens / "test", "--out", out)
    one_line_error(code, err, "fake.pt is not a PIAD model file")
    assert not out.exists()


def test_python_m_piad_report_help():
    done = subprocess.run(
        [sys.executable, "-m", "piad", "report", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "--labels" in done.stdout and "G(E(x))" in done.stdout

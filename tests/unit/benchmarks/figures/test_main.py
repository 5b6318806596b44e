"""benchmarks.figures.__main__: the ``python -m benchmarks.figures`` parser (subcommands,
--formats), how each figure's arguments reach its functions (stand-ins replace the trained
model and the plots), and the one-line errors with exit code 2."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks.figures.testsets import EvalImages

cli = importlib.import_module("benchmarks.figures.__main__")


def _one_line_error(capsys, argv: list[str], message: str) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1, err


@pytest.mark.parametrize(("text", "formats"), [("png", ("png",)), (" svg, pdf ,", ("svg", "pdf"))])
def test_formats_are_parsed(text, formats):
    assert cli._formats(text) == formats


@pytest.mark.parametrize("text", ["", " , ", "gif", "png,jpg"])
def test_bad_formats_are_an_argparse_error(text, capsys):
    with pytest.raises(argparse.ArgumentTypeError, match="formats must be among png, pdf, svg"):
        cli._formats(text)
    with pytest.raises(SystemExit) as stop:
        cli.build_parser().parse_args(["suite", "--results", "r", "--formats", text])
    assert stop.value.code == 2
    assert f"formats must be among png, pdf, svg; got {text!r}" in capsys.readouterr().err


def test_each_subcommand_runs_its_own_figure():
    parser = cli.build_parser()
    argv = {
        "contrast": [],
        "filters": [],
        "samples": [],
        "extremes": [],
        "suite": ["--results", "r"],
        "curves": ["--results", "r"],
    }
    assert set(argv) == set(cli.COMMANDS)
    for name, extra in argv.items():
        args = parser.parse_args([name, *extra])
        assert args.figure == name and args.run is cli.COMMANDS[name]
    with pytest.raises(SystemExit):
        parser.parse_args(["suite"])  # --results is required
    with pytest.raises(SystemExit):
        parser.parse_args(["figure6"])


def test_model_and_data_from_a_job_or_a_model_and_a_split(monkeypatch):
    calls = []
    data = EvalImages(np.zeros((6, 2, 2, 1), np.uint8), [0, 0, 0, 1, 1, 1], name="d")
    monkeypatch.setattr(cli, "load_model", lambda p, device: calls.append(("model", p, device)))
    monkeypatch.setattr(cli, "job_eval_images", lambda j, r: calls.append(("job", j, r)) or data)
    monkeypatch.setattr(cli, "split_eval_images", lambda *a: calls.append(("split", *a)) or data)
    parser = cli.build_parser()
    args = parser.parse_args(["samples", "--job", "J", "--max-images", "4", "--seed", "1"])
    _, subset = cli._model_and_data(args)
    assert calls == [("model", "J", "auto"), ("job", "J", "data")]
    assert len(subset.labels) == 4 and np.array_equal(subset.images, data.subset(4, 1).images)
    calls.clear()
    model_args = ["--model", "m.pt", "--dataset", "mnist", "--normal", "3", "--split-seed", "2"]
    args = parser.parse_args(
        ["extremes", *model_args, "--protocol", "p", "--device", "cpu", "--data-root", "D"]
    )
    assert cli._model_and_data(args)[1] is data  # all images: no --max-images
    assert calls == [("model", "m.pt", "cpu"), ("split", "mnist", "3", "D", "p", 2)]
    args = parser.parse_args(["samples", "--model", "m.pt", "--dataset", "mnist"])
    with pytest.raises(cli.PIADError, match="say which model and test set: --job JOB_FOLDER"):
        cli._model_and_data(args)  # no --normal


def _stand_ins(monkeypatch) -> dict:
    """A trained model, its test set and the figure functions replaced by recorders."""
    seen: dict = {}
    model = SimpleNamespace(device="cpu", iterations_run=2)
    labels = np.array([0, 0, 1, 1])
    data = EvalImages(np.arange(4)[:, None, None, None].astype(np.uint8), labels, name="toy/h")
    monkeypatch.setattr(cli, "_model_and_data", lambda args: (model, data))

    def rank(model_, images, labels_, distances, features, batch_size):
        seen["rank"] = (list(distances), features, batch_size, images.shape)
        return {d: SimpleNamespace(auc=0.75) for d in distances}

    def plot_extremes(images, rankings, out, k, labels_, name, title, formats):
        seen["extremes"] = (list(rankings), out, k, name, title, formats)
        return [Path(out) / f"{name}.png"]

    def plot_samples(model_, normal, anomalies, out, n, seed, name, title, formats):
        seen["samples"] = (len(normal), anomalies is None, n, seed, name, title, formats)
        return [Path(out) / f"{name}.png"]

    monkeypatch.setattr(cli, "rank_by_distances", rank)
    monkeypatch.setattr(cli, "plot_extremes", plot_extremes)
    monkeypatch.setattr(cli, "plot_samples", plot_samples)
    return seen


def test_extremes_arguments_reach_the_ranking_and_the_figure(monkeypatch, capsys, tmp_path):
    seen = _stand_ins(monkeypatch)
    argv = ["extremes", "--out", str(tmp_path), "--distances", " mse, rel_perc_l1 ,", "--k", "3"]
    assert cli.main([*argv, "--batch-size", "7", "--formats", "svg"]) == 0
    assert seen["rank"] == (["mse", "rel_perc_l1"], None, 7, (4, 1, 1, 1))
    title = "Figure 5: toy/h, least (top) and most (bottom) anomalous; ROC AUC"
    assert seen["extremes"] == (
        ["mse", "rel_perc_l1"],
        str(tmp_path),
        3,
        "extremes",
        title,
        ("svg",),
    )
    out = capsys.readouterr().out.splitlines()
    assert out == ["MSE: ROC AUC 0.7500", "rel-perc-L1: ROC AUC 0.7500", f"{tmp_path}/extremes.png"]
    _one_line_error(capsys, ["extremes", "--distances", "mse,l2"], "unknown distance 'l2'; known:")
    assert "rank" in seen and seen["rank"][0] == ["mse", "rel_perc_l1"]  # not called again


def test_samples_arguments_reach_the_figure(monkeypatch, capsys, tmp_path):
    seen = _stand_ins(monkeypatch)
    argv = ["samples", "--out", str(tmp_path), "--n", "1", "--seed", "3", "--name", "fig4"]
    assert cli.main(argv) == 0
    assert seen["samples"] == (
        1,
        False,
        1,
        3,
        "fig4",
        "Figure 4: toy/h (2 iterations)",
        ("png", "pdf"),
    )
    assert capsys.readouterr().out == f"{tmp_path}/fig4.png\n"


def test_errors_are_one_line_with_exit_code_2(capsys, tmp_path):
    _one_line_error(capsys, ["contrast", "--steps", "0"], "--steps must be >= 1, got 0")
    _one_line_error(capsys, ["extremes", "--out", str(tmp_path)], "say which model and test set")
    missing = tmp_path / "absent.pt"
    argv = ["samples", "--model", str(missing), "--dataset", "mnist", "--normal", "3"]
    _one_line_error(capsys, argv, f"no model file at {missing}")
    _one_line_error(capsys, ["curves", "--results", str(tmp_path)], "no work/eval.csv under")
    _one_line_error(
        capsys, ["curves", "--results", str(tmp_path), "--metric", "acc"], "unknown metric 'acc'"
    )


def test_curves_are_drawn_into_the_results_folder_by_default(capsys, tmp_path):
    work = tmp_path / "mnist" / "piad" / "3" / "seed0" / "work"
    work.mkdir(parents=True)
    (work / "eval.csv").write_text("iteration,roc_auc\n10,0.5\n20,0.75\n")
    assert cli.main(["curves", "--results", str(tmp_path)]) == 0
    default = tmp_path / "figures" / "curves.png"
    assert capsys.readouterr().out == f"{default}\n" and default.is_file()
    argv = ["curves", "--results", str(tmp_path), "--out", str(tmp_path / "o"), "--name", "c"]
    assert cli.main([*argv, "--formats", "pdf,png"]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'o' / 'c.pdf'}\n"  # the first file written
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["c.pdf", "c.png"]

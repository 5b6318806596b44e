"""``piad report MODEL.pt DIR --out report/``: the most and least anomalous images with their
reconstructions, the score histogram and (with labels) the ROC curve, as PNGs + HTML + Markdown.

Everything is computed and drawn in memory first; the files are written (each atomically) only
once all of it succeeded, ``index.html`` last.
"""

from __future__ import annotations

import argparse
import html
from pathlib import Path
from typing import Any

import numpy as np

from piad.cli import plots
from piad.cli.common import check_out_dir, positive_int, ranks, scores_csv
from piad.cli.score import Scored, add_labels_options, score_images
from piad.errors import PIADError
from piad.image_files import channel_name
from piad.io import atomic_write_bytes, atomic_write_json

DESCRIPTION = """\
Write a report of a model on a folder of images into --out (created): the k most and k least
anomalous images as grids, each with its reconstruction G(E(x)) beside it (PIAD; the baselines
have none: images only), the score histogram (normal vs anomaly when labelled), the ROC curve
(with --labels), everything in one overview.png, the scores (scores.csv, summary.json) and a
page showing them (index.html, report.md). Images are read as in `piad score`.
"""

EPILOG = """\
files:
  most_anomalous.png least_anomalous.png histogram.png [roc.png] overview.png
  scores.csv summary.json report.md index.html

A baseline's model file holds a pickle: use only model files you made yourself.

example:
  piad report model.pt test/ --out report/ --k 8 --labels auto
"""

MOST, LEAST, HIST, ROC, OVERVIEW = (
    "most_anomalous.png",
    "least_anomalous.png",
    "histogram.png",
    "roc.png",
    "overview.png",
)
CURVE = "training_curve.png"  # when the model was fitted with --eval-every


def eval_history(scored: Scored) -> list[dict[str, float]]:
    """The model's rows of ``piad fit --eval-every`` (empty when it was fitted without)."""
    history = getattr(scored.model.estimator, "eval_history", None) or []
    return [dict(r) for r in history if "iteration" in r]


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="a report: most/least anomalous images with reconstructions, histogram, ROC",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL.pt", help="model file written by `piad fit`")
    p.add_argument("images", nargs="+", metavar="DIR", help="folder(s) or image files")
    p.add_argument("--out", required=True, metavar="report/", help="folder to write (created)")
    p.add_argument("--k", type=positive_int, default=8, help="images in each grid (default 8)")
    add_labels_options(p)
    p.set_defaults(run=run)


def _grid_args(scored: Scored, idx: np.ndarray, title: str) -> dict[str, Any]:
    images = scored.loaded.images[idx]
    r = ranks(scored.scores)
    return {
        "images": images,
        "reconstructions": scored.model.reconstruct(images),
        "scores": [float(scored.scores[i]) for i in idx],
        "ranks": [int(r[i]) for i in idx],
        "labels": None if scored.labels is None else [int(scored.labels[i]) for i in idx],
        "title": title,
    }


def _rows(scored: Scored, idx: np.ndarray) -> list[tuple[int, float, str, str]]:
    r = ranks(scored.scores)
    out = []
    for i in idx:
        label = "" if scored.labels is None else ("anomaly" if scored.labels[i] else "normal")
        out.append((int(r[i]), float(scored.scores[i]), label, str(scored.loaded.paths[i])))
    return out


def _headline(scored: Scored) -> list[str]:
    recipe = scored.model.input.recipe
    lines = [
        f"model: {scored.model.path} ({scored.model.method})",
        f"images: {len(scored.scores)} scored"
        + (f", {len(scored.loaded.skipped)} unreadable skipped" if scored.loaded.skipped else "")
        + f", read as {recipe.size}x{recipe.size} {channel_name(recipe.channels or 1)}",
        "score: higher = more anomalous; rank 1 = the most anomalous",
    ]
    if scored.auc_line():
        lines.append(str(scored.auc_line()))
    return lines


def markdown_page(scored: Scored, k: int, most: np.ndarray, least: np.ndarray) -> str:
    rec = " (left: image, right: its reconstruction G(E(x)))" if scored.model.reconstructs else ""
    parts = ["# Anomaly report", "", *[f"- {line}" for line in _headline(scored)], ""]
    parts += [f"![overview]({OVERVIEW})", ""]
    for title, name, idx in (
        (f"{k} most anomalous", MOST, most),
        (f"{k} least anomalous", LEAST, least),
    ):
        parts += [f"## {title}{rec}", "", f"![{title}]({name})", ""]
        parts += ["| rank | score | label | path |", "|---|---|---|---|"]
        parts += [f"| {r} | {s:.6g} | {lab} | `{p}` |" for r, s, lab, p in _rows(scored, idx)]
        parts.append("")
    parts += ["## Scores", "", f"![score histogram]({HIST})", ""]
    if scored.auc is not None:
        parts += [f"![ROC curve]({ROC})", ""]
    history = eval_history(scored)
    if history:
        last = history[-1]
        parts += ["## Training curve", "", f"![training curve]({CURVE})", ""]
        parts += [
            f"Evaluated every {int(history[0]['iteration'])} iterations during `piad fit` on "
            f"{int(last.get('n_images', 0))} labelled images; at the last iteration "
            f"({int(last['iteration'])}) ROC AUC {last['roc_auc']:.4f}.",
            "",
        ]
    parts += ["All scores: [scores.csv](scores.csv); summary: [summary.json](summary.json).", ""]
    return "\n".join(parts)


def html_page(scored: Scored, k: int, most: np.ndarray, least: np.ndarray) -> str:
    e = html.escape
    rec = " (left: image, right: its reconstruction G(E(x)))" if scored.model.reconstructs else ""
    body = ["<h1>Anomaly report</h1>", "<ul>"]
    body += [f"<li>{e(line)}</li>" for line in _headline(scored)]
    body += ["</ul>", f'<p><img src="{OVERVIEW}" alt="overview"></p>']
    for title, name, idx in (
        (f"{k} most anomalous", MOST, most),
        (f"{k} least anomalous", LEAST, least),
    ):
        body += [f"<h2>{e(title + rec)}</h2>", f'<p><img src="{name}" alt="{e(title)}"></p>']
        body += ["<table><tr><th>rank</th><th>score</th><th>label</th><th>path</th></tr>"]
        body += [
            f"<tr><td>{r}</td><td>{s:.6g}</td><td>{e(lab)}</td><td><code>{e(p)}</code></td></tr>"
            for r, s, lab, p in _rows(scored, idx)
        ]
        body.append("</table>")
    body += ["<h2>Scores</h2>", f'<p><img src="{HIST}" alt="score histogram">']
    if scored.auc is not None:
        body.append(f' <img src="{ROC}" alt="ROC curve">')
    if eval_history(scored):
        body.append(f'</p><h2>Training curve</h2><p><img src="{CURVE}" alt="training curve">')
    body += [
        "</p>",
        '<p>All scores: <a href="scores.csv">scores.csv</a>; summary: '
        '<a href="summary.json">summary.json</a>.</p>',
    ]
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
        "img{max-width:100%}table{border-collapse:collapse;font-size:90%}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
    )
    head = f'<meta charset="utf-8"><title>Anomaly report</title><style>{style}</style>'
    return (
        f"<!doctype html>\n<html><head>{head}</head><body>\n"
        + "\n".join(body)
        + ("\n</body></html>\n")
    )


def build_report(scored: Scored, k: int) -> dict[str, bytes]:
    """Every file of the report (name -> content), drawn in memory."""
    k = min(k, len(scored.scores))
    order = np.argsort(-scored.scores, kind="stable")
    most, least = order[:k], order[::-1][:k]
    most_args = _grid_args(scored, most, f"{k} most anomalous (highest scores)")
    least_args = _grid_args(scored, least, f"{k} least anomalous (lowest scores)")
    title = f"{scored.model.method}: {len(scored.scores)} images" + (
        f", ROC AUC {scored.auc:.4f}" if scored.auc is not None else ""
    )
    files: dict[str, bytes] = {
        MOST: plots.grid_png(**most_args),
        LEAST: plots.grid_png(**least_args),
        HIST: plots.histogram_png(scored.scores, scored.labels),
    }
    if scored.auc is not None and scored.labels is not None:
        files[ROC] = plots.roc_png(scored.labels, scored.scores)
    history = eval_history(scored)
    if history:
        files[CURVE] = plots.training_curve_png(history)
    files[OVERVIEW] = plots.overview_png(
        most_args, least_args, scored.scores, scored.labels, scored.auc, title
    )
    files["scores.csv"] = scores_csv(scored.loaded.paths, scored.scores, scored.labels).encode()
    files["report.md"] = markdown_page(scored, k, most, least).encode()
    files["index.html"] = html_page(scored, k, most, least).encode()
    return files


def _outside_sources(out: Path, sources: list[str]) -> None:
    """A report inside a scored folder would be read as images by the next run: refuse it."""
    for source in sources:
        folder = Path(source).resolve()
        if folder.is_dir() and out.resolve().is_relative_to(folder):
            raise PIADError(
                f"--out {out} is inside the image folder {source}; write the report elsewhere "
                "(its PNGs would be scored next time)"
            )


def run(args: argparse.Namespace) -> int:
    out = check_out_dir(args.out)
    _outside_sources(out, args.images)
    scored = score_images(
        args.model,
        args.images,
        labels=args.labels,
        device=args.device,
        strict=args.strict,
        convert=args.convert,
        progress=not args.no_progress,
    )
    files = build_report(scored, args.k)
    summary = {
        **scored.summary(),
        "k": min(args.k, len(scored.scores)),
        "reconstructions": scored.model.reconstructs,
        "files": sorted(files),
    }
    page = files.pop("index.html")
    for name, data in files.items():
        atomic_write_bytes(out / name, data)
    atomic_write_json(out / "summary.json", summary)
    atomic_write_bytes(out / "index.html", page)  # last: its presence means "complete"
    print(f"wrote the report of {len(scored.scores)} images to {out / 'index.html'}")
    line = scored.auc_line()
    if line:
        print(line)
    return 0


__all__ = ["build_report", "html_page", "markdown_page", "run"]

"""The README and docs/ hold what the code does: links, options, the map of the code, commands."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
from paths import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
PACKAGES = ("piad", "baselines", "benchmarks")
#: the commands the README's CI step runs, word for word (.ci/run reads them from here)
TEST_COMMAND = (
    'python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[test]" && python -m pytest'
)
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
LINK = re.compile(r"\]\(([^)\s]+)\)")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def prose(text: str) -> str:
    """The Markdown without its fenced code blocks."""
    return FENCE.sub("", text)


def section(text: str, title: str) -> str:
    """The body of the ``## title`` / ``### title`` section, up to the next heading of any level."""
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ |\Z)", text, re.S | re.M)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


# ------------------------------------------------------------------------------ links
@pytest.mark.parametrize("doc", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_exists(doc: Path) -> None:
    missing = []
    for target in LINK.findall(prose(doc.read_text())):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a URL or an anchor in the same file
        if not (doc.parent / target.split("#", 1)[0]).exists():
            missing.append(target)
    assert not missing, f"{doc.name} links to files that do not exist: {missing}"


def test_every_doc_is_linked_once_from_the_readme() -> None:
    links = [t for t in LINK.findall(prose(README.read_text())) if t.startswith("docs/")]
    linked = [t.split("#", 1)[0] for t in links]
    twice = sorted({t for t in linked if linked.count(t) > 1})
    assert not twice, f"README links these docs more than once: {twice}"
    orphans = [
        f"docs/{p.name}" for p in sorted(DOCS.glob("*.md")) if f"docs/{p.name}" not in linked
    ]
    assert not orphans, f"README links none of {orphans}"
    assert linked, "README links no docs/ page"


# ------------------------------------------------------------------------------ options
def parser_options(parser: argparse.ArgumentParser) -> set[str]:
    """Every ``--option`` of a parser and of its sub-commands."""
    out: set[str] = set()
    for action in parser._actions:
        out.update(o for o in action.option_strings if o.startswith("--"))
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out |= parser_options(sub)
    return out


def run_all_options() -> set[str]:
    from benchmarks.cli import build_parser

    return parser_options(build_parser())


def piad_options() -> set[str]:
    from piad.cli import build_parser

    return parser_options(build_parser())


def fetch_options(capsys: pytest.CaptureFixture[str]) -> set[str]:
    """``python -m benchmarks.fetch``'s options, read from its ``--help`` (its parser is local)."""
    from benchmarks.fetch import main

    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["--help"])
    return set(OPTION.findall(capsys.readouterr().out))


def test_every_option_in_the_options_table_is_run_alls() -> None:
    table = section(README.read_text(), "Options")
    rows = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `--")]
    named = {o for row in rows for o in OPTION.findall(row)}
    assert len(named) >= 15, f"the options table names only {sorted(named)}"
    unknown = sorted(named - run_all_options())
    assert not unknown, f"README's options table names options run_all.py lacks: {unknown}"


def test_every_option_the_readme_names_exists(capsys: pytest.CaptureFixture[str]) -> None:
    named = set(OPTION.findall(README.read_text()))
    known = run_all_options() | piad_options() | fetch_options(capsys)
    unknown = sorted(named - known)
    assert not unknown, f"README names options no command has: {unknown}"


def test_the_readme_holds_the_commands_ci_runs() -> None:
    text = README.read_text()
    assert TEST_COMMAND in text
    assert "python -m pytest -m slow" in text


# ------------------------------------------------------------------------------ map of the code
NAME = re.compile(r"^(?:\w+\.py|\w+/)$")


def map_entries() -> set[str]:
    """The modules the README's map of the code lists, as paths (``piad/training/data.py``).

    The map is an indented tree: a line's leading words that end in ``.py`` (modules) or ``/``
    (a folder, whose entries follow, further indented) are names; the rest is description.
    """
    block = re.search(
        r"^```\n(.*?)^```", section(README.read_text(), "Map of the code"), re.S | re.M
    )
    assert block, "the map of the code is a fenced block"
    entries: set[str] = set()
    folders: list[tuple[int, str]] = []  # (indent, name) of the enclosing folders
    for line in block.group(1).splitlines():
        indent = len(line) - len(line.lstrip())
        words = line.split()
        names = []
        for word in words:
            if not NAME.match(word):
                break
            names.append(word)
        if not names:
            continue  # a description continued on the next line
        while folders and folders[-1][0] >= indent:
            folders.pop()
        prefix = "".join(name for _, name in folders)
        for name in names:
            if name.endswith("/"):
                folders.append((indent, name))
                break
            entries.add(prefix + name)
    return entries


def test_map_of_the_code_lists_every_module_and_only_those() -> None:
    modules = {
        str(p.relative_to(ROOT))
        for package in PACKAGES
        for p in (ROOT / package).rglob("*.py")
        if p.name != "__init__.py"
    }
    listed = {e for e in map_entries() if e.split("/", 1)[0] in PACKAGES}
    assert not sorted(modules - listed), (
        f"README's map of the code misses {sorted(modules - listed)}"
    )
    assert not sorted(listed - modules), (
        f"README's map of the code lists modules that do not exist: {sorted(listed - modules)}"
    )


# ------------------------------------------------------------------------------ numbers
MEASURED_QUICK = ROOT / "results" / "measured" / "quick"


def test_the_quick_table_is_the_committed_results_file() -> None:
    """Every number of the README's quick table, its machine and its time come from the
    committed run (``results/measured/quick/``: report.csv and run.json)."""
    import json

    import pandas as pd

    run = json.loads((MEASURED_QUICK / "run.json").read_text())
    report = pd.read_csv(MEASURED_QUICK / "report.csv", dtype={"row": str})
    text = README.read_text()
    header = "| normal class | OC-SVM | KDE | PIAD (100 iterations) |"
    assert header in text
    rows = text.split(header, 1)[1].split("\n\n", 1)[0].strip().splitlines()[1:]
    assert len(rows) == 3, rows
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        normal, shown = cells[0], [float(c) for c in cells[1:]]
        ours = report[(report.kind == "class") & (report.row == normal)].set_index("method")
        assert shown == [
            round(float(ours.loc[m, "mean"]), 3) for m in ("ocsvm", "kde", "piad-code")
        ]
    assert f"2-core `{run['cpu']}`" in text and f"{run['threads_per_job']} threads per job" in text
    assert f"in {run['wall_s']} s wall time" in text
    for other in run["other_cpus"]:  # the other CPUs' PIAD numbers quoted beside the table
        triple = " / ".join(f"{other['piad'][c]:.3f}" for c in ("0", "3", "8"))
        assert triple in " ".join(text.split()), (other["cpu"], triple)
    assert f"`{run['command']}`" in text

"""benchmarks/fetch.py (``python -m benchmarks.fetch``): names resolved, the dry-run table, and
the command's exit codes and one-line errors, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from fetch_server import FileServer, closed_port, serve
from paths import ROOT
from toy_sources import BATCHES, LICENCE, idx_folder, md5, register, tar_gz, tar_source

from benchmarks import fetch as fetch_cli
from benchmarks.data import sources
from benchmarks.data.download import part_path
from benchmarks.data.idx import IDX_FILES
from benchmarks.data.integrity import damaged_files
from benchmarks.data.source_types import Checksum, DatasetSource, RemoteFile
from benchmarks.fetch import dry_run_table, main, resolve
from piad.errors import DiskFullError, PIADError

# --------------------------------------------------------------------------- main


def test_dry_run_lists_every_file(monkeypatch, tmp_path, capsys):
    data = tar_gz(BATCHES)
    with serve(FileServer(files={"toy.tar.gz": data})) as srv:
        register(monkeypatch, tar_source(srv, Checksum("md5", md5(data))))
        assert main(["toytar", "coil100", "--dry-run", "--data-root", str(tmp_path)]) == 0
        assert srv.requests == []  # a dry run asks no server
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header == ["dataset", "file", "source", "size", "checksum", "state"]
    assert srv.url("toy.tar.gz") in out and f"md5:{md5(data)}" in out
    assert sources.COIL100_URL in out and "sha256 recorded on first download" in out
    assert "coil100: Columbia CAVE" in out
    assert list(tmp_path.iterdir()) == []


def test_cli_suite_names_and_one_line_errors(monkeypatch, tmp_path, capsys):
    data = tar_gz(BATCHES)
    with serve(FileServer(files={"toy.tar.gz": data})) as srv:
        register(monkeypatch, tar_source(srv, Checksum("md5", md5(data))))
        suites = {"toysuite": ["toytar"]}
        rc = main(["toysuite", "--data-root", str(tmp_path), "--no-progress"], suites.get)
        assert rc == 0 and (tmp_path / "toy-batches").is_dir()
        assert "toytar: ready" in capsys.readouterr().out
    assert main(["nosuch", "--dry-run"], suites.get) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: unknown suite or dataset 'nosuch'")
    assert "known datasets: mnist, fmnist, cifar10, coil100, celeba, lsun, mnist5k" in err
    url = f"http://127.0.0.1:{closed_port()}/z.bin"
    f = RemoteFile("toygone", "z.bin", (url,), None)
    register(monkeypatch, DatasetSource("toygone", (f,), LICENCE, "z.bin"))
    assert main(["toygone", "--data-root", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: cannot download z.bin") and url in err
    assert json.loads((tmp_path / "piad-data.lock.json").read_text())["format"] == 1


def test_a_data_root_that_is_a_file_is_one_line(monkeypatch, tmp_path, capsys):
    f = RemoteFile("toyfile", "z.bin", ("http://127.0.0.1:9/z.bin",), None)
    register(monkeypatch, DatasetSource("toyfile", (f,), LICENCE, "z.bin"))
    (tmp_path / "file").write_text("")
    assert main(["toyfile", "--data-root", str(tmp_path / "file"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"error: cannot write into the data root {tmp_path / 'file'}"
    )


def test_the_command_line_is_one_line_and_exit_2_in_a_subprocess(tmp_path):
    argv = [sys.executable, "-m", "benchmarks.fetch", "nosuch", "--data-root", str(tmp_path)]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: unknown suite or dataset 'nosuch'; known datasets: ")
    assert done.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("raised", "code", "line"),
    [
        (KeyboardInterrupt(), 130, "error: interrupted; partial downloads stay as .part files"),
        (DiskFullError("no space left in /d; free space"), 1, "error: no space left in /d"),
    ],
)
def test_interrupt_and_full_disk_end_as_every_command_does(
    monkeypatch, tmp_path, capsys, raised, code, line
):
    def stop(*args: Any, **kwargs: Any) -> None:
        raise raised

    monkeypatch.setattr(fetch_cli, "fetch", stop)
    assert main(["mnist5k", "--data-root", str(tmp_path), "--no-progress"]) == code
    err = capsys.readouterr().err
    assert err.startswith(line) and err.count("\n") == 1


def test_fetch_verify_adds_the_checksums(tmp_path, capsys):
    root = tmp_path / "data"
    idx_folder(root / "fmnist", gz=True)  # whole files, but not Zalando's: md5s differ
    assert damaged_files("fmnist", root) == []  # cheap: sizes and full reads pass
    assert fetch_cli.main(["fmnist", "--data-root", str(root), "--no-progress"]) == 0
    capsys.readouterr()
    assert fetch_cli.main(["fmnist", "--data-root", str(root), "--verify", "--no-progress"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == len(IDX_FILES)
    assert all(" md5 " in line and "python -m benchmarks.fetch fmnist" in line for line in lines)


# --------------------------------------------------------------------------- resolve, table


def test_resolve_expands_suites_in_order_and_keeps_each_dataset_once():
    suites = {"s1": ["cifar10", "mnist"], "s2": ["mnist", "lsun"], "mnist": ["celeba"]}.get
    assert resolve(["coil100", "s1", "s2", "cifar10"], suites) == [
        "coil100",
        "cifar10",
        "mnist",
        "lsun",
    ]
    assert resolve(["mnist"], suites) == ["mnist"]  # a dataset name wins over a suite name
    with pytest.raises(PIADError, match=r"^unknown dataset 's1'; known datasets: mnist, fmnist"):
        resolve(["s1"])  # without the suites, only datasets are known


def test_dry_run_table_sizes_states_built_ins_and_the_mirror_note(monkeypatch, tmp_path):
    pytest.importorskip("mlxtend")
    urls = [f"http://127.0.0.1:9/{n}" for n in ("a.bin", "b.bin", "b2.bin", "b3.bin", "c.bin")]
    files = (
        RemoteFile("toysizes", "a.bin", (urls[0],), Checksum("md5", "ab" * 16), size=4000),
        RemoteFile("toysizes", "b.bin", tuple(urls[1:4]), None, size_hint=10**6),
        RemoteFile("toysizes", "c.bin", (urls[4],), None),
    )
    register(monkeypatch, DatasetSource("toysizes", files, LICENCE, "<root>/"))
    part_path(tmp_path / "a.bin").write_bytes(bytes(1000))
    table = dry_run_table(["toysizes", "mnist5k", "celeba"], tmp_path)
    rows = {line.split()[1]: line for line in table.splitlines() if line.startswith("toysizes")}
    assert "4.0 kB" in rows["a.bin"] and "md5:" + "ab" * 16 in rows["a.bin"]
    assert rows["a.bin"].endswith("partial (1,000 of 4,000 bytes downloaded (resumes))")
    assert f"{urls[1]} (+2 mirrors)" in rows["b.bin"] and "about 1.0 MB" in rows["b.bin"]
    assert "stated by server" in rows["c.bin"] and rows["c.bin"].endswith("absent")
    (builtin,) = [line for line in table.splitlines() if line.startswith("mnist5k")]
    assert builtin.endswith("present (built in)")
    notes = table.split("\n\nterms of use:\n")[1].splitlines()
    assert notes[0] == "  toysizes: test data (http://127.0.0.1/)"
    assert notes[2].startswith("  celeba: CelebA release agreement")
    assert notes[2].endswith(
        "; if the official files fail: https://huggingface.co/datasets/flwrlabs/celeba at "
        "revision 2d738f5"
    )
    assert list(tmp_path.iterdir()) == [part_path(tmp_path / "a.bin")]  # nothing written

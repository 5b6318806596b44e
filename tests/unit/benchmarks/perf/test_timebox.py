"""benchmarks.perf.timebox: the Boxed outcome's line, the log's last line, run_boxed's plumbing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmarks.perf import timebox
from benchmarks.perf.timebox import Boxed, _kill_group, _last_line, run_boxed

PY = sys.executable


# ------------------------------------------------------------------------ Boxed.describe
@pytest.mark.parametrize(
    ("boxed", "line"),
    [
        (Boxed("ok", 2.6, 0, "done", 60.0), "ok in 3 s"),  # 2.6 s to no decimals
        (Boxed("ok", 0.2, 0, "", 60.0), "ok in 0 s"),
        (Boxed("cut", 61.9, None, "step 7", 60.0), "cut at its limit of 60 s"),  # the limit, not
        (Boxed("cut", 1.0, None, "", 0.5), "cut at its limit of 0 s"),  # the wall time
        (
            Boxed("failed", 12.4, 3, "OSError: disk", 60.0),
            "failed (exit 3) after 12 s: OSError: disk",
        ),
        (Boxed("failed", 1.0, -9, "", 60.0), "failed (exit -9) after 1 s: "),
    ],
)
def test_describe_says_how_it_ended(boxed: Boxed, line: str) -> None:
    assert boxed.describe() == line


def test_boxed_is_frozen() -> None:
    boxed = Boxed("ok", 1.0, 0, "", 10.0)
    with pytest.raises(AttributeError):
        boxed.status = "cut"  # type: ignore[misc]


# ------------------------------------------------------------------------ _last_line
@pytest.mark.parametrize(
    ("text", "last"),
    [
        ("a\nb\nc\n", "c"),
        ("a\nlast\n\n   \n\t\n", "last"),  # blank and whitespace-only lines are skipped
        ("only", "only"),
        ("", ""),
        ("\n\n", ""),
        ("x\n" + "y" * 400 + "\n", "y" * 300),  # cut to 300 characters
    ],
)
def test_last_line_is_the_last_non_blank_line(tmp_path: Path, text: str, last: str) -> None:
    path = tmp_path / "log"
    path.write_text(text)
    assert _last_line(path) == last


def test_last_line_of_a_missing_log_is_empty(tmp_path: Path) -> None:
    assert _last_line(tmp_path / "nothing.log") == ""


def test_last_line_survives_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"ok\nbad \xff byte\n")
    assert _last_line(path) == "bad \ufffd byte"


# ------------------------------------------------------------------------ run_boxed
def test_ok_run_records_exit_zero_the_limit_and_its_last_line(tmp_path: Path) -> None:
    boxed = run_boxed([PY, "-c", "print('one'); print('two')"], 30, tmp_path / "log")
    assert (boxed.status, boxed.returncode, boxed.last_line, boxed.limit_s) == ("ok", 0, "two", 30)
    assert boxed.seconds >= 0


def test_the_log_is_appended_to_and_its_folder_made(tmp_path: Path) -> None:
    log = tmp_path / "deep" / "er" / "stages.log"
    run_boxed([PY, "-c", "print('first')"], 30, log)
    boxed = run_boxed([PY, "-c", "import sys; sys.stderr.write('second\\n')"], 30, log)
    assert log.read_text().splitlines() == ["first", "second"]  # stderr goes to the log too
    assert boxed.last_line == "second"


def test_env_and_cwd_are_passed_and_stdin_is_empty(tmp_path: Path) -> None:
    script = "import os, sys; print(os.getcwd(), os.environ['BOXED_X'], repr(sys.stdin.read()))"
    boxed = run_boxed(
        [PY, "-c", script], 30, tmp_path / "log", env={**os.environ, "BOXED_X": "42"}, cwd=tmp_path
    )
    assert boxed.last_line == f"{tmp_path.resolve()} 42 ''"


def test_a_failed_run_keeps_its_exit_code(tmp_path: Path) -> None:
    boxed = run_boxed([PY, "-c", "import sys; print('half'); sys.exit(7)"], 30, tmp_path / "log")
    assert (boxed.status, boxed.returncode, boxed.last_line) == ("failed", 7, "half")


def test_a_command_that_ignores_sigterm_is_killed_after_the_grace(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(timebox, "GRACE_S", 0.3)
    pid_file = tmp_path / "pid"
    script = textwrap.dedent(f"""
        import os, signal, time
        signal.signal(signal.SIGTERM, lambda *a: print("term ignored", flush=True))
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        print("ready", flush=True)
        while True:
            time.sleep(0.05)
    """)
    boxed = run_boxed([PY, "-c", script], 2.0, tmp_path / "log")
    assert boxed.status == "cut" and boxed.returncode is None
    assert boxed.last_line == "term ignored"  # SIGTERM came first and was ignored: SIGKILL ended it
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_kill_group_of_a_process_already_gone_returns_quietly() -> None:
    proc = subprocess.Popen([PY, "-c", "pass"], start_new_session=True)
    proc.wait()
    _kill_group(proc)  # no ProcessLookupError
    assert proc.returncode == 0


def test_kill_group_sends_sigterm_first(tmp_path: Path) -> None:
    proc = subprocess.Popen([PY, "-c", "import time; time.sleep(60)"], start_new_session=True)
    _kill_group(proc)
    assert proc.returncode == -signal.SIGTERM


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts /proc/self/fd")
def test_run_boxed_without_a_log_leaks_no_descriptor() -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        assert run_boxed([PY, "-c", "print('hi')"], 30).last_line == "hi"
    assert len(os.listdir("/proc/self/fd")) == before

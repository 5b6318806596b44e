"""``run_all.py`` as a program: a script without a ``__main__`` guard under spawned workers, the
repository's own script, and output piped into ``head``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from paths import HELPERS, ROOT


@pytest.mark.slow
def test_an_unguarded_script_does_not_restart_in_spawned_workers(tmp_path):
    """``run_all.py`` may be ``raise SystemExit(main())`` without a __main__ guard."""
    script = tmp_path / "run_all.py"
    script.write_text("from benchmarks.cli import main\nraise SystemExit(main())\n")
    env = dict(os.environ, PIAD_PLUGINS="runner_plugin")
    env["PYTHONPATH"] = os.pathsep.join([str(HELPERS), str(ROOT), env.get("PYTHONPATH", "")])
    argv = ["--suite", "toyfail", "--methods", "kde", "--out", str(tmp_path / "o")]
    done = subprocess.run(
        [sys.executable, str(script), *argv, "--no-progress", "--threads", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("1 jobs: 0 already done, 1 to run") == 1
    assert done.stdout.count("# Results of suite toyfail") == 1


def test_run_all_at_the_repository_root_if_present():
    script = ROOT / "run_all.py"
    if not script.exists():
        pytest.skip("run_all.py is written by the lead")
    done = subprocess.run(
        [sys.executable, str(script), "--list-suites"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0 and "table2" in done.stdout


def test_output_piped_into_head_ends_quietly(tmp_path):
    cmd = [sys.executable, str(ROOT / "run_all.py"), "--suite", "table2", "--dry-run"]
    cmd += ["--no-progress", "--out", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    assert proc.stdout is not None and proc.stderr is not None
    assert b"dataset" in proc.stdout.readline()  # like `| head -1`: read one line, hang up
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in err

"""The plugin example of docs/plugins.md runs as documented: its method, its suite, a report."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from paths import ROOT

PLUGINS = ROOT / "examples" / "plugins"


def test_the_example_plugin_runs_its_suite_end_to_end(tmp_path):
    env = {
        **os.environ,
        "PIAD_PLUGINS": "my_method",
        "PYTHONPATH": os.pathsep.join([str(PLUGINS), str(ROOT)]),
    }
    argv = [sys.executable, "run_all.py", "--suite", "my_suite"]
    argv += ["--out", str(tmp_path), "--no-progress"]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    job = tmp_path / "mnist5k" / "meandist" / "3" / "seed0"  # dataset/method/normal/seed
    result = json.loads((job / "result.json").read_text())
    assert result["status"] == "ok" and 0 <= result["auc"] <= 1
    assert result["method_info"]["method"] == "mean-image distance"
    assert "Mean-image distance" in (tmp_path / "report.md").read_text()

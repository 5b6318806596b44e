"""The per-job lock: held by a live process only, released by the OS however it ends."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from benchmarks.experiments import locks

HOLDER = """
import sys, time
from benchmarks.experiments.locks import hold
with hold(sys.argv[1]) as fd:
    print("held" if fd is not None else "busy", flush=True)
    time.sleep(60)
"""


def test_a_lock_is_held_by_a_live_process_and_freed_when_it_is_killed(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        who = locks.holder(tmp_path)
        assert who is not None and f"pid {proc.pid} on " in who
        with locks.hold(tmp_path) as fd:
            assert fd is None  # another live process holds it: this one must not run the job
        proc.send_signal(signal.SIGKILL)  # no cleanup runs: the OS releases the lock
        proc.wait()
        deadline = time.monotonic() + 5
        while locks.holder(tmp_path) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert locks.holder(tmp_path) is None  # never stale
        with locks.hold(tmp_path) as fd:
            assert fd is not None
            assert f"pid {__import__('os').getpid()}" in (tmp_path / locks.LOCK_NAME).read_text()
    finally:
        proc.kill()
        proc.wait()

"""Commands under a hard time box: a stage that overruns is cut, whatever it is doing.

Each stage of ``gpu_check`` runs as its own process group; at its limit the whole group is
killed (SIGTERM, then SIGKILL after a grace period), so a hung CUDA kernel, a pytest that waits
on a worker, or a training that runs long cannot eat the next stages' time. What a stage wrote
before it was cut (its JSON lines) still counts.

    >>> import sys
    >>> run_boxed([sys.executable, "-c", "print('hi')"], 10).status
    'ok'
    >>> run_boxed([sys.executable, "-c", "import time; time.sleep(30)"], 0.5).status
    'cut'
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: seconds between SIGTERM and SIGKILL of a cut stage's process group
GRACE_S = 3.0


@dataclass(frozen=True)
class Boxed:
    """How a boxed command ended: ``ok`` (exit 0), ``failed`` (another exit code) or ``cut``
    (killed at its limit); its wall time, exit code and the last line it printed."""

    status: str
    seconds: float
    returncode: int | None
    last_line: str
    limit_s: float

    def describe(self) -> str:
        if self.status == "ok":
            return f"ok in {self.seconds:.0f} s"
        if self.status == "cut":
            return f"cut at its limit of {self.limit_s:.0f} s"
        return f"failed (exit {self.returncode}) after {self.seconds:.0f} s: {self.last_line}"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, GRACE_S), (signal.SIGKILL, GRACE_S)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def run_boxed(
    argv: Sequence[str],
    limit_s: float,
    log: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> Boxed:
    """Run ``argv`` for at most ``limit_s`` seconds, its output appended to ``log`` (without a
    log: a temporary file, removed once its last line is read)."""
    if log is None:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            return run_boxed(argv, limit_s, Path(folder) / "boxed.log", env, cwd)
    path = Path(log)
    path.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with path.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,  # its own process group: killed whole at the limit
        )
        try:
            code: int | None = proc.wait(timeout=max(limit_s, 0.0))
            status = "ok" if code == 0 else "failed"
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            code, status = None, "cut"
    seconds = time.monotonic() - start
    return Boxed(status, seconds, code, _last_line(path), limit_s)


__all__ = ["GRACE_S", "Boxed", "run_boxed"]

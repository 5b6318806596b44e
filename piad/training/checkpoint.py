"""The training checkpoint format, the checks before a resume, and the ``log.csv`` of losses.

A checkpoint (``checkpoint.pt``, written atomically) is a dict with ``format`` =
:data:`CHECKPOINT_FORMAT`, the iteration, the config, a fingerprint of the training images,
the networks, both optimisers, the weight policies, the batch source and the RNG states: a
resumed run continues bit-for-bit on CPU. ``log.csv`` gets one row every ``log_every``
iterations (mean losses since the last row, both gammas, seconds per iteration); rows written
after the checkpoint a run resumes from are dropped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from piad.config import PIADConfig
from piad.errors import PIADError
from piad.io import atomic_write_text, read_torch_file

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = "piad-checkpoint/1"
LOG_NAME = "log.csv"
SAMPLES_DIR = "samples"
LOSS_NAMES = ("loss_dx", "loss_dz", "adv_g", "adv_e", "rec")
LOG_COLUMNS = ("iteration", *LOSS_NAMES, "gamma_g", "gamma_e", "seconds_per_iteration")
# fields that may change between a checkpoint and the run that resumes it
RESUMABLE_FIELDS = frozenset(
    {"iterations", "checkpoint_every", "log_every", "sample_every", "device"}
)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The state dict stored at ``path``; one-line :class:`PIADError` if it is not a checkpoint."""
    hint = (
        "; it is damaged (a truncated copy, a full disk): delete it to train this run again "
        "from iteration 0 (nothing else is lost), or restore it from a copy"
    )
    state = read_torch_file(path, "checkpoint", hint=hint)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise PIADError(f"{path} is not a PIAD training checkpoint; use another workdir")
    return state


def check_resumable(
    state: Mapping[str, Any], config: PIADConfig, fingerprint: list[float], path: str | Path
) -> None:
    """Refuse to resume a checkpoint of another config (beyond :data:`RESUMABLE_FIELDS`) or data."""
    saved = PIADConfig.from_saved(state["config"]).to_dict()  # a field added later: old value
    mine = config.to_dict()
    differ = sorted(k for k in mine if k not in RESUMABLE_FIELDS and saved[k] != mine[k])
    if differ:
        detail = ", ".join(f"{k}: {saved[k]!r} -> {mine[k]!r}" for k in differ)
        raise PIADError(
            f"checkpoint {path} was made with another config ({detail}); use another "
            "workdir or delete the checkpoint"
        )
    if state["data_fingerprint"] != fingerprint:
        raise PIADError(
            f"checkpoint {path} was trained on other images (shape or checksum differ); "
            "use another workdir or delete the checkpoint"
        )


def append_log_row(path: Path, row: Mapping[str, float]) -> None:
    """Append one row to ``log.csv`` (header first when the file is new)."""
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", newline="") as f:  # one whole line per write: append-safe
        writer = csv.DictWriter(f, fieldnames=LOG_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow(dict(row))


def truncate_log(path: Path, iteration: int) -> None:
    """Drop log rows written after ``iteration`` (a killed run's tail), atomically."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    keep = [r for r in rows if r.get("iteration") and int(r["iteration"]) <= iteration]
    if len(keep) != len(rows):
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=LOG_COLUMNS)
        writer.writeheader()
        writer.writerows(keep)
        atomic_write_text(path, buf.getvalue())


__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_NAME",
    "LOG_COLUMNS",
    "LOG_NAME",
    "LOSS_NAMES",
    "RESUMABLE_FIELDS",
    "SAMPLES_DIR",
    "append_log_row",
    "check_resumable",
    "read_checkpoint",
    "truncate_log",
]

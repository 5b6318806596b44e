"""The authors' checkout for the tests that run their code: where it is, and the mark that
skips a test (with the reason) where it or the authors' VGG statistics are absent."""

from __future__ import annotations

import pytest

from benchmarks.validation.peer import DEFAULT_STATS, default_peer

#: ``$PIAD_PEER``, else ``../shared/peer/ninatu-piad`` beside the repository (where CI has it)
PEER = default_peer()
needs_peer = pytest.mark.skipif(
    not (PEER / "piad" / "train.py").is_file() or not DEFAULT_STATS.is_file(),
    reason=f"no checkout of ninatu/piad at {PEER} (set PIAD_PEER to one) or no {DEFAULT_STATS}",
)

"""The authors' checkout for the tests that run their code: where it is, the mark that
skips a test (with the reason) where it or the authors' VGG statistics are absent, and their
networks built to our config's sizes."""

from __future__ import annotations

import pytest

from benchmarks.validation.peer import DEFAULT_STATS, default_peer

#: ``$PIAD_PEER``, else ``../shared/peer/ninatu-piad`` beside the repository (where CI has it)
PEER = default_peer()
needs_peer = pytest.mark.skipif(
    not (PEER / "piad" / "train.py").is_file() or not DEFAULT_STATS.is_file(),
    reason=f"no checkout of ninatu/piad at {PEER} (set PIAD_PEER to one) or no {DEFAULT_STATS}",
)


def their_networks(peer, cfg):  # type: ignore[no-untyped-def]
    """The authors' E, G, D_X, D_Z built from our config's sizes (``peer``: a loaded checkout)."""
    from benchmarks.validation.lockstep import _their_widths

    n = peer.m["networks"]
    s, c, lat, r = cfg.image_size, cfg.in_channels, cfg.latent_dim, cfg.latent_size
    return {
        "E": n.ResNetEncoder(s, c, r, lat, _their_widths(cfg.enc_channels)),
        "G": n.ResNetGenerator(s, c, r, lat, list(cfg.gen_channels)),
        "DX": n.ResNetEncoder(s, c, 1, 1, _their_widths(cfg.dx_channels), use_mbstddev=True),
        "DZ": n.LatentDiscriminator(lat * r * r, list(cfg.dz_hidden)),
    }

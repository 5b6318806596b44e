"""Lockstep check against the authors' implementation: same start, same inputs.

Builds our PIAD and the authors' (a local checkout of ninatu/piad, read at run time, pinned
commit recorded) for the MNIST preset, copies our initial weights into theirs by layer
correspondence (:mod:`benchmarks.validation.weight_map`), and runs both for ``--iters``
iterations on the SAME training batches, latent samples and gradient-penalty mixing
coefficients: drawn by one side, recorded and replayed into the other
(:mod:`benchmarks.validation.random_replay`). Networks, VGG-19 and losses run in ``--dtype``
(float64 by default) on CPU.

Per iteration it compares, in the order Algorithm 1 computes them: every critic step's D_X and
D_Z losses, the critics' weights, adv G, adv E, rec, both gammas and the E / G weights
(max relative difference per network). The first quantity that parts beyond ``--rtol`` is
named with its likely causes, and whether it parted abruptly (one computation differs) or by
gradual growth (rounding differences amplified by training).

    python -m benchmarks.validation.lockstep --peer CHECKOUT --peer-git REPO.git \\
        --iters 250 --normal 1 --dtype float64 --out results/lockstep

Writes ``lockstep.csv`` (iteration, quantity, ours, theirs, rel), ``lockstep.md`` and
``lockstep.json`` (provenance, settings, first parting) under ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch

from benchmarks.validation.lockstep_report import (
    LOSS_FLOOR,
    diagnose,
    first_parting,
    rel_diff,
    write_outputs,
)
from benchmarks.validation.peer import (
    DEFAULT_STATS,
    ImageListDataset,
    Peer,
    build_peer_trainer,
    cpu_runtime,
    default_peer,
    load_peer,
    peer_config,
    peer_gammas,
    peer_networks,
    peer_transform_images,
    run_peer_until,
)
from benchmarks.validation.peer_setup import (
    default_dtype,
    load_digit_split,
    our_config,
    our_trainer,
    shared_vgg_weights,
)
from benchmarks.validation.random_replay import Tape, ours_hooks, peer_hooks
from benchmarks.validation.weight_map import (
    NETWORKS,
    copy_ours_to_peer,
    weight_differences,
    worst_tensors,
)
from piad.errors import PIADError, command

DTYPES = {"float64": torch.float64, "float32": torch.float32}
DEFAULT_RTOL = {"float64": 1e-9, "float32": 1e-4}


def _record_in_grad_dtype(policy: Any) -> Any:
    """Alg. 2's per-layer statistic computed in the gradient's dtype (float64 stays float64).

    The fix the lockstep found, as a run-time patch (``--ours-patch record-dtype``): the code
    before it (``GradientNormalizingWeights.record``) cast every gradient to float32 first.
    """
    from piad.weighting import weight_parameters

    def record(loss: str, network: torch.nn.Module) -> None:
        params = [(n, p) for n, p in weight_parameters(network) if p.grad is not None]
        grads = [p.grad.detach() for _, p in params if p.grad is not None]
        grads = [g if g.dtype == torch.float64 else g.float() for g in grads]
        if policy.statistic == "std":
            stats = torch.stack([g.std(correction=0) for g in grads])
        else:
            stats = torch.stack([torch.linalg.vector_norm(g) for g in grads])
        policy._append(loss, [n for n, _ in params], stats.cpu().double().numpy())

    return record


#: Run-time changes to OUR trainer that ``--ours-patch`` can apply (to test a proposed fix).
OURS_PATCHES = ("record-dtype",)


def apply_ours_patches(trainer: Any, names: Sequence[str]) -> None:
    """Apply the named :data:`OURS_PATCHES` to one trainer instance (nothing else changes)."""
    for name in names:
        if name not in OURS_PATCHES:
            raise PIADError(f"unknown --ours-patch {name!r}; known: {', '.join(OURS_PATCHES)}")
        if name == "record-dtype":
            for policy in trainer.policies.values():
                if hasattr(policy, "_append"):
                    policy.record = _record_in_grad_dtype(policy)


# ------------------------------------------------------------------------------ capture
class Capture:
    """Per-iteration losses of both sides, captured by wrapping their step functions."""

    def __init__(self) -> None:
        self.ours: dict[str, Any] = {"critic": [], "eg": []}
        self.peer: dict[str, Any] = {"dx": [], "dz": [], "eg": []}

    def reset(self) -> None:
        for side in (self.ours, self.peer):
            for v in side.values():
                v.clear()


@contextlib.contextmanager
def capturing(ours: Any, theirs: Any, cap: Capture) -> Any:
    """Wrap our ``_critic_step`` / ``_encoder_generator_step`` and their loss functions."""
    critic, eg = ours._critic_step, ours._encoder_generator_step
    opt = theirs.optimizer
    dx, dz, peer_eg = (
        opt.compute_image_dis_loss,
        opt.compute_latent_dis_loss,
        opt.compute_enc_gen_loss,
    )

    def our_critic() -> torch.Tensor:
        out = critic()
        cap.ours["critic"].append(out.tolist())
        return out

    def our_eg(t: int) -> torch.Tensor:
        out = eg(t)
        cap.ours["eg"].append(out.tolist())
        return out

    def their(fn: Any, key: str) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            info = fn(*args, **kwargs)
            cap.peer[key].append(info)
            return info

        return wrapped

    ours._critic_step, ours._encoder_generator_step = our_critic, our_eg
    opt.compute_image_dis_loss = their(dx, "dx")
    opt.compute_latent_dis_loss = their(dz, "dz")
    opt.compute_enc_gen_loss = their(peer_eg, "eg")
    try:
        yield
    finally:
        del ours._critic_step, ours._encoder_generator_step
        del opt.compute_image_dis_loss, opt.compute_latent_dis_loss, opt.compute_enc_gen_loss


def iteration_values(cap: Capture, ours: Any, theirs: Any, n_dis: int) -> list[dict[str, Any]]:
    """One row per quantity: ours, theirs, relative difference."""
    rows = []

    def add(name: str, a: float, b: float, floor: float = LOSS_FLOOR) -> None:
        rows.append({"quantity": name, "ours": a, "theirs": b, "rel": rel_diff(a, b, floor)})

    if len(cap.ours["critic"]) != n_dis or len(cap.peer["dx"]) != n_dis:
        raise PIADError(
            f"critic steps this iteration: ours {len(cap.ours['critic'])}, theirs "
            f"{len(cap.peer['dx'])}; expected n_dis = {n_dis}"
        )
    for i in range(n_dis):
        add(f"D_X[{i + 1}]", cap.ours["critic"][i][0], cap.peer["dx"][i]["total"])
        add(f"D_Z[{i + 1}]", cap.ours["critic"][i][1], cap.peer["dz"][i]["total"])
    nets = {k: getattr(ours.networks, k) for k in NETWORKS}
    w = worst_tensors(nets, peer_networks(theirs))
    for k in ("DX", "DZ"):
        rows.append(
            {
                "quantity": f"w_{k}",
                "ours": math.nan,
                "theirs": math.nan,
                "rel": w[k][0],
                "where": f"{k}.{w[k][1]}",
            }
        )
    adv_g, adv_e, rec = cap.ours["eg"][0]
    info = cap.peer["eg"][0]
    add("adv_G", adv_g, info["image_adv_loss"])
    add("adv_E", adv_e, info["latent_adv_loss"])
    add("rec", rec, info["rec_loss"])
    ga, gb = ours.gammas, peer_gammas(theirs)
    add("gamma_G", ga["G"], gb["G"], 1e-300)
    add("gamma_E", ga["E"], gb["E"], 1e-300)
    for k in ("E", "G"):
        rows.append(
            {
                "quantity": f"w_{k}",
                "ours": math.nan,
                "theirs": math.nan,
                "rel": w[k][0],
                "where": f"{k}.{w[k][1]}",
            }
        )
    return rows


# ------------------------------------------------------------------------------ checks
def preprocessing_check(
    peer: Peer, data_root: Path, normal: str, ours_train: torch.Tensor, work: Path, n: int = 256
) -> float:
    """Max |their MNIST transform - our images| over the first ``n`` training images of the digit.

    Their pipeline: PIL resize 28 -> 32, ToTensor, Normalize(0.5, 0.5); ours: the suite's
    resize and uint8 -> [-1, 1]. Same images in the same order (the official file order).
    """
    from benchmarks.validation.peer import mnist_root
    from piad.image_arrays import to_float

    try:
        from torchvision.datasets import MNIST
    except ImportError:  # pragma: no cover - torchvision is a dependency
        return math.nan
    try:
        mnist = MNIST(str(mnist_root(Path(data_root) / "mnist", work / "mnist")), train=True)
    except Exception:
        return math.nan
    raw = mnist.data[mnist.targets == int(normal)][:n].numpy()
    theirs = peer_transform_images(peer, raw).double()
    return float((theirs - to_float(ours_train[:n]).double()).abs().max())


# ------------------------------------------------------------------------------ the run


class _Iterations(NamedTuple):
    """What the lockstep loop collected: the rows, per-iteration maxima, timings, parting."""

    rows: list[dict[str, Any]]
    per_iter_max: list[float]
    seconds: dict[str, float]
    parting: dict[str, Any] | None


def run_lockstep(
    peer: Peer,
    *,
    iters: int,
    normal: str,
    dtype_name: str = "float64",
    data_root: Path = Path("data"),
    out: Path | None = None,
    seed: int = 0,
    n_weight: int | None = None,
    tape_from: str = "ours",
    rtol: float | None = None,
    train_images: torch.Tensor | None = None,
    vgg_dir: Path | None = None,
    features: torch.nn.Module | None = None,
    config_changes: dict[str, Any] | None = None,
    ours_patches: Sequence[str] = (),
    peer_change: Callable[[Any], None] | None = None,
    echo: bool = True,
) -> dict[str, Any]:
    """Run both codes in lockstep; returns the summary (rows under ``"rows"``).

    ``train_images``, ``features`` and ``config_changes`` make small runs (tests);
    ``peer_change(their_trainer)`` alters their side before the first iteration (tests).
    """
    if tape_from not in ("ours", "peer"):
        raise PIADError(f"--tape-from must be 'ours' or 'peer', got {tape_from!r}")
    dtype = DTYPES[dtype_name]
    rtol = DEFAULT_RTOL[dtype_name] if rtol is None else rtol
    out = out or Path("results/lockstep")
    work = out / "_peer"
    images, pre = _training_images(peer, train_images, data_root, normal, seed, work)
    vgg = shared_vgg_weights(vgg_dir or out) if features is None else Path("injected")
    changes = {"seed": seed, "iterations": iters, **(config_changes or {})}
    if n_weight is not None:
        changes["n_weight"] = n_weight
    cfg = our_config(vgg, peer.stats_path, **changes)
    ours = our_trainer(cfg, images, dtype, feature_cache="off", features=features)
    apply_ours_patches(ours, ours_patches)
    rec_loss = None if features is None else _PeerDistance(ours.distance)
    pcfg = _peer_settings(peer, cfg, normal, work, seed, iters)
    theirs = _their_trainer(peer, pcfg, images, dtype, rec_loss)
    if peer_change is not None:  # tests: a known difference the check must name
        peer_change(theirs)
    start = _start_alike(ours, theirs)
    if echo:
        print(
            f"peer {peer.provenance.get('commit')} verified={peer.provenance.get('verified')}; "
            f"start weights rel diff {max(start.values()):.1e}; preprocessing max|diff| "
            f"{pre:.2e}; rtol {rtol:g}; tape from {tape_from}",
            flush=True,
        )
    run = _iterate(peer, ours, theirs, iters, cfg.n_dis, dtype, tape_from, rtol, echo)
    settings: dict[str, Any] = {"iters": iters, "normal": normal, "dtype": dtype_name, "seed": seed}
    settings |= {"n_weight": cfg.n_weight, "ours_patches": list(ours_patches)}
    summary = _summary(peer, cfg, run, settings, tape_from, rtol, vgg, images, start, pre)
    if echo:
        print(summary["diagnosis"], flush=True)
    return summary


def _training_images(
    peer: Peer,
    train_images: torch.Tensor | None,
    data_root: Path,
    normal: str,
    seed: int,
    work: Path,
) -> tuple[torch.Tensor, float]:
    """The training images (given, else the digit's split) and the preprocessing check."""
    if train_images is not None:
        return train_images, math.nan
    images = load_digit_split(data_root, normal, seed).train
    return images, preprocessing_check(peer, data_root, normal, images, work)


def _peer_settings(
    peer: Peer, cfg: Any, normal: str, work: Path, seed: int, iters: int
) -> dict[str, Any]:
    """Their config dict, with the architecture and training sizes of our config."""
    pcfg = peer_config(
        peer,
        int(normal) if str(normal).isdigit() else 0,
        output_root=work,
        dataset_root=work,
        seed=seed,
        iters=iters,
        n_weight=cfg.n_weight,
    )
    pcfg.update(
        image_res=cfg.image_size,
        image_dim=cfg.in_channels,
        latent_dim=cfg.latent_dim,
        latent_res=cfg.latent_size,
        n_dis=cfg.n_dis,
        batch_size=cfg.batch_size,
        gen=list(cfg.gen_channels),
        enc=list(_their_widths(cfg.enc_channels)),
        image_dis=list(_their_widths(cfg.dx_channels)),
        latent_dis=list(cfg.dz_hidden),
    )
    return pcfg


def _their_trainer(
    peer: Peer, pcfg: dict[str, Any], images: torch.Tensor, dtype: torch.dtype, rec_loss: Any
) -> Any:
    """Their trainer over our training images, built in ``dtype`` on CPU."""
    from piad.image_arrays import to_float

    with default_dtype(dtype), cpu_runtime():
        dataset = ImageListDataset(to_float(images).to(dtype), min_size=10_000)
        return build_peer_trainer(peer, pcfg, dataset, rec_loss=rec_loss)


def _start_alike(ours: Any, theirs: Any) -> dict[str, float]:
    """Copy our initial weights into theirs; the per-network differences left afterwards."""
    copy_ours_to_peer({k: getattr(ours.networks, k) for k in NETWORKS}, peer_networks(theirs))
    return weight_differences(
        {k: getattr(ours.networks, k) for k in NETWORKS}, peer_networks(theirs)
    )


def _iterate(
    peer: Peer,
    ours: Any,
    theirs: Any,
    iters: int,
    n_dis: int,
    dtype: torch.dtype,
    tape_from: str,
    rtol: float,
    echo: bool,
) -> _Iterations:
    """Both sides for ``iters`` iterations on one tape, compared after each iteration."""
    tape, cap = Tape(), Capture()
    rows: list[dict[str, Any]] = []
    per_iter_max: list[float] = []
    seconds = {"ours": 0.0, "theirs": 0.0}
    parting = None
    mode_ours, mode_peer = ("record", "replay") if tape_from == "ours" else ("replay", "record")
    with contextlib.ExitStack() as stack:
        stack.enter_context(default_dtype(dtype))
        stack.enter_context(cpu_runtime())
        stack.enter_context(ours_hooks(ours, tape, mode_ours, dtype))
        stack.enter_context(peer_hooks(peer, theirs, tape, mode_peer, dtype))
        stack.enter_context(capturing(ours, theirs, cap))
        for t in range(1, iters + 1):
            cap.reset()
            _step_both(ours, theirs, t, tape_from, seconds)
            _check_tape_used(tape, t)
            vals = iteration_values(cap, ours, theirs, n_dis)
            for r in vals:
                r["iteration"] = t
            rows.extend(vals)
            per_iter_max.append(max(r["rel"] for r in vals))
            if parting is None:
                parting = first_parting(vals, rtol)
            if echo:
                _echo(t, vals, parting)
    return _Iterations(rows, per_iter_max, seconds, parting)


def _step_both(ours: Any, theirs: Any, t: int, tape_from: str, seconds: dict[str, float]) -> None:
    """Iteration ``t`` of both sides, the recording side first; adds each side's seconds."""
    sides = [("ours", ours.step), ("theirs", lambda t=t: run_peer_until(theirs, t))]
    for name, fn in sides if tape_from == "ours" else sides[::-1]:
        tick = time.perf_counter()
        fn()
        seconds[name] += time.perf_counter() - tick


def _check_tape_used(tape: Tape, t: int) -> None:
    """Fail when the replaying side left recorded draws of iteration ``t`` unused."""
    left = tape.pending()
    if any(left.values()):
        raise PIADError(
            f"iteration {t}: the replaying side left {left} of the recorded draws "
            "unused: the two loops draw different numbers of batches / samples"
        )


def _summary(
    peer: Peer,
    cfg: Any,
    run: _Iterations,
    settings: dict[str, Any],
    tape_from: str,
    rtol: float,
    vgg: Path,
    images: torch.Tensor,
    start: dict[str, float],
    pre: float,
) -> dict[str, Any]:
    """The run's summary: provenance, settings, timings, first parting and diagnosis."""
    iters, dtype_name = settings["iters"], settings["dtype"]
    return {
        "peer": peer.provenance,
        "settings": {
            **settings,
            "n_dis": cfg.n_dis,
            "tape_from": tape_from,
            "rtol": rtol,
            "loss_floor": LOSS_FLOOR,
            "threads": torch.get_num_threads(),
            "vgg": str(vgg),
            "stats": str(peer.stats_path),
            "n_train": int(images.shape[0]),
        },
        "start_weight_rel_diff": start,
        "preprocessing_max_abs_diff": pre,
        "seconds_per_iteration": {k: v / max(iters, 1) for k, v in run.seconds.items()},
        "per_iteration_max_rel": run.per_iter_max,
        "first_parting": run.parting,
        "diagnosis": diagnose(run.parting, run.per_iter_max, cfg.n_weight, rtol, iters, dtype_name),
        "rows": run.rows,
    }


def _their_widths(ours: Sequence[int]) -> list[int]:
    """Our E / D_X widths (stem, then one per BlockDown) -> their config list (per BlockDown, head).

    Their encoder repeats its first entry for the stem and the first block and ends with the
    head's width; ours keeps the last block's width for the head (supplement Tables 1-4).
    """
    return [*ours[1:], ours[-1]]


class _PeerDistance(torch.nn.Module):
    """Their ``rec_loss`` slot filled with our bound distance (tests: a small perceptual net)."""

    def __init__(self, distance: Any) -> None:
        super().__init__()
        self.distance = distance

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.distance(x, y).mean()


def _echo(t: int, vals: list[dict[str, Any]], parting: dict[str, Any] | None) -> None:
    by = {r["quantity"]: r["rel"] for r in vals}
    loss = max(v for k, v in by.items() if k[0] in "Dar")
    gam = max(by["gamma_G"], by["gamma_E"])
    w = " ".join(f"{k}={by['w_' + k]:.1e}" for k in NETWORKS)
    mark = (
        f"  <- first parting: {parting['quantity']}"
        if parting and parting["iteration"] == t
        else ""
    )
    print(f"it {t:4d} losses {loss:.1e} gammas {gam:.1e} weights {w}{mark}", flush=True)


# ------------------------------------------------------------------------------ outputs


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.validation.lockstep",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--peer",
        type=Path,
        default=None,
        help="checkout of ninatu/piad (default $PIAD_PEER, else ../shared/peer/ninatu-piad "
        "beside the repository)",
    )
    p.add_argument(
        "--peer-git",
        type=Path,
        default=None,
        help="its git dir (bare repo of a --work-tree checkout); default PEER/.git",
    )
    p.add_argument("--iters", type=int, default=200)
    p.add_argument("--normal", default="1", help="normal digit")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="float64")
    p.add_argument("--out", type=Path, default=Path("results/lockstep"))
    p.add_argument(
        "--data",
        type=Path,
        default=Path("data"),
        help="data root holding mnist/ (the original IDX files; default ./data)",
    )
    p.add_argument(
        "--stats",
        type=Path,
        default=DEFAULT_STATS,
        help="the authors' per-filter statistics file (the suite's copy)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--n-weight",
        type=int,
        default=None,
        help="weight-policy period for both codes (default: the preset's 100)",
    )
    p.add_argument(
        "--tape-from",
        choices=("ours", "peer"),
        default="ours",
        help="which side draws batches, z and alpha (the other replays them)",
    )
    p.add_argument("--rtol", type=float, default=None, help="default 1e-9 (float64), 1e-4 (32)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--ours-patch",
        action="append",
        default=[],
        choices=OURS_PATCHES,
        help="apply a proposed fix to our trainer at run time (repeatable)",
    )
    args = p.parse_args(argv)
    if args.iters < 1:
        p.error("--iters must be >= 1")
    return args


@command
def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    peer = load_peer(args.peer or default_peer(), args.peer_git, args.stats)
    summary = run_lockstep(
        peer,
        iters=args.iters,
        normal=args.normal,
        dtype_name=args.dtype,
        data_root=args.data,
        out=args.out,
        seed=args.seed,
        n_weight=args.n_weight,
        tape_from=args.tape_from,
        rtol=args.rtol,
        ours_patches=args.ours_patch,
    )
    for path in write_outputs(summary, args.out, summary["settings"]["n_dis"]):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

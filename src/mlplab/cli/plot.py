"""``mlplab plot WHAT --out FILE.png``: reference figures (activations and their derivatives) and, for a trained
CNN run, its first layer's kernels and feature maps (``mlplab plot filters RUN_FOLDER``)."""

from __future__ import annotations

import argparse

NAME = "plot"
HELP = ("draw a figure: 'activations' (each beside its autograd derivative; softmax on a batch) or "
        "'filters RUN_FOLDER' (a CNN run's first-layer kernels and the feature maps of one test image), "
        "'layers RUN_FOLDER' (the per-layer statistics of a run trained with --inspect), 'optimizers' (the six "
        "optimizers' paths on 2-D surfaces, torch's and the scratch twins')")
PLOTS = ("activations", "filters", "layers", "optimizers")
WITH_RUN = ("filters", "layers")  # the figures drawn from a run folder


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=PLOTS, help="which figure")
    p.add_argument("run_folder", nargs="?", metavar="RUN_FOLDER", default=None,
                   help="filters and layers: a run folder written by mlplab train (--model cnn; --inspect)")
    p.add_argument("--out", metavar="FILE.png", default=None, help="where to write the PNG (default WHAT.png)")
    p.add_argument("--impl", choices=["torch", "scratch"], default="torch", help="whose activations to draw")
    p.add_argument("--index", type=int, default=0, help="filters: which test image (default 0)")
    p.add_argument("--surface", default="all", help="optimizers: quadratic, rosenbrock, saddle or all (default)")
    p.add_argument("--steps", type=int, default=None, help="optimizers: steps per path (default: per surface)")
    p.add_argument("--lr", default=None, metavar="NAME=LR,...", help="optimizers: learning rates by name, e.g. "
                   "Adam=0.1,SGD=0.002 (names: SGD, SGD+momentum, RMSprop, Adagrad, Adadelta, Adam, Adamax)")
    p.add_argument("--betas", default=None, metavar="B1,B2",
                   help="optimizers: Adam's and Adamax's betas, e.g. 0.8,0.99")
    p.add_argument("--momentum", type=float, default=None, help="optimizers: SGD+momentum's momentum (default 0.9)")


def filters(folder: str, out, index: int):
    """Load the run, take test image ``index`` from the dataset it was trained on, draw its first conv layer."""
    from mlplab.data.load import DATASETS, load_dataset
    from mlplab.plots.filters import filters as draw
    from mlplab.plots.filters import first_conv
    from mlplab.runs.run import load_run

    run = load_run(folder)
    first_conv(run.model)  # not a CNN: one line, before any data is read
    config = run.config
    if config.dataset not in DATASETS:
        raise ValueError(f"run {folder} was trained on arrays ({config.dataset!r}), not a named dataset, so there "
                         "is no test image to load; draw it from Python with "
                         "mlplab.plots.filters.filters(run.model, image, 'filters.png')")
    data = load_dataset(config.dataset, data_dir=config.data_dir, seed=config.seed)
    if not 0 <= index < len(data.x_test):
        raise ValueError(f"--index must be in [0, {len(data.x_test) - 1}]; got {index}")
    label = data.class_names[int(data.y_test[index])] if data.class_names else int(data.y_test[index])
    return draw(run.model, data.x_test[index], out, title=f"{folder}: test image {index} ({label})")


def layers(folder: str, out):
    """The run folder's layers.csv (mlplab train --inspect) as small multiples (mlplab.plots.layers)."""
    from pathlib import Path

    from mlplab.plots.layers import layers_png
    from mlplab.training.inspect import layers_frame

    if not (Path(folder) / "config.toml").is_file():
        from mlplab.runs.rundir import not_a_run

        raise not_a_run(folder, "pass a folder written by mlplab train --inspect")
    if not (Path(folder) / "layers.csv").is_file():
        raise FileNotFoundError(f"{folder} has no layers.csv: train with --inspect (mlplab train ... --inspect) to "
                                "record the layer statistics")
    return layers_png(layers_frame(None, folder), out, title=f"{folder}: layer statistics per epoch")


def optimizers(args: argparse.Namespace, out):
    """Every optimizer's path on the surface(s), torch's and scratch's (mlplab.experiments.surfaces)."""
    lrs = {}  # the flags are checked before torch is imported
    for item in (args.lr or "").split(",") if args.lr else []:
        name, _, value = item.partition("=")
        try:
            lrs[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--lr takes NAME=LR pairs, e.g. Adam=0.1,SGD=0.002; got {args.lr!r}") from None
    betas = None
    if args.betas is not None:
        try:
            betas = tuple(float(b) for b in args.betas.split(","))
        except ValueError:
            betas = ()
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"--betas must be two numbers in [0, 1), e.g. 0.9,0.999; got {args.betas!r}")
    if args.momentum is not None and not 0 <= args.momentum < 1:
        raise ValueError(f"--momentum must be in [0, 1), e.g. 0.9; got {args.momentum}")
    from mlplab.experiments.surfaces import SURFACES, both_impls
    from mlplab.plots.optimizer_paths import paths_png

    names = list(SURFACES) if args.surface == "all" else [args.surface]
    if not set(names) <= set(SURFACES):
        raise ValueError(f"--surface must be one of {', '.join(SURFACES)} or all; got {args.surface!r}")
    found = both_impls(names, lrs=lrs, steps=args.steps, betas=betas, momentum=args.momentum)
    return paths_png(found, out)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    if (args.what in WITH_RUN) != (args.run_folder is not None):
        raise ValueError(f"mlplab plot {args.what} needs a RUN_FOLDER (mlplab plot {args.what} runs/<run> --out "
                         f"{args.what}.png)" if args.what in WITH_RUN else
                         f"mlplab plot {args.what} takes no RUN_FOLDER; got "
                         f"{args.run_folder!r}")
    out = Path(args.out or f"{args.what}.png")
    if out.suffix.lower() != ".png":
        raise ValueError(f"--out must name a .png file; got {args.out!r}")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"folder {out.parent} does not exist; create it or pass --out elsewhere")
    if args.what == "filters":
        print(f"wrote {filters(args.run_folder, out, args.index)}")
        return 0
    if args.what == "layers":
        print(f"wrote {layers(args.run_folder, out)}")
        return 0
    if args.what == "optimizers":
        print(f"wrote {optimizers(args, out)}")
        return 0
    from mlplab.plots import figures as plots

    print(f"wrote {plots.activations(out, impl=args.impl)}")
    return 0

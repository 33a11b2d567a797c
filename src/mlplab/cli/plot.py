"""``mlplab plot WHAT --out FILE.png``: figures that need no training run (activations and their derivatives)."""

from __future__ import annotations

import argparse

NAME = "plot"
HELP = "draw a reference figure: 'activations' (each beside its autograd derivative; softmax on a batch)"
PLOTS = ("activations",)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=PLOTS, help="which figure")
    p.add_argument("--out", metavar="FILE.png", default="activations.png", help="where to write the PNG")
    p.add_argument("--impl", choices=["torch", "scratch"], default="torch", help="whose activations to draw")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mlplab.plots import figures as plots

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise ValueError(f"--out must name a .png file; got {args.out!r}")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"folder {out.parent} does not exist; create it or pass --out elsewhere")
    print(f"wrote {plots.activations(out, impl=args.impl)}")
    return 0

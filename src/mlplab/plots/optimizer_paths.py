"""Optimizer paths on a 2-D surface: the paths on the contours, and the loss per step (mlplab.experiments.surfaces).

Torch's path is the line; the scratch twin's, where given, is drawn over it as crosses every few steps, and the
title says the largest gap between them.
"""

from __future__ import annotations

from pathlib import Path

import torch
from matplotlib import colormaps
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from mlplab.experiments.surfaces import surface
from mlplab.plots.figures import save


def largest_gap(torch_paths: dict, scratch_paths: dict) -> float:
    """The largest distance between a torch point and the scratch point of the same step, over all paths."""
    gaps = [float((scratch_paths[n].points - p.points).abs().max()) for n, p in torch_paths.items()
            if n in scratch_paths and scratch_paths[n].points.shape == p.points.shape]
    return max(gaps) if gaps else float("nan")


def draw_paths(ax_map, ax_loss, surface_name: str, torch_paths: dict, scratch_paths: dict | None = None) -> None:
    s = surface(surface_name)
    x0, x1, y0, y1 = s.bounds
    xs, ys = torch.linspace(x0, x1, 200, dtype=torch.float64), torch.linspace(y0, y1, 200, dtype=torch.float64)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    z = s.f(torch.stack([gx, gy], dim=-1)) - s.lowest + 1e-3      # (200, 200), positive for a log scale
    ax_map.contour(gx.numpy(), gy.numpy(), z.numpy(), levels=20, norm=LogNorm(), cmap="Greys", linewidths=0.6)
    ax_map.plot(*s.minimum, marker="*", color="black", ms=12, ls="none", label="minimum")
    ax_map.plot(*s.start, marker="o", color="black", ms=5, ls="none")
    colors = colormaps["tab10"]
    for k, (name, p) in enumerate(torch_paths.items()):
        pts = p.points.numpy()
        ax_map.plot(pts[:, 0], pts[:, 1], color=colors(k), lw=1.2, label=name)
        losses = (p.losses - s.lowest).clamp(min=1e-16).numpy()
        ax_loss.plot(range(len(losses)), losses, color=colors(k), lw=1.2, label=name)
        if scratch_paths and name in scratch_paths:
            every = max(1, len(pts) // 15)
            sp = scratch_paths[name].points.numpy()[::every]
            ax_map.plot(sp[:, 0], sp[:, 1], "x", color=colors(k), ms=4)
    ax_map.set_xlim(x0, x1)
    ax_map.set_ylim(y0, y1)
    ax_map.set_title(f"{surface_name}: paths" + (" (x: scratch)" if scratch_paths else ""), fontsize=9)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("f − f(minimum)")
    ax_loss.set_title(f"{surface_name}: loss per step", fontsize=9)
    ax_loss.grid(alpha=0.3)


def paths_figure(found: dict[str, tuple[dict, dict | None]]) -> Figure:
    """``found``: surface name -> (torch paths, scratch paths or None); one row of two panels per surface."""
    fig = Figure(figsize=(11, 4.2 * len(found)))
    axes = fig.subplots(len(found), 2, squeeze=False)
    gaps = []
    for row, (name, (torch_paths, scratch_paths)) in zip(axes, found.items()):
        draw_paths(row[0], row[1], name, torch_paths, scratch_paths)
        if scratch_paths:
            gaps.append(largest_gap(torch_paths, scratch_paths))
    axes[0][0].legend(fontsize=7, loc="best")
    if gaps:
        fig.suptitle(f"scratch vs torch: largest gap between the paths {max(gaps):.1e}", fontsize=10)
    fig.tight_layout()
    return fig


def paths_png(found: dict, path: str | Path) -> Path:
    return save(paths_figure(found), path)

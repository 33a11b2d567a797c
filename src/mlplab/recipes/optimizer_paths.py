"""Optimizer paths: the six optimizers (and plain SGD) on three 2-D surfaces, torch's and the scratch twins'.

Each surface (mlplab.experiments.surfaces) shows one lesson: the ill-conditioned quadratic (zig-zag and what
damps it), Rosenbrock's curved valley (momentum and Adam travel it, plain SGD at the same lr crawls), a saddle
(what escapes it). ``--quick`` runs a tenth of the steps. The seed is unused: the paths are deterministic.
"""

from __future__ import annotations

from pathlib import Path

from mlplab.experiments import tables
from mlplab.experiments.surfaces import LRS, OPTIMIZERS, STEPS, SURFACES, both_impls
from mlplab.plots.optimizer_paths import largest_gap, paths_png
from mlplab.recipes.report import write_report

TITLE = "optimizer paths: SGD, momentum, RMSprop, Adagrad, Adadelta, Adam, Adamax on 2-D surfaces"


def run(out: Path, seed: int = 0, quick: bool = False, data_dir=None) -> dict:
    found = {}
    for name in SURFACES:
        steps = STEPS[name] // 10 if quick else STEPS[name]
        found[name] = both_impls([name], steps=steps)[name]
        paths_png({name: found[name]}, out / f"{name}.png")
    results = {s: {n: {"lr": LRS[s][n], "distance": p.distance_to(SURFACES[s].minimum),
                       "loss": float(p.losses[-1]) - SURFACES[s].lowest} for n, p in tp.items()}
               for s, (tp, _) in found.items()}
    gap = max(largest_gap(tp, sp) for tp, sp in found.values())
    rows = [[n, *[f"{results[s][n]['distance']:.3g} (lr {results[s][n]['lr']:g})" for s in SURFACES]]
            for n in OPTIMIZERS]
    r = results["rosenbrock"]
    steps_text = ", ".join(f"{STEPS[s] // (10 if quick else 1)} steps on {s}" for s in SURFACES)
    paragraph = (
        f"Distance from the last point to the minimum after {steps_text}. On Rosenbrock, "
        f"plain SGD at lr {r['SGD']['lr']:g} ends {r['SGD']['distance']:.2f} from (1, 1) while the same lr with "
        f"momentum 0.9 ends {r['SGD+momentum']['distance']:.3f} away: momentum accumulates the small, consistent "
        f"gradient along the valley floor. Adam (lr {r['Adam']['lr']:g}) ends {r['Adam']['distance']:.3f} away: "
        f"it divides each coordinate's step by its running gradient scale, so the flat valley direction gets "
        f"steps as large as the steep one. On the saddle plain SGD sits near the ridge the longest, because the "
        f"gradient that pushes it off is tiny there. The scratch twins (mlplab.scratch.optim) follow torch's "
        f"paths to within {gap:.1e} (float64).")
    write_report(out, "optimizer-paths", TITLE, paragraph,
                 [("Distance to the minimum", tables.markdown(["optimizer", *SURFACES], rows))],
                 [f"{s}.png" for s in SURFACES], seed, quick)
    return {"surfaces": results, "largest_gap": gap}

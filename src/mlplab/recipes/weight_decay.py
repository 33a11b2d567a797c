"""Weight decay on high-dimensional linear regression (d2l, "Weight Decay"), by two routes.

20 training and 100 test samples, 200 features, y = X w + b + N(0, 0.01²) with w = 0.01 everywhere, b = 0.05.
A linear model with w ~ N(0, 1), b = 0, SGD lr 0.003, batch 5, 100 epochs, MSE, λ = 0 and λ = 3:

- loss-penalty route: minimise MSE + λ‖w‖²/2 (``mlplab.scratch.losses.l2_penalty``) with plain SGD;
- optimizer route: minimise MSE with SGD's ``weight_decay=λ`` (mlplab decays weights, never biases).

The penalty's gradient is λw, the step weight decay takes, and both routes see the same init and batches, so
their trajectories agree to rounding.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mlplab.data import synthetic
from mlplab.data.dataset import Dataset
from mlplab.experiments import tables
from mlplab.models.mlp import MLP
from mlplab.plots.figures import save, subplots
from mlplab.recipes.report import Narrate, write_report
from mlplab.scratch.losses import l2_penalty
from mlplab.training.fit import fit

TITLE = "weight-decay: L2 regularisation on high-dimensional linear regression"
LAMBDAS = (0.0, 3.0)
LR, BATCH, EPOCHS = 0.003, 5, 100


def run(out: Path, seed: int = 0, quick: bool = False, data_dir=None) -> dict:
    # Small already: --quick runs the full recipe (a few seconds).
    x, y = synthetic.linear(120, torch.full((200,), 0.01), 0.05, noise=0.01, seed=seed)   # (120, 200), (120, 1)
    data = Dataset.from_arrays(x[:20], y[:20], x_test=x[20:], y_test=y[20:], val_fraction=0.0, standardize=False,
                               name="synthetic-linear")
    results = {}
    for route in ("penalty", "optimizer"):
        for lam in LAMBDAS:
            # w ~ N(0, 1), b = 0. The init has its own seed: with the data's seed, w would equal the first
            # training row (both are the first 200 draws of a generator seeded alike).
            model = MLP(200, [], 1, init="normal:1", seed=seed + 1)
            # the same step two ways: λw from the loss's gradient, or from SGD's decay of the weights
            decay = (dict(penalty=lambda m, lam=lam: l2_penalty(m, lam)) if route == "penalty"
                     else dict(weight_decay=lam))
            history = fit(model, data, optimizer="sgd", lr=LR, loss="mse", epochs=EPOCHS, batch_size=BATCH,
                          seed=seed, device="cpu", callbacks=[Narrate(f"{route} route, λ={lam:g}")], **decay)
            w = model.linears()[0].weight.detach()
            results[(route, lam)] = {"history": history, "w": w, "norm": w.norm(p=2).item(),
                                     "train_loss": history.final["train_loss"],
                                     "test_loss": history.final["test_loss"]}

    fig, axes = subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for ax, route in zip(axes, ("penalty", "optimizer")):
        for lam, color in zip(LAMBDAS, ("C0", "C3")):
            h = results[(route, lam)]["history"]
            ax.plot(h.column("epoch"), h.column("train_loss"), color=color, label=f"train, λ={lam:g}")
            ax.plot(h.column("epoch"), h.column("test_loss"), "--", color=color, label=f"test, λ={lam:g}")
        ax.set_yscale("log")
        ax.set_title(f"{route} route", fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("MSE")
    save(fig, out / "loss_curves.png")

    agree = max((results[("penalty", lam)]["w"] - results[("optimizer", lam)]["w"]).abs().max().item()
                for lam in LAMBDAS)
    rows = [[route, f"{lam:g}", r["norm"], r["train_loss"], r["test_loss"]] for (route, lam), r in results.items()]
    r0, r3 = results[("optimizer", 0.0)], results[("optimizer", 3.0)]
    paragraph = (
        f"‖w‖₂ is the Euclidean (L2) norm of the 200 weights, bias excluded. With 20 samples for 200 weights "
        f"the data pin down only a 20-dimensional subspace, so without decay (λ = 0) the weights stay near their "
        f"N(0, 1) start: ‖w‖₂ = {r0['norm']:.2f} (the true w has norm {0.01 * 200 ** 0.5:.2f}). The training loss "
        f"falls to {r0['train_loss']:.2g} while the test loss stays at {r0['test_loss']:.1f}: pure overfitting. "
        f"With λ = 3 every step also shrinks w by a factor 1 − lr·λ, ‖w‖₂ drops to {r3['norm']:.3f}, the "
        f"training loss is higher ({r3['train_loss']:.3g}) and the test loss is "
        f"{'lower' if r3['test_loss'] < r0['test_loss'] else 'NOT lower'} ({r3['test_loss']:.3g}). The loss "
        f"penalty λ‖w‖²/2 and SGD's weight_decay=λ give the same weights (largest difference {agree:.1e}), "
        f"since the penalty's gradient λw is exactly the decay step.")
    write_report(out, "weight-decay", TITLE, paragraph,
                 [("Results", tables.markdown(["route", "λ", "‖w‖₂ (L2 norm)", "train MSE", "test MSE"],
                                              rows))],
                 ["loss_curves.png"], seed, quick)
    return {f"{route}, lambda={lam:g}": {k: v for k, v in r.items() if k not in ("history", "w")}
            for (route, lam), r in results.items()} | {"routes_max_abs_diff": agree}

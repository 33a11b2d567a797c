"""Activations: their shapes and derivatives, then dead and saturated units after training on Fashion-MNIST.

The plot of every activation beside its derivative is ``mlplab.plots.activations``. Then a 784-256-256-10 MLP
per activation (relu, sigmoid, tanh; default init, SGD lr 0.5, batch 256, 5 epochs; --quick: 3,000 images,
2 epochs of batch 64 at lr 0.1) and, on 2,000 training images (500 quick), per hidden layer:

- a *dead* unit outputs 0 for every image (relu: its pre-activation is never positive);
- a *saturated* unit has f'(z) below 5% of f's peak slope on at least 95% of the images (sigmoid: |z| ≳ 4.4,
  tanh: |z| ≳ 2.2), so almost no gradient passes through it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mlplab.experiments import tables
from mlplab.models.activations import Activation, get_activation
from mlplab.models.mlp import MLP
from mlplab.plots.figures import activations as activation_plot
from mlplab.plots.figures import save, subplots
from mlplab.recipes import fashion
from mlplab.recipes.report import Narrate, write_report
from mlplab.training.fit import fit

TITLE = "activations: shapes, derivatives, dead relu and saturated sigmoid/tanh units"
ACTS = ("relu", "sigmoid", "tanh")
SLOPE_FRACTION, IMAGE_FRACTION = 0.05, 0.95


def slope(name: str, z: torch.Tensor) -> torch.Tensor:
    """f'(z) elementwise, by autograd."""
    z = z.detach().double().requires_grad_(True)
    (grad,) = torch.autograd.grad(get_activation(name)(z).sum(), z)
    return grad


@torch.no_grad()
def pre_activations(model: MLP, x: torch.Tensor) -> list[torch.Tensor]:
    """Each hidden layer's input to its activation, (N, units), in eval mode."""
    captured = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: captured.append(inp[0].detach().cpu()))
             for m in model if isinstance(m, Activation)]
    model.eval()
    model(x)
    for h in hooks:
        h.remove()
    return captured


def unit_stats(name: str, zs: list[torch.Tensor]) -> list[dict]:
    """Per layer: fraction of dead units, of saturated units, and of (image, unit) values in saturation."""
    peak = slope(name, torch.linspace(-10, 10, 2001)).max()
    stats = []
    for z in zs:                                                        # (N, units)
        flat = slope(name, z) < SLOPE_FRACTION * peak                  # (N, units) saturated values
        dead = (get_activation(name)(z) == 0).all(dim=0)              # (units,)
        saturated = flat.double().mean(dim=0) >= IMAGE_FRACTION        # (units,)
        stats.append({"dead": dead.double().mean().item(), "saturated": saturated.double().mean().item(),
                      "saturated_values": flat.double().mean().item()})
    return stats


def run(out: Path, seed: int = 0, quick: bool = False, data_dir=None) -> dict:
    data = fashion.load(data_dir, seed, subset=(3_000, 1_000) if quick else None)
    activation_plot(out / "activations.png")
    epochs, batch, lr, probe = (2, 64, 0.1, 500) if quick else (5, 256, 0.5, 2_000)
    results = {}
    for name in ACTS:
        model = MLP(784, [256, 256], 10, activation=name, seed=seed + 1)
        history = fit(model, data, optimizer="sgd", lr=lr, epochs=epochs, batch_size=batch, seed=seed,
                      device="auto", callbacks=[Narrate(name)])
        x = data.x_train[:probe].to(next(model.parameters()).device)
        results[name] = {"test_accuracy": history.final["test_accuracy"],
                         "layers": unit_stats(name, pre_activations(model, x))}

    fig, ax = subplots(figsize=(6.4, 3.8))
    labels, dead, sat = [], [], []
    for name, r in results.items():
        for i, s in enumerate(r["layers"], start=1):
            labels.append(f"{name}\nlayer {i}")
            dead.append(s["dead"] if name == "relu" else 0.0)       # only relu outputs exact zeros
            sat.append(s["saturated"] if name != "relu" else 0.0)   # relu's flat side is "dead", not saturated
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], dead, 0.4, label="dead units")
    ax.bar([x + 0.2 for x in xs], sat, 0.4, label="saturated units")
    ax.set_xticks(list(xs), labels, fontsize=8)
    ax.set_ylabel("fraction of the layer's units")
    ax.legend()
    ax.grid(alpha=0.3, axis="y")
    save(fig, out / "dead_saturated.png")

    rows = [[name, i, r["test_accuracy"], s["dead"] if name == "relu" else "–",
             s["saturated"] if name != "relu" else "–", s["saturated_values"]]
            for name, r in results.items() for i, s in enumerate(r["layers"], start=1)]
    def pct(act: str, key: str) -> str:
        return ", ".join(format(s[key], ".1%") for s in results[act]["layers"])

    paragraph = (
        f"The first plot shows each activation beside its derivative: relu's slope is 1 or 0, sigmoid's at most "
        f"1/4 and tanh's at most 1, both vanishing for large |z|. After {epochs} epochs"
        f"{' on a 3,000-image subset' if quick else ''}, relu has {pct('relu', 'dead')} dead units in its two "
        f"layers (units that output 0 for every probe image and so never receive a gradient again); sigmoid has "
        f"{pct('sigmoid', 'saturated')} saturated units and {pct('sigmoid', 'saturated_values')} of its values "
        f"in the flat region; tanh has {pct('tanh', 'saturated')} saturated units and "
        f"{pct('tanh', 'saturated_values')} of its values there. Test accuracy: "
        + ", ".join(f"{a} {results[a]['test_accuracy']:.4f}" for a in ACTS)
        + ". Dead and saturated units are capacity the model pays for but cannot train.")
    write_report(out, "activations", TITLE, paragraph,
                 [("Per hidden layer (fractions)", tables.markdown(
                     ["activation", "layer", "test acc", "dead units", "saturated units",
                      "values where f' < 5% of peak"], rows))],
                 ["activations.png", "dead_saturated.png"], seed, quick)
    return results

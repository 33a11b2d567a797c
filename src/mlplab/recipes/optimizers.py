"""Optimizers side by side: one MLP, one init, one data order, each optimizer at its usual learning rate.

The model is 64-128-10 (relu) on the digits set, batch 64, 30 epochs (5 with --quick). Every run builds the
model from the same seed (same initial weights) and ``fit`` draws the same batches from the same seed, so
only the update rule differs.
"""

from __future__ import annotations

from pathlib import Path

from mlplab.data.load import load_dataset
from mlplab.experiments import tables
from mlplab.models.mlp import MLP
from mlplab.plots.figures import overlay
from mlplab.recipes.report import Narrate, write_report
from mlplab.training.fit import fit

TITLE = "optimizers: SGD, momentum, RMSprop, Adagrad, Adadelta, Adam, Adamax on one problem"
# name -> (registry name, lr, extra hyperparameters): the usual starting points (torch's defaults where it
# has one; SGD 0.1 as d2l; momentum 0.9 with lr 0.01, the same effective step lr / (1 − β) = 0.1)
OPTIMIZERS = {
    "SGD": ("sgd", 0.1, {}),
    "SGD+momentum": ("sgd", 0.01, {"momentum": 0.9}),
    "RMSprop": ("rmsprop", 0.001, {}),
    "Adagrad": ("adagrad", 0.01, {}),
    "Adadelta": ("adadelta", 1.0, {}),
    "Adam": ("adam", 0.001, {}),
    "Adamax": ("adamax", 0.002, {}),
}


def run(out: Path, seed: int = 0, quick: bool = False, data_dir=None) -> dict:
    epochs = 5 if quick else 30
    data = load_dataset("digits", seed=seed)
    results = {}
    for name, (opt, lr, extra) in OPTIMIZERS.items():
        model = MLP(64, [128], 10, seed=seed + 1)
        history = fit(model, data, optimizer=opt, lr=lr, epochs=epochs, batch_size=64, seed=seed, device="cpu",
                      optimizer_args=extra, callbacks=[Narrate(name)])
        results[name] = {"lr": lr, "extra": extra, "history": history, **{
            k: history.final[k] for k in ("train_loss", "val_loss", "val_accuracy", "test_accuracy")}}
    for metric in ("train_loss", "val_loss", "val_accuracy"):
        overlay({n: [r["history"].column(metric)] for n, r in results.items()}, metric, out / f"{metric}.png",
                title=f"digits 64-128-10: {metric} per optimizer (same init and batches)")

    rows = [[n, f"{r['lr']:g}", ", ".join(f"{k}={v}" for k, v in r["extra"].items()) or "-", r["train_loss"],
             r["val_loss"], r["val_accuracy"], r["test_accuracy"]] for n, r in results.items()]
    order = sorted(results, key=lambda n: results[n]["val_loss"])
    fastest = min(results, key=lambda n: results[n]["history"].column("train_loss")[0])
    paragraph = (
        f"After {epochs} epochs the validation loss ranks {', '.join(order)} (best first); test accuracies range "
        f"from {min(r['test_accuracy'] for r in results.values()):.4f} to "
        f"{max(r['test_accuracy'] for r in results.values()):.4f}. {fastest} has the lowest training loss "
        f"after the first epoch ({results[fastest]['history'].column('train_loss')[0]:.3f}). With the same "
        f"init and batches, the differences come from the update rules alone: momentum averages gradients over "
        f"steps, RMSprop/Adam/Adamax divide by a running gradient scale so every weight moves at a similar "
        f"rate, Adagrad's accumulated scale only grows so its steps shrink over time, and Adadelta scales its "
        f"steps by the ratio of running update and gradient magnitudes, so lr 1.0 is its natural "
        f"setting. Each runs at one usual learning rate here, not a tuned one: the ranking can change with "
        f"tuning (try mlplab compare --grid optimizer=... --grid lr=...).")
    write_report(out, "optimizers", TITLE, paragraph,
                 [("Final numbers", tables.markdown(["optimizer", "lr", "other", "train loss", "val loss",
                                                     "val acc", "test acc"], rows))],
                 ["train_loss.png", "val_loss.png", "val_accuracy.png"], seed, quick)
    return {n: {k: v for k, v in r.items() if k != "history"} for n, r in results.items()}

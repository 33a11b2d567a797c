"""Dropout on Fashion-MNIST (d2l, "Dropout"): 784-256-256-10, SGD lr 0.5, batch 256, 10 epochs.

Four settings: no dropout; 0.2 after both hidden layers; 0.5 after both; and d2l's 0.2 after the first and
0.5 after the second. Weights start N(0, 0.01²) as in d2l. The train–test gap uses the training accuracy
measured in eval mode after training (the running accuracy during an epoch sees dropped units).
"""

from __future__ import annotations

from pathlib import Path

from mlplab.experiments import tables
from mlplab.models.mlp import MLP
from mlplab.plots.figures import save, subplots
from mlplab.recipes import fashion
from mlplab.recipes.report import Narrate, verdict, write_report
from mlplab.training.evaluate import evaluate
from mlplab.training.fit import fit
from mlplab.training.losses import get_loss

TITLE = "dropout: regularising a 784-256-256-10 MLP on Fashion-MNIST"
SETTINGS = {"none": (0.0, 0.0), "0.2": (0.2, 0.2), "0.5": (0.5, 0.5), "0.2/0.5 (d2l)": (0.2, 0.5)}


def gap_figure(results: dict[str, dict]):
    """Train and test accuracy per setting as bars from 0 (a cut axis would magnify the gaps), values on top."""
    fig, ax = subplots(figsize=(6, 3.6))
    names = list(results)
    for offset, split in ((-0.2, "train"), (0.2, "test")):
        bars = ax.bar([i + offset for i in range(len(names))], [results[n][f"{split}_accuracy"] for n in names], 0.4,
                      label=split)
        ax.bar_label(bars, fmt="%.3f", fontsize=7)  # the differences, which bars from 0 make small, as numbers
    ax.set_xticks(range(len(names)), names)
    ax.set_ylim(0, 1.2)  # headroom above 1.0 for the labels and, above them, the legend
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("accuracy (eval mode)")
    ax.set_xlabel("dropout")
    ax.legend(loc="upper right", ncols=2, fontsize=8)
    return fig


def run(out: Path, seed: int = 0, quick: bool = False, data_dir=None) -> dict:
    # quick: 3,000 training images, 4 epochs of batch 64 (the full recipe's batch 256 would give too few steps
    # to leave the small-init plateau), no dropout against d2l's 0.2/0.5 only
    data = fashion.load(data_dir, seed, subset=(3_000, 1_000) if quick else None)
    epochs, batch = (4, 64) if quick else (10, 256)
    settings = {k: SETTINGS[k] for k in ("none", "0.2/0.5 (d2l)")} if quick else SETTINGS
    results = {}
    for name, drops in settings.items():
        model = MLP(784, [256, 256], 10, dropout=list(drops), init="normal:0.01", seed=seed)
        history = fit(model, data, optimizer="sgd", lr=0.5, loss="cross_entropy", epochs=epochs, batch_size=batch,
                      seed=seed, device="auto", callbacks=[Narrate(f"dropout {name}")])
        x, y = data.x_train.to(next(model.parameters()).device), data.y_train
        train = evaluate(model, x, y.to(x.device), get_loss("cross_entropy"), "cross_entropy", "multiclass")
        test_acc = history.final["test_accuracy"]
        results[name] = {"history": history, "train_accuracy": train["accuracy"], "train_loss": train["loss"],
                         "test_accuracy": test_acc, "test_loss": history.final["test_loss"],
                         "gap": train["accuracy"] - test_acc}

    fig, axes = subplots(1, 2, figsize=(11, 3.8))
    for name, r in results.items():
        h = r["history"]
        axes[0].plot(h.column("epoch"), h.column("train_loss"), label=f"{name}: train")
        axes[0].plot(h.column("epoch"), h.column("test_loss"), "--", color=axes[0].lines[-1].get_color(),
                     label=f"{name}: test")
        axes[1].plot(h.column("epoch"), h.column("test_accuracy"), label=name)
    for ax, ylabel in zip(axes, ("cross-entropy", "test accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_title("loss (train: running, with dropout active)", fontsize=9)
    save(fig, out / "curves.png")
    save(gap_figure(results), out / "gap.png")

    rows = [[name, r["train_accuracy"], r["test_accuracy"], r["gap"], r["train_loss"], r["test_loss"]]
            for name, r in results.items()]
    none = results["none"]
    with_dropout = {n: r for n, r in results.items() if n != "none"}
    best = max(with_dropout, key=lambda n: with_dropout[n]["test_accuracy"])
    smaller_gaps = [n for n, r in with_dropout.items() if r["gap"] < none["gap"]]
    paragraph = (
        f"After {epochs} epochs{' on a 3,000-image subset' if quick else ''}, the model without dropout reaches "
        f"test accuracy {none['test_accuracy']:.4f} with a train–test gap of {none['gap']:+.4f}. With dropout the "
        f"test accuracy is " + ", ".join(f"{r['test_accuracy']:.4f} ({n})" for n, r in with_dropout.items())
        + f"; the best is {best}. The gap is smaller than without dropout for "
        f"{', '.join(smaller_gaps) if smaller_gaps else 'none of the settings'} ("
        + ", ".join(f"{r['gap']:+.4f} for {n}" for n, r in with_dropout.items()) + "). "
        "Dropout zeroes each hidden unit with probability p during training and scales the rest by 1/(1−p), so "
        "no unit can rely on particular others; the cost is slower fitting of the training set, the gain a "
        "model that fits it less tightly."
        + (" All gaps are below 0.02: this short training has not yet overfit much, so dropout has little "
           "to remove." if max(abs(r["gap"]) for r in results.values()) < 0.02 else ""))
    n_test = len(data.y_test)
    noise = (none["test_accuracy"] * (1 - none["test_accuracy"]) / n_test) ** 0.5  # binomial standard error
    margin = with_dropout[best]["test_accuracy"] - none["test_accuracy"]
    lesson = verdict(
        "dropout lifts test accuracy above the model without it (d2l's lesson)", margin > 2 * noise,
        f"the best dropout setting ({best}) scores {with_dropout[best]['test_accuracy']:.4f} against "
        f"{none['test_accuracy']:.4f} without dropout, a difference of {margin:+.4f} where the test set's own noise "
        f"is ±{noise:.4f} (one standard error on {n_test:,} images)",
        f"dropout pays off once the plain model overfits; after {epochs} epochs its train–test gap is only "
        f"{none['gap']:+.4f}, so there is little to remove, while dropout slows the fitting itself. Train longer "
        "(or a wider net, or fewer training images) to see the effect, and compare over several --seed values: a "
        "difference within two standard errors can reverse with the seed.")
    write_report(out, "dropout", TITLE, paragraph,
                 [("Results (accuracies and losses in eval mode)",
                   tables.markdown(["dropout", "train acc", "test acc", "gap (train − test)", "train loss",
                                    "test loss"], rows))], ["curves.png", "gap.png"], seed, quick, lesson=lesson)
    return {n: {k: v for k, v in r.items() if k != "history"} for n, r in results.items()}


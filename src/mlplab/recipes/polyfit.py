"""Under- and overfitting with polynomial features (d2l, "Model Selection, Underfitting, and Overfitting").

y = 5 + 1.2x − 3.4x²/2! + 5.6x³/3! + N(0, 0.1²), x ~ N(0, 1); 100 training and 100 test samples. A bias-free
linear model (the constant is feature 0) trained by SGD (lr 0.01, batch 10, MSE) on the first 4 features (the
right capacity, 400 epochs), the first 2 (underfit, 400 epochs) and all 20 (overfit, 1500 epochs).
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
from mlplab.training.fit import fit

TITLE = "polyfit: under- and overfitting with polynomial features"
TRUE_W = (5.0, 1.2, -3.4, 5.6)
CASES = {"right (4 features)": (4, 400), "underfit (2 features)": (2, 400), "overfit (20 features)": (20, 1500)}
QUICK_EPOCHS = {4: 400, 2: 100, 20: 200}  # the 4-feature fit keeps its 400 epochs: its weights are checked


def run(out: Path, seed: int = 0, quick: bool = False, data_dir=None) -> dict:
    feats, y = synthetic.polynomial(200, torch.tensor(TRUE_W), degree=20, noise=0.1, seed=seed)  # (200, 20), (200, 1)
    results = {}
    for name, (k, epochs) in CASES.items():
        epochs = QUICK_EPOCHS[k] if quick else epochs
        data = Dataset.from_arrays(feats[:100, :k], y[:100], x_test=feats[100:, :k], y_test=y[100:], val_fraction=0.0,
                                   standardize=False, name="polynomial")   # the features as d2l scales them
        model = MLP(k, [], 1, bias=False, seed=seed + 1)      # Linear(k, 1), no bias; init seed ≠ data seed
        history = fit(model, data, optimizer="sgd", lr=0.01, loss="mse", epochs=epochs, batch_size=10,
                      seed=seed, device="cpu", callbacks=[Narrate(name)])
        results[name] = {"features": k, "epochs": epochs, "history": history,
                         "weights": model.linears()[0].weight.detach().ravel().tolist(),
                         "train_loss": history.final["train_loss"], "test_loss": history.final["test_loss"]}

    fig, axes = subplots(1, 3, figsize=(13, 3.6))
    for ax, (name, r) in zip(axes, results.items()):
        h = r["history"]
        ax.plot(h.column("epoch"), h.column("train_loss"), label="train")
        ax.plot(h.column("epoch"), h.column("test_loss"), "--", label="test")
        ax.set_yscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel("MSE")
        ax.grid(alpha=0.3)
        ax.legend()
    save(fig, out / "loss_curves.png")
    fig, ax = subplots(figsize=(8, 3.6))
    width = 0.2
    true = list(TRUE_W) + [0.0] * 16
    ax.bar([i - 1.5 * width for i in range(20)], true, width, label="true", color="black")
    for j, (name, r) in enumerate(results.items()):
        ax.bar([i + (j - 0.5) * width for i in range(r["features"])], r["weights"], width, label=name)
    ax.set_xlabel("feature i (x^i / i!)")
    ax.set_ylabel("weight")
    ax.set_xticks(range(20))
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    save(fig, out / "weights.png")

    right = results["right (4 features)"]["weights"]
    error = max(abs(w - t) for w, t in zip(right, TRUE_W))
    rows = [[name, r["features"], r["epochs"], r["train_loss"], r["test_loss"],
             "[" + ", ".join(f"{w:.3f}" for w in r["weights"][:4]) + "]"] for name, r in results.items()]
    under, over = results["underfit (2 features)"], results["overfit (20 features)"]
    paragraph = (
        f"With the 4 features the data was made from, the weights land at "
        f"[{', '.join(f'{w:.3f}' for w in right)}], at most {error:.3f} from [5, 1.2, -3.4, 5.6], and both losses "
        f"sit near the noise floor of 0.01 (train {results['right (4 features)']['train_loss']:.4f}, "
        f"test {results['right (4 features)']['test_loss']:.4f}). With only 2 features the model cannot "
        f"express the x² and x³ terms: train and test losses stay high together "
        f"({under['train_loss']:.2f} and {under['test_loss']:.2f}), which is underfitting. With all 20 features "
        f"the model has room to fit the noise: train MSE {over['train_loss']:.4f}, test MSE "
        f"{over['test_loss']:.4f} (test/train {over['test_loss'] / over['train_loss']:.2f}, against "
        f"{results['right (4 features)']['test_loss'] / results['right (4 features)']['train_loss']:.2f} for the "
        f"4-feature model), and the weights on powers that should be zero are not (largest |w_i| for i ≥ 4: "
        f"{max(abs(w) for w in over['weights'][4:]):.3f}). The 1/i! scaling makes the high features tiny, so "
        f"SGD moves their weights slowly and the overfit grows only gradually with the epochs.")
    write_report(out, "polyfit", TITLE, paragraph,
                 [("Results", tables.markdown(["model", "features", "epochs", "train MSE", "test MSE",
                                               "first 4 weights"], rows))],
                 ["loss_curves.png", "weights.png"], seed, quick)
    return {name: {k: v for k, v in r.items() if k != "history"} for name, r in results.items()} | {
        "max_weight_error": error}

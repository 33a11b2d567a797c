"""Remembering across a long gap: a tanh RNN against an LSTM on a task whose answer is at step 1.

The task (a classification form of Hochreiter & Schmidhuber's long-time-lag problems, 1997): each sequence has
T steps of K + M + 1 features. Step 1 holds one of K symbols (one-hot, scaled by 2) and a marker feature set to
1; steps 2..T hold Gaussian noise N(0, 1) on the K symbol features and on M = 4 features that carry noise only,
and marker 0. The label is the symbol of step 1, read from the last hidden state, so T − 1 noisy steps lie
between the evidence and the answer. Chance is 1/K. The noise-only features are there by measurement: with the
K symbol features alone a tanh RNN trained by Adam escaped its plateau at some seeds (T = 50, constant lr: 0.997
at seed 1), since Adam rescales even a vanishing gradient; with them it stays near chance at seeds 0-9 (T = 50:
≤ 0.28; at T = 30 seed 8 reaches 0.37).

Both models have the same state size, optimizer, learning-rate schedule (Adam, one cycle to 3e-3: at a constant
3e-3 the LSTM's accuracy swung between epochs, seed 1 0.94 → 0.73), batch size, epochs and data, through
``mlplab.train``. The LSTM's forget-gate bias starts at +3 (f = σ(3) ≈ 0.95; Gers et al.,
2000, and Jozefowicz et al., 2015, recommend a positive start), set by a callback before the first step; an LSTM
with torch's own init (f ≈ σ(0) = 0.5: the cell halves every step) is trained too, to show why.

To see the vanishing gradient, the trained weights are unrolled step by step with the scratch cells
(``mlplab.scratch.rnn``): ∂ℓ/∂h_t (and the LSTM's ∂ℓ/∂c_t) for every t by autograd with ``retain_grad``.
For the RNN, ∂h_T/∂h_t = ∏ diag(1 − h_s²) W_hh over the steps between: a product that shrinks geometrically;
the LSTM's cell passes ∂c_{s}/∂c_{s−1} = f_s, which stays near 1 where the forget gate is open.

Measured (CPU, 1 thread, ``mlplab recipe lstm-memory --seed S [--quick]``), test accuracy RNN / LSTM at seeds
0, 1, 2, 3, 4:

- full (T = 50, 4,000 sequences, 8 epochs): 0.249 / 0.998, 0.248 / 0.997, 0.246 / 0.997, 0.255 / 0.999,
  0.254 / 1.000; the LSTM ≥ 0.95 from epoch 3 (seed 2: 5, seed 3: 4); the LSTM with torch's init 0.258, 0.233,
  0.244, 0.237, 0.266; 19-30 s each on a shared 2-core machine.
- quick (T = 30, 2,000 sequences, 8 epochs): 0.266 / 0.994, 0.246 / 1.000, 0.302 / 0.996, 0.258 / 0.998,
  0.262 / 1.000; 12-15 s each.

The margin is wide but not unlimited: at seeds 5-9 (full) the RNN ends at 0.24-0.28 and the LSTM at 0.99-1.00,
except seed 9, where the LSTM ends at 0.94 (0.98 at epoch 5). Those numbers are from 2026-11-29; a later full
run at the default seed 0 (issue 22; the same with one thread) gave the LSTM 0.933. Why was not measured: the
code and torch build changed in between, and 8 epochs leave the LSTM's accuracy unsettled at some seeds (seed 9
above). So the exact LSTM figure is not a promise; what the recipe teaches is the contrast, the RNN at chance and
the LSTM far above it. The report's first line says whether this run showed it, and says plainly when the LSTM
ends below 0.99.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from mlplab.data.dataset import Dataset
from mlplab.experiments import tables
from mlplab.plots.figures import epoch_axis, save, subplots
from mlplab.recipes.report import verdict, write_report
from mlplab.runs.train import train
from mlplab.scratch.rnn import lstm_cell, rnn_cell
from mlplab.training.callbacks import Callback

TITLE = "lstm-memory: a tanh RNN and an LSTM remembering the first symbol across a long noisy gap"
FULL = dict(steps=50, symbols=4, noise=4, n_train=4000, n_test=1000, hidden=32, epochs=8)
QUICK = dict(steps=30, symbols=4, noise=4, n_train=2000, n_test=500, hidden=32, epochs=8)
# Given in full for both models, so neither picks up its model type's own defaults (the LSTM's include a
# schedule the RNN's lack): one cycle (warm-up, then cosine to 0), as mlplab's LSTM default has it.
TRAINING = dict(optimizer="adam", lr=3e-3, schedule="onecycle", batch_size=64)
FORGET_BIAS = 3.0
MODELS = {"rnn": ("rnn", None), "lstm": ("lstm", FORGET_BIAS), "lstm, default init": ("lstm", None)}


def first_symbol_task(n: int, steps: int, symbols: int, noise: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences (n, T, K + noise + 1) and their labels (n,): the symbol at step 1, noise after it.

    >>> x, y = first_symbol_task(3, 5, 4, 2, np.random.default_rng(0))
    >>> x.shape, bool((x[np.arange(3), 0, y] == 2).all()), x[:, :, -1].sum(axis=1).tolist()
    ((3, 5, 7), True, [1.0, 1.0, 1.0])
    """
    y = rng.integers(0, symbols, size=n)
    x = np.zeros((n, steps, symbols + noise + 1), dtype=np.float32)
    x[:, 1:, :-1] = rng.normal(size=(n, steps - 1, symbols + noise))  # the noise to ignore
    x[np.arange(n), 0, y] = 2.0                                        # the symbol to remember
    x[:, 0, -1] = 1.0                                                  # the marker: "this one"
    return x, y


class ForgetBias(Callback):
    """Before the first step, set the LSTM's forget-gate bias (b_if + b_hf) to ``value``; also keep a copy of
    the model as it starts (``initial``), for the gradients at initialisation."""

    def __init__(self, value: float | None):
        self.value, self.initial = value, None

    def on_train_begin(self, history, model, opt):
        if self.value is not None:
            h = model.rnn.hidden_size
            with torch.no_grad():                      # torch's gate order i, f, g, o: f is the second chunk
                model.rnn.bias_ih_l0[h:2 * h] = self.value
                model.rnn.bias_hh_l0[h:2 * h] = 0.0
        self.initial = copy.deepcopy(model)


def unroll(model: nn.Module, x: Tensor) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """The classifier's logits for ``x`` (N, T, D), computed one step at a time with the scratch cell on the
    model's own weights; returns (logits, [h_t], [c_t] (LSTM only)) with every state's ``.grad`` retained."""
    rnn = model.rnn
    w = [getattr(rnn, f"{name}_l0") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    h = c = x.new_zeros(x.shape[0], rnn.hidden_size)                 # (N, H)
    hs, cs = [], []
    for t in range(x.shape[1]):
        if model.cell == "lstm":
            h, c = lstm_cell(x[:, t], (h, c), *w)
            c.retain_grad()
            cs.append(c)
        else:
            h = rnn_cell(x[:, t], h, *w)
        h.retain_grad()
        hs.append(h)
    return model.fc(h), hs, cs


def state_gradients(model: nn.Module, x: Tensor, y: Tensor) -> dict[str, list[float]]:
    """Per step t = 1..T, averaged over the sequences: ‖∂ℓ/∂h_t‖, ‖∂ℓ/∂c_t‖ (LSTM) and ‖h_t‖, where ℓ is each
    sequence's own cross-entropy (the sum over the batch, so each row's gradient is its own)."""
    model = copy.deepcopy(model).cpu().eval()
    logits, hs, cs = unroll(model, x)
    F.cross_entropy(logits, y, reduction="sum").backward()
    out = {"grad_h": [s.grad.norm(dim=1).mean().item() for s in hs],
           "h_norm": [s.detach().norm(dim=1).mean().item() for s in hs]}
    if cs:
        out["grad_c"] = [s.grad.norm(dim=1).mean().item() for s in cs]
    return out


def first_epoch_at(accuracies: list[float], level: float) -> int | None:
    return next((i + 1 for i, a in enumerate(accuracies) if a >= level), None)


def figure(results: dict, steps: int):
    fig, axes = subplots(2, 2, figsize=(11, 7.6))
    t = np.arange(1, steps + 1)
    for i, (name, r) in enumerate(results.items()):
        color = f"C{i}"
        h = r["history"]
        axes[0, 0].plot(h.column("epoch"), h.column("train_loss"), color=color, marker="o", ms=3, label=name)
        axes[0, 1].plot(h.column("epoch"), h.column("test_accuracy"), color=color, marker="o", ms=3, label=name)
        for when, style in (("init", ":"), ("trained", "-")):
            g = r[when]
            axes[1, 0].plot(t, g["grad_h"], style, color=color, label=f"{name}: ∂ℓ/∂h_t, {when}")
            if "grad_c" in g and when == "trained":
                axes[1, 0].plot(t, g["grad_c"], "--", color=color, label=f"{name}: ∂ℓ/∂c_t, trained")
        axes[1, 1].plot(t, r["trained"]["h_norm"], color=color, label=name)
    axes[0, 0].set(xlabel="epoch", ylabel="training loss (cross-entropy)", title="learning curves")
    axes[0, 1].axhline(1 / results["rnn"]["symbols"], color="gray", lw=0.8, ls="-.", label="chance")
    axes[0, 1].set(xlabel="epoch", ylabel="test accuracy", ylim=(0, 1.05), title="test accuracy")
    epoch_axis(axes[0, 0])
    epoch_axis(axes[0, 1])
    axes[1, 0].set_yscale("log")
    axes[1, 0].set(xlabel="time step t", ylabel="mean ‖∂ℓ/∂state_t‖ (log)",
                   title="how much the loss feels each step's state (1 = the symbol)")
    axes[1, 1].set(xlabel="time step t", ylabel="mean ‖h_t‖", title="hidden-state norm, trained")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def run(out: Path, seed: int = 0, quick: bool = False, data_dir=None) -> dict:
    size = QUICK if quick else FULL
    steps, symbols, noise = size["steps"], size["symbols"], size["noise"]
    rng = np.random.default_rng(seed)
    x, y = first_symbol_task(size["n_train"], steps, symbols, noise, rng)
    x_test, y_test = first_symbol_task(size["n_test"], steps, symbols, noise, rng)
    data = Dataset.from_arrays(x, y, x_test=x_test, y_test=y_test, val_fraction=0.0, standardize=False,
                               name="first-symbol")
    probe_x, probe_y = data.x_test[:256], data.y_test[:256]          # the sequences the gradients are taken on
    models = {k: v for k, v in MODELS.items() if not quick or k != "lstm, default init"}
    results = {}
    for name, (cell, forget_bias) in models.items():
        start = ForgetBias(forget_bias if cell == "lstm" else None)
        trained = train(data, model=cell, hidden=[size["hidden"]], epochs=size["epochs"], seed=seed, device="cpu",
                        progress="quiet", callbacks=[start], **TRAINING)
        acc = trained.history.column("test_accuracy")
        results[name] = {"history": trained.history, "symbols": symbols, "test_accuracy": acc[-1],
                         "epoch_95": first_epoch_at(acc, 0.95),
                         "seconds": sum(trained.history.column("seconds")),
                         "parameters": sum(p.numel() for p in trained.model.parameters()),
                         "init": state_gradients(start.initial, probe_x, probe_y),
                         "trained": state_gradients(trained.model, probe_x, probe_y)}
    save(figure(results, steps), out / "memory.png")

    def ratio(r, when):  # how much weaker the loss's pull on h_1 is than on h_T
        g = r[when]["grad_h"]
        return g[0] / g[-1]

    rows = [[name, r["parameters"], r["test_accuracy"], r["epoch_95"] or "never", f"{ratio(r, 'init'):.1e}",
             f"{ratio(r, 'trained'):.1e}", f"{r['seconds']:.1f}"] for name, r in results.items()]
    rnn, lstm = results["rnn"], results["lstm"]
    paragraph = (
        f"Sequences of T = {steps} steps; the label is the symbol (one of {symbols}, chance {1 / symbols:.2f}) "
        f"shown at step 1, followed by {steps - 1} steps of Gaussian noise on the {symbols} symbol features and "
        f"{noise} noise-only ones. With the same state size ({size['hidden']}), Adam with a one-cycle schedule to "
        f"lr {TRAINING['lr']}, batch {TRAINING['batch_size']} and {size['epochs']} epochs on {size['n_train']} "
        f"sequences, the tanh RNN ends at test accuracy {rnn['test_accuracy']:.3f} and the "
        f"LSTM (forget-gate bias {FORGET_BIAS:+.0f}) at {lstm['test_accuracy']:.3f}"
        + (f", above 0.95 from epoch {lstm['epoch_95']}" if lstm["epoch_95"] else "") + ". "
        f"The gradient plot shows the obstacle: at initialisation the RNN's ‖∂ℓ/∂h_1‖ is {ratio(rnn, 'init'):.1e} times "
        f"its ‖∂ℓ/∂h_T‖ — the signal that would teach it to keep the symbol has all but vanished over "
        f"{steps - 1} multiplications by diag(1 − h²) W_hh — while for the LSTM the ratio is "
        f"{ratio(lstm, 'init'):.1e}: its cell carries the gradient back through forget gates near 1. "
        + ("With torch's default init (forget gate ≈ 0.5, the cell halving each step) the LSTM ends at "
           f"{results['lstm, default init']['test_accuracy']:.3f}: the gates can keep a memory only once they "
           "are open, and a gradient that must cross the gap to open them is itself vanishing. "
           if "lstm, default init" in results else "")
        + (f"This time the RNN escaped its plateau anyway (≥ 0.95 from epoch {rnn['epoch_95']}): Adam divides "
           "each weight's step by the running size of its own gradient, so even a vanishing signal moves the "
           "weights, and whether and when a tanh RNN escapes depends on the seed; the LSTM's gradient does not "
           "need that luck. " if rnn["epoch_95"] else "")
        + "The hidden-state norms show the states themselves stay bounded (tanh, |h| ≤ 1 per unit): what vanishes "
        "is the derivative, not the state.")
    chance = 1 / symbols
    lesson = verdict(
        f"the tanh RNN stays near chance ({chance:.2f}) while the LSTM remembers the symbol (0.99 or more at the "
        "documented seeds)", rnn["test_accuracy"] < chance + 0.15 and lstm["test_accuracy"] >= 0.99,
        f"RNN {rnn['test_accuracy']:.3f}, LSTM {lstm['test_accuracy']:.3f}",
        ("the LSTM ends below 0.99: "
         f"{size['epochs']} epochs do not always settle it (0.94 at seed 9 when the recipe was written, 0.933 at "
         "seed 0 in a later run), and the exact figure moves with the seed and the torch build; if it is still far "
         "above the RNN, the lesson stands. " if lstm["test_accuracy"] < 0.99 else "")
        + ("The RNN escaped its plateau this time: Adam rescales even a vanishing gradient, so whether a tanh RNN "
           "escapes depends on the seed." if rnn["test_accuracy"] >= chance + 0.15 else ""))
    write_report(out, "lstm-memory", TITLE, paragraph,
                 [("Results", tables.markdown(["model", "parameters", "test acc", "first epoch ≥ 0.95",
                                               "‖∂ℓ/∂h_1‖ / ‖∂ℓ/∂h_T‖ at init", "… trained", "train seconds"],
                                              rows))],
                 ["memory.png"], seed, quick, lesson=lesson)
    return {n: {k: v for k, v in r.items() if k != "history"} for n, r in results.items()}

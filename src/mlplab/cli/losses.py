"""``mlplab losses``: the tutorials' worked examples computed by both implementations, and the misuse messages."""

from __future__ import annotations

import argparse

NAME = "losses"
HELP = "print the worked loss examples (torch and scratch side by side) and what each misuse check says"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--impl", choices=["torch", "scratch"], default="torch", help="whose misuse messages to show")


def run(args: argparse.Namespace) -> int:
    from mlplab.models.summary import render, summarize
    from mlplab.worked_examples import (
        CLASS_INDICES,
        PREDICTION,
        TARGET,
        loss_examples,
        misuse_examples,
        sgd_step_example,
        tutorial_model,
    )

    print(f"prediction {PREDICTION.tolist()} (2 rows, 2 outputs each) against two targets:")
    print(f"  float   {TARGET.tolist()}: values for l1/smooth_l1/mse; for cross_entropy per-class weights "
          "(torch's \"class probabilities\" form, used as given, not renormalised)")
    print(f"  indices {CLASS_INDICES.tolist()} (int64): one class index per row, for cross_entropy")
    print(f"  {'loss':<14} {'target':<8} {'torch':>8} {'scratch':>8} {'expected':>8}  how")
    for (name, target, value, expected, how), twin in zip(loss_examples("torch"), loss_examples("scratch")):
        print(f"  {name:<14} {target:<8} {value:>8.4f} {twin[2]:>8.4f} {expected:>8.4f}  {how}")
    print("\nLinear(5, 3), W = [[0.1, 0.2, 0.3], ..., [1.3, 1.4, 1.5]], b = [1, 2, 3], x = [[1..5], [6..10]], "
          "zero targets, MSE (mean over all 6 outputs), one SGD step with lr 0.1:")
    for impl in ("torch", "scratch"):
        loss, bias = sgd_step_example(impl)
        print(f"  {impl:<8} loss {loss:.4f}  bias after the step {[round(b, 4) for b in bias.tolist()]}")
    print("\nmodel 3 → 4 (tanh, xavier_normal) → 4 (relu, kaiming_normal) → 2 (softmax), scratch layers:")
    model = tutorial_model("scratch")
    print("  " + render(summarize(model, (3,)), model).replace("\n", "\n  "))
    print(f"\nmisuse, caught before torch's own error ({args.impl}):")
    for what, message in misuse_examples(args.impl):
        print(f"  {what}:\n    {message}")
    return 0

"""The tutorials' worked examples, computed by either implementation: golden numbers for tests and ``mlplab losses``.

- Losses of prediction [[1, 1], [1, 1]] against the float target [[0, 1], [2, 3]]: L1 = 1, SmoothL1 = 0.625,
  MSE = 1.5, and cross entropy = 3 ln 2 ≈ 2.0794. A float target shaped like the input is what torch calls
  "class probabilities": each row weights −log softmax(x)_c, −Σ_c t_c log softmax(x)_c, and it is not
  renormalised, so [2, 3] (no distribution) weighs 5 ln 2; ``mean`` divides by the batch size 2. Against the
  class indices [0, 1] (int64, one class per row) cross entropy is −log softmax(x)_y = ln 2 ≈ 0.6931.
- One SGD step (lr 0.1) of Linear(5, 3), W = [[0.1, 0.2, 0.3], ..., [1.3, 1.4, 1.5]] (torch stores its
  transpose), b = [1, 2, 3], on inputs [[1..5], [6..10]] with zero targets: MSE with ``mean`` over all six
  outputs is 5036.5 / 6 = 839.4167, and b moves by −0.1 · (2 / 6) · Σ_rows output to [−0.55, 0.2, 0.95].
- The model 3 → 4 (tanh, Xavier normal) → 4 (relu, Kaiming normal) → 2 (softmax): 16 + 20 + 10 = 46 parameters.
- Misuses each loss catches, with the one-line message it gives.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mlplab.registry import impl_module

PREDICTION = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
TARGET = torch.tensor([[0.0, 1.0], [2.0, 3.0]])   # float, shaped like PREDICTION
CLASS_INDICES = torch.tensor([0, 1])               # int64, one class index per row of PREDICTION
TARGETS = {"float": TARGET, "indices": CLASS_INDICES}
# (loss, which target, expected value to 4 decimals, how it comes about)
LOSS_EXAMPLES = [
    ("l1", "float", 1.0, "(1 + 0 + 1 + 2) / 4"),
    ("smooth_l1", "float", 0.625, "(0.5 + 0 + 0.5 + 1.5) / 4, beta = 1"),
    ("mse", "float", 1.5, "(1 + 0 + 1 + 4) / 4"),
    ("cross_entropy", "float", 2.0794, "rows weight −log softmax (not renormalised): (1 + 5) ln 2 / 2 rows = 3 ln 2"),
    ("cross_entropy", "indices", 0.6931, "−log softmax(x)_y = ln 2 for each row, mean ln 2"),
]
LINEAR_W = torch.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9], [1.0, 1.1, 1.2], [1.3, 1.4, 1.5]])
LINEAR_B = torch.tensor([1.0, 2.0, 3.0])
LINEAR_X = torch.arange(1.0, 11.0).reshape(2, 5)


def loss_examples(impl: str = "torch") -> list[tuple[str, str, float, float, str]]:
    """(loss, which target, value computed by ``impl``, expected, derivation) for the worked example."""
    losses = impl_module(impl, "losses").LOSSES
    return [(name, target, losses[name](PREDICTION, TARGETS[target]).item(), expected, how)
            for name, target, expected, how in LOSS_EXAMPLES]


def linear_layer(impl: str = "torch") -> nn.Module:
    """The example's Linear(5, 3): torch's nn.Linear holds W transposed, the scratch Linear holds W itself."""
    impl_module(impl, "mlp")  # validates impl
    if impl == "scratch":
        from mlplab.scratch.mlp import Linear

        layer = Linear(5, 3)
        weight, bias = layer.W, layer.b            # W: (5, 3)
    else:
        layer = nn.Linear(5, 3)
        weight, bias = layer.weight.T, layer.bias  # weight: (3, 5), its transpose is W
    with torch.no_grad():
        weight.copy_(LINEAR_W)
        bias.copy_(LINEAR_B)
    return layer


def sgd_step_example(impl: str = "torch", lr: float = 0.1) -> tuple[float, Tensor]:
    """One SGD step on the example: (the loss before it, the bias after it)."""
    layer = linear_layer(impl)
    opt = impl_module(impl, "optim").make_optimizer("sgd", layer, lr=lr)
    out = layer(LINEAR_X)                                                   # (2, 3)
    loss = impl_module(impl, "losses").LOSSES["mse"](out, torch.zeros_like(out))  # mean over all 6 elements
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item(), (layer.b if impl == "scratch" else layer.bias).detach().clone()


def tutorial_model(impl: str = "torch") -> nn.Module:
    """3 → 4 (tanh, Xavier normal) → 4 (relu, Kaiming normal) → 2 (softmax)."""
    return impl_module(impl, "mlp").MLP(3, [4, 4], 2, activation=["tanh", "relu"],
                                    init=["xavier_normal", "kaiming_normal", "default"], output="softmax")


def misuse_examples(impl: str = "torch") -> list[tuple[str, str]]:
    """(what was done wrong, the one-line message the loss gives) for each misuse the checks catch."""
    losses = impl_module(impl, "losses").LOSSES
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 3, generator=g) * 2
    labels = torch.tensor([0, 2, 1, 0])
    cases = [
        ("bce with targets outside [0, 1]", "bce", torch.sigmoid(logits[:, :1]),
         torch.tensor([[0.0], [1.0], [2.0], [1.0]])),
        ("bce fed raw logits", "bce", logits[:, :1], torch.tensor([[0.0], [1.0], [1.0], [0.0]])),
        ("nll fed probabilities", "nll", torch.softmax(logits, dim=1), labels),
        ("cross_entropy fed a softmax output", "cross_entropy", torch.softmax(logits, dim=1), labels),
        ("a class index out of range (label 3, 3 classes)", "cross_entropy", logits, torch.tensor([0, 3, 1, 0])),
    ]
    shown = []
    for what, name, input, target in cases:
        try:
            losses[name](input, target)
        except (ValueError, TypeError) as e:
            shown.append((what, str(e)))
        else:  # pragma: no cover - a check that stopped firing is a bug the tests catch
            shown.append((what, "NOT CAUGHT"))
    return shown

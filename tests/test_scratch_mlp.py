"""The scratch MLP against torch's: same constructor, same start, same outputs and gradients, same training.

Also the tutorials' model-level worked examples and the one test that all four registries agree.
"""

from __future__ import annotations

import inspect

import pytest
import torch
from torch.testing import assert_close

import mlplab.models.activations
import mlplab.models.init
import mlplab.scratch.activations
import mlplab.scratch.init
import mlplab.scratch.losses
import mlplab.scratch.optim
import mlplab.training.losses
import mlplab.training.optim
from mlplab import worked_examples
from mlplab.config import TrainConfig
from mlplab.data.load import load_dataset
from mlplab.models.mlp import MLP as TorchMLP
from mlplab.models.summary import render, summarize
from mlplab.registry import IMPLS, impl_module
from mlplab.runs.train import train
from mlplab.scratch.mlp import MLP as ScratchMLP
from mlplab.training.fit import fit

REGISTRIES = {"activations": "ACTIVATIONS", "init": "INITS", "losses": "LOSSES", "optim": "OPTIMIZERS"}


def test_all_four_registries_list_the_same_names_on_both_sides():
    assert set(IMPLS["torch"]) == set(IMPLS["scratch"])       # every building block has its twin
    for module, registry in REGISTRIES.items():
        ours = getattr(impl_module("scratch", module), registry)
        theirs = getattr(impl_module("torch", module), registry)
        assert list(ours) == list(theirs), registry
    assert inspect.signature(ScratchMLP.__init__) == inspect.signature(TorchMLP.__init__)
    assert inspect.signature(mlplab.scratch.optim.make_optimizer) == inspect.signature(mlplab.training.optim.make_optimizer)
    assert inspect.signature(mlplab.scratch.init.init_linear) == inspect.signature(mlplab.models.init.init_linear)


SPECS = [
    dict(activation="relu"),
    dict(activation=["tanh", "gelu"], init=["xavier_normal", "kaiming_uniform", "normal:0.1"]),
    dict(activation="sigmoid", init="kaiming_normal", output="log_softmax"),
    dict(activation="elu", output="softmax", bias=False),
    dict(activation="silu", output="sigmoid"),
]


@pytest.mark.parametrize("spec", SPECS, ids=[str(s) for s in SPECS])
def test_same_outputs_and_gradients_as_torch(spec):
    t = TorchMLP(12, [10, 7], 4, seed=3, **spec).double()
    s = ScratchMLP(12, [10, 7], 4, seed=3, **spec).double()
    x = torch.randn(9, 3, 4, dtype=torch.float64)  # flattened to 12 features
    yt, ys = t(x), s(x)
    assert_close(ys, yt)
    w = torch.randn_like(yt)
    (yt * w).sum().backward()
    (ys * w).sum().backward()
    for lt, ls in zip(t.linears(), s.linears()):
        assert_close(ls.W.grad, lt.weight.grad.T)
        if ls.b is not None:
            assert_close(ls.b.grad, lt.bias.grad)


def test_dropout_layers_draw_the_same_masks_in_training_and_vanish_in_eval():
    t = TorchMLP(12, [32, 32], 4, dropout=[0.5, 0.2], seed=1).double()
    s = ScratchMLP(12, [32, 32], 4, dropout=[0.5, 0.2], seed=1).double()
    x = torch.randn(16, 12, dtype=torch.float64)
    torch.manual_seed(9)
    yt = t(x)
    torch.manual_seed(9)
    assert_close(s(x), yt)
    t.eval(), s.eval()
    assert_close(s(x), t(x))
    assert torch.equal(s(x), s(x))


@pytest.mark.parametrize("optimizer,lr,args,wd", [("sgd", 0.1, {"momentum": 0.9}, 1e-3), ("adam", 0.01, {}, 0.0),
                                                  ("rmsprop", 0.01, {}, 0.0)])
def test_fit_with_the_scratch_impl_follows_the_torch_run(optimizer, lr, args, wd):
    data = load_dataset("iris", seed=0)
    histories = []
    for impl, MLP in (("torch", TorchMLP), ("scratch", ScratchMLP)):
        model = MLP(4, [16], 3, dropout=0.1, seed=0)
        # autograd on both sides: the masks come from nn.Dropout's stream (backprop by hand draws its own)
        histories.append(fit(model, data, optimizer=optimizer, lr=lr, epochs=5, batch_size=16, device="cpu",
                             weight_decay=wd, optimizer_args=args, impl=impl, backprop="autograd"))
    for key in ("train_loss", "val_loss", "test_accuracy"):
        assert histories[1].column(key) == pytest.approx(histories[0].column(key), rel=1e-4, abs=1e-6), key


# --- the tutorials' worked examples -------------------------------------------------------------------------

@pytest.mark.parametrize("impl", ["torch", "scratch"])
def test_tutorial_model_has_46_parameters(impl):
    model = worked_examples.tutorial_model(impl)
    table = render(summarize(model, (3,)), model)
    assert [r.params for r in summarize(model, (3,)) if r.params] == [16, 20, 10]
    assert "3·4 + 4 = 16" in table and "4·4 + 4 = 20" in table and "4·2 + 2 = 10" in table
    assert table.splitlines()[-1].split()[1] == "46"
    out = model(torch.randn(5, 3))
    assert_close(out.sum(1), torch.ones(5))  # softmax output


@pytest.mark.parametrize("impl", ["torch", "scratch"])
def test_linear_layer_sgd_step_golden_numbers(impl):
    """839.4167 is MSE with mean over all 2 · 3 outputs (5036.5 / 6); the bias moves by −0.1 · (2/6) · Σ_rows y."""
    loss, bias = worked_examples.sgd_step_example(impl)
    assert round(loss, 4) == 839.4167
    assert_close(bias, torch.tensor([-0.55, 0.2, 0.95]))
    layer = worked_examples.linear_layer(impl)
    assert_close(layer(worked_examples.LINEAR_X), torch.tensor([[14.5, 17.0, 19.5], [32.0, 37.0, 42.0]]))


@pytest.mark.parametrize("impl", ["torch", "scratch"])
def test_misuse_demo_catches_every_case(impl):
    shown = worked_examples.misuse_examples(impl)
    assert len(shown) == 5 and all(message != "NOT CAUGHT" and "\n" not in message for _, message in shown)


def test_scratch_fit_rejects_labels_out_of_range_before_training():
    data = load_dataset("iris", seed=0)
    model = ScratchMLP(4, [8], 2)  # 3 classes, 2 outputs: the loss check names it
    with pytest.raises(ValueError, match="class index 2 but the output has 2 classes"):
        fit(model, data, epochs=1, device="cpu", impl="scratch")


# --- Fashion-MNIST: the core command, torch vs scratch --------------------------------------------------------

@pytest.mark.slow
def test_fashion_mnist_scratch_matches_torch_accuracy(fashion_dir):
    """The core issue's command (784-256-10, relu, normal:0.01, sgd lr 0.1, batch 256, seed 0), both impls.

    Three epochs here to keep the test short; the ten-epoch numbers are in the README/report.
    """
    config = TrainConfig(dataset="fashion-mnist", data_dir=str(fashion_dir), hidden=(256,), activation=("relu",),
                         init=("normal:0.01",), optimizer="sgd", lr=0.1, batch_size=256, epochs=3, seed=0,
                         device="cpu")
    runs = {impl: train(config=config.replace(impl=impl), progress="quiet", write=False) for impl in ("torch", "scratch")}
    acc = {impl: run.metrics["test_accuracy"] for impl, run in runs.items()}
    assert acc["torch"] > 0.80, acc
    assert abs(acc["scratch"] - acc["torch"]) < 0.005, acc

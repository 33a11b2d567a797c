"""The scratch CNN against torch's in float64: conv, pooling, batch norm and whole networks, values and gradients
with respect to inputs and parameters, and one SGD step."""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

import mlplab.models.cnn as torch_cnn
import mlplab.scratch.cnn as scratch_cnn
from mlplab.scratch.cnn import BatchNorm2d, avg_pool2d, conv2d, max_pool2d

f64 = dict(dtype=torch.float64)


def leaf(*shape):
    return torch.randn(*shape, **f64).requires_grad_()


def grads(out, *tensors):
    """d(Σ out · w)/d tensors, w a fixed random weighting (so every output position matters differently)."""
    w = torch.randn(out.shape, generator=torch.Generator().manual_seed(7), **f64)
    return torch.autograd.grad((out * w).sum(), tensors)


def test_both_sides_have_the_same_layer_kinds_and_constructors():
    assert list(scratch_cnn.LAYERS) == list(torch_cnn.LAYERS)
    assert inspect.signature(scratch_cnn.CNN.__init__) == inspect.signature(torch_cnn.CNN.__init__)


# (N, C_in, H, W, C_out, K, stride, padding)
CONVS = [(2, 1, 5, 5, 3, 3, 1, 0), (3, 2, 7, 6, 4, 3, 2, 1), (1, 3, 8, 8, 2, 5, 1, 2), (2, 2, 6, 9, 1, 1, 1, 0),
         (4, 3, 9, 7, 5, 4, 3, 2), (1, 1, 4, 4, 1, 4, 1, 0)]


@pytest.mark.parametrize("n, c_in, h, w, c_out, k, s, p", CONVS)
def test_conv2d_values_and_gradients(n, c_in, h, w, c_out, k, s, p):
    torch.manual_seed(0)
    x, weight, bias = leaf(n, c_in, h, w), leaf(c_out, c_in, k, k), leaf(c_out)
    ours, theirs = conv2d(x, weight, bias, s, p), F.conv2d(x, weight, bias, s, p)
    assert_close(ours, theirs)
    for a, b in zip(grads(ours, x, weight, bias), grads(theirs, x, weight, bias)):
        assert_close(a, b)


# (H, W, K, stride, padding)
POOLS = [(4, 4, 2, 2, 0), (5, 7, 2, 2, 0), (6, 6, 3, 1, 1), (7, 5, 3, 2, 1), (8, 8, 4, 3, 2), (3, 3, 3, 3, 0)]


@pytest.mark.parametrize("h, w, k, s, p", POOLS)
@pytest.mark.parametrize("ours_fn, theirs_fn", [(max_pool2d, F.max_pool2d), (avg_pool2d, F.avg_pool2d)],
                         ids=["max", "avg"])
def test_pooling_values_and_gradients(h, w, k, s, p, ours_fn, theirs_fn):
    torch.manual_seed(1)
    x = leaf(2, 3, h, w)
    ours, theirs = ours_fn(x, k, s, p), theirs_fn(x, k, s, p)
    assert_close(ours, theirs)
    assert_close(grads(ours, x)[0], grads(theirs, x)[0])


@pytest.mark.parametrize("shape", [(4, 3, 5, 5), (2, 2, 1, 3), (8, 1, 2, 2)])
@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_batch_norm_train_steps_running_stats_and_eval(shape, momentum):
    torch.manual_seed(2)
    ours, theirs = BatchNorm2d(shape[1], momentum=momentum).double(), nn.BatchNorm2d(shape[1], momentum=momentum)
    theirs = theirs.double()
    with torch.no_grad():  # γ, β away from 1, 0, on both sides
        theirs.weight.normal_(), theirs.bias.normal_()
    ours.load_state_dict(theirs.state_dict())
    for _ in range(3):
        x = (torch.randn(shape, **f64) * 2 + 1).requires_grad_()
        a, b = ours(x), theirs(x)
        assert_close(a, b)
        params = [ours.weight, ours.bias], [theirs.weight, theirs.bias]
        for ga, gb in zip(grads(a, x, *params[0]), grads(b, x, *params[1])):
            assert_close(ga, gb)
    for key, value in theirs.state_dict().items():  # running mean, unbiased running var, 3 batches tracked
        assert_close(ours.state_dict()[key], value, msg=key)
    assert ours.num_batches_tracked.item() == 3
    ours.eval(), theirs.eval()
    x = leaf(*shape)
    a, b = ours(x), theirs(x)
    assert_close(a, b)
    assert_close(grads(a, x)[0], grads(b, x)[0])


SPECS = ["lenet", "cnn", "conv:3:3:stride2:pad1,bn,tanh,maxpool:3:stride2:pad1,conv:4:2,avgpool:2:stride1,gelu,fc:5",
         "conv:2:1,relu,flatten,dropout:0.5,fc:6,sigmoid"]


def twins(spec: str, input_shape=(28, 28), seed: int = 4):
    return (torch_cnn.CNN(input_shape, 10, spec=spec, seed=seed).double(),
            scratch_cnn.CNN(input_shape, 10, spec=spec, seed=seed).double())


@pytest.mark.parametrize("spec", SPECS)
def test_same_seed_same_weights_and_the_state_dict_loads_across(spec):
    t, s = twins(spec)
    assert list(s.state_dict()) == list(t.state_dict())
    for key, value in t.state_dict().items():
        assert torch.equal(s.state_dict()[key], value), key
    s.load_state_dict(t.state_dict())


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_networks_agree_on_outputs_and_all_gradients(spec, train):
    t, s = twins(spec)
    t.train(train), s.train(train)
    x = leaf(3, 28, 28)
    torch.manual_seed(5)  # the same dropout masks on both sides
    yt = t(x)
    torch.manual_seed(5)
    ys = s(x)
    assert_close(ys, yt)
    gt, gs = grads(yt, x, *t.parameters()), grads(ys, x, *s.parameters())
    for (name, _), a, b in zip([("input", None), *t.named_parameters()], gs, gt):
        assert_close(a, b, msg=name)


def test_channels_given_or_added():
    t, s = twins("conv:2:3,relu", input_shape=(3, 6, 6))
    x = torch.randn(2, 3, 6, 6, **f64)
    assert_close(s(x), t(x))
    t, s = twins("conv:2:3,relu", input_shape=(1, 6, 6))
    x = torch.randn(2, 6, 6, **f64)
    assert_close(s(x), t(x))
    assert_close(s(x), s(x[:, None]))


def sgd_step(model, x, y, lr=0.1):
    loss = F.cross_entropy(model(x), y)
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= lr * p.grad
    return loss.detach()


@pytest.mark.parametrize("spec", ["cnn", "lenet"])
def test_one_sgd_training_step_matches_torch(spec):
    t, s = twins(spec)
    x, y = torch.randn(8, 28, 28, **f64), torch.randint(0, 10, (8,))
    torch.manual_seed(6)
    lt = sgd_step(t, x, y)
    torch.manual_seed(6)
    ls = sgd_step(s, x, y)
    assert_close(ls, lt, atol=1e-6, rtol=0)
    for key, value in t.state_dict().items():  # parameters and batch norm's running statistics
        assert_close(s.state_dict()[key], value, atol=1e-6, rtol=0, msg=key)


def test_the_registry_maps_cnn_and_rnn_to_both_sides():
    from mlplab.registry import IMPLS, impl_module

    assert list(IMPLS["torch"]) == list(IMPLS["scratch"])
    assert impl_module("torch", "cnn").CNN is torch_cnn.CNN and impl_module("scratch", "cnn").CNN is scratch_cnn.CNN
    assert impl_module("scratch", "rnn").RNNClassifier.__module__ == "mlplab.scratch.rnn"


def test_finite_differences_agree_with_autograd_through_the_scratch_layers():
    torch.manual_seed(8)
    x, weight, bias = leaf(2, 2, 5, 5), leaf(3, 2, 3, 3), leaf(3)
    assert torch.autograd.gradcheck(lambda *a: conv2d(*a, stride=2, padding=1), (x, weight, bias), fast_mode=True)
    assert torch.autograd.gradcheck(lambda x: max_pool2d(x, 3, 2, 1), (x,), fast_mode=True)
    assert torch.autograd.gradcheck(lambda x: avg_pool2d(x, 2), (x,), fast_mode=True)
    bn = BatchNorm2d(2).double()
    assert torch.autograd.gradcheck(lambda x, w, b: bn(x) * w.view(1, -1, 1, 1) + b.view(1, -1, 1, 1),
                                    (x, leaf(2), leaf(2)), fast_mode=True)


@pytest.mark.parametrize("init", ["kaiming_normal:nonlinearity=relu", "xavier_uniform", "normal:0.01"])
def test_other_inits_draw_the_same_weights_on_both_sides(init):
    t = torch_cnn.CNN((3, 8, 8), 4, spec="conv:4:3,bn,relu,fc:5", init=init, seed=2)
    s = scratch_cnn.CNN((3, 8, 8), 4, spec="conv:4:3,bn,relu,fc:5", init=init, seed=2)
    for key, value in t.state_dict().items():
        assert_close(s.state_dict()[key], value, msg=key)


@pytest.mark.long
def test_the_scratch_cnn_trains_to_the_torch_cnns_accuracy_on_fashion_mnist(fashion_dir):
    """Same seed, same defaults (``mlplab train --model cnn``), both implementations: within half a point."""
    import mlplab
    from mlplab.data.load import load_dataset

    data = load_dataset("fashion-mnist", data_dir=fashion_dir)
    acc = {impl: mlplab.train(data, model="cnn", impl=impl, seed=0, progress="quiet", device="cpu")
           .metrics["test_accuracy"] for impl in ("torch", "scratch")}
    assert acc["torch"] >= 0.91, acc
    assert abs(acc["scratch"] - acc["torch"]) <= 0.005, acc

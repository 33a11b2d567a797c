"""mlplab.training.fused_adam: Adam's fused kernel called directly is bit-identical to opt.step(), state and
all, and only a plain fused Adam is stepped that way."""

from __future__ import annotations

import pytest
import torch

from mlplab.training import fused_adam


def model_and_grads(dtype: torch.dtype, seed: int) -> tuple[torch.nn.Module, list[list[torch.Tensor]]]:
    g = torch.Generator().manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(7, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3)).to(dtype)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=dtype))
    grads = [[torch.randn(p.shape, generator=g, dtype=dtype) for p in model.parameters()] for _ in range(6)]
    return model, grads


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("options", [{}, {"weight_decay": 0.1}, {"amsgrad": True}, {"maximize": True},
                                     {"betas": (0.8, 0.95), "eps": 1e-6}])
def test_direct_steps_equal_opt_step_bit_for_bit(dtype, options):
    runs = []
    for direct in (False, True):
        model, grads = model_and_grads(dtype, 0)
        first, second = list(model[0].parameters()), list(model[2].parameters())
        opt = torch.optim.Adam([{"params": first}, {"params": second, "lr": 0.03}], lr=0.01, fused=True, **options)
        assert fused_adam.direct(opt)
        for step, gs in enumerate(grads):
            for p, g in zip(model.parameters(), gs):
                p.grad = None if (step == 0 and p is second[1]) else g.clone()  # one parameter starts late
            fused_adam.step(opt) if direct else opt.step()
            opt.param_groups[0]["lr"] *= 0.9  # a schedule changes lr between steps
        runs.append((model, opt))
    (a, opt_a), (b, opt_b) = runs
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    state_a, state_b = opt_a.state_dict()["state"], opt_b.state_dict()["state"]
    assert state_a.keys() == state_b.keys() and len(state_a) == 4
    for i in state_a:
        assert state_a[i].keys() == state_b[i].keys()
        for key in state_a[i]:
            assert state_a[i][key].dtype == state_b[i][key].dtype and torch.equal(state_a[i][key], state_b[i][key])
    assert int(state_b[3]["step"]) == 5  # the late parameter counts its own steps


def test_only_a_plain_fused_adam_goes_direct():
    model = torch.nn.Linear(3, 2)
    params = list(model.parameters())
    assert not fused_adam.direct(torch.optim.Adam(params, foreach=True))
    assert not fused_adam.direct(torch.optim.AdamW(params, fused=True))
    assert not fused_adam.direct(torch.optim.SGD(params, lr=0.1, fused=True))
    hooked = torch.optim.Adam(params, fused=True)
    hooked.register_step_post_hook(lambda opt, args, kwargs: None)
    assert not fused_adam.direct(hooked)
    assert not fused_adam.direct(torch.optim.Adam(params, lr=torch.tensor(0.01), fused=True))
    mixed = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 2).double())
    assert not fused_adam.direct(torch.optim.Adam(mixed.parameters(), fused=True))

"""Adam's update for the by-hand step: the fused kernel torch.optim.Adam(fused=True) calls, without the wrappers
around it.

``Adam.step`` passes through a profiler record, hook lists, ``torch._dynamo`` graph breaks and a per-call
regrouping of the tensors by device and dtype: about 0.25 ms a step on the CPU, a fifth of a small table
model's step. ``step`` does what is left
of it, in the same order: create a parameter's state as ``Adam._init_group`` does, add 1 to every ``step``,
then one ``torch._fused_adam_`` call per parameter group. The result is bit-identical to ``opt.step()``
(tests/test_fused_adam.py, float32 and float64, with weight decay, amsgrad and maximize), and the state is the
optimizer's own, so checkpoints and ``opt.step()`` carry on from it.

``direct(opt)`` says when this holds: exactly torch.optim.Adam, every group fused (mlplab.training.optim turns
fusing on), no hooks, no tensor lr, no grad scaler; anything else steps through ``opt.step()``.
"""

from __future__ import annotations

import torch


def direct(opt: torch.optim.Optimizer) -> bool:
    """Whether ``step(opt)`` does what ``opt.step()`` does (see the module docstring)."""
    from torch.optim import optimizer as optimizer_globals

    hooks = (opt._optimizer_step_pre_hooks, opt._optimizer_step_post_hooks,
             optimizer_globals._global_optimizer_pre_hooks, optimizer_globals._global_optimizer_post_hooks)
    return (type(opt) is torch.optim.Adam and not any(hooks)
            and getattr(opt, "grad_scale", None) is None and getattr(opt, "found_inf", None) is None
            and all(g.get("fused") and not g.get("differentiable") and not g.get("capturable")
                    and not g.get("decoupled_weight_decay")
                    and not any(torch.is_tensor(v) for v in (g["lr"], *g["betas"])) for g in opt.param_groups)
            # one device and dtype: Adam groups the tensors by them, step does not
            and len({(p.device, p.dtype) for g in opt.param_groups for p in g["params"]}) == 1)


@torch.no_grad()
def step(opt: torch.optim.Adam) -> None:
    """One Adam update of every parameter with a ``.grad``, as ``opt.step()`` makes it (``direct(opt)`` holds)."""
    for group in opt.param_groups:
        params, grads, avgs, squares, maxima, steps = [], [], [], [], [], []
        for p in group["params"]:
            if p.grad is None:
                continue
            state = opt.state[p]
            if not state:  # as Adam._init_group creates it for a fused group
                state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                if group["amsgrad"]:
                    state["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            params.append(p)
            grads.append(p.grad)
            avgs.append(state["exp_avg"])
            squares.append(state["exp_avg_sq"])
            if group["amsgrad"]:
                maxima.append(state["max_exp_avg_sq"])
            steps.append(state["step"])
        if not params:
            continue
        beta1, beta2 = group["betas"]
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(params, grads, avgs, squares, maxima, steps, amsgrad=group["amsgrad"], lr=group["lr"],
                           beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"],
                           maximize=group["maximize"], grad_scale=None, found_inf=None)

"""mlplab.training.optim: building, stepping, saving and loading an optimizer imports no torch._dynamo (about 1 s
of start-up) until something else has, and the methods hand over to torch's dynamo-disabled ones once it has."""

from __future__ import annotations

import subprocess
import sys

import torch
from torch import nn

CHECK = """
import sys, torch
from torch import nn
from mlplab.training.optim import make_optimizer
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
for name in ("adam", "sgd", "rmsprop"):
    opt = make_optimizer(name, model, lr=0.01, weight_decay=0.1)
    opt.zero_grad()
    model(torch.randn(16, 4)).pow(2).mean().backward()
    if name == "adam":
        from mlplab.training import fused_adam
        assert fused_adam.direct(opt)
        fused_adam.step(opt)
    opt.load_state_dict(opt.state_dict())
print("torch._dynamo" in sys.modules)
"""


def test_an_optimizer_is_built_stepped_saved_and_loaded_without_importing_dynamo():
    r = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False", r.stderr


def test_once_dynamo_is_imported_the_methods_are_torchs_dynamo_disabled_ones():
    import torch._dynamo  # noqa: F401  (what torch.compile does first)

    from mlplab.training.optim import DYNAMO_WRAPPED, make_optimizer

    model = nn.Linear(3, 2)
    opt = make_optimizer("adam", model, lr=0.1)
    opt.zero_grad()
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    opt.load_state_dict(opt.state_dict())
    for name in DYNAMO_WRAPPED:
        cached = getattr(getattr(torch.optim.Optimizer, name).__wrapped__, "__dynamo_disable")
        assert getattr(cached, "_torchdynamo_disable", False), name
    assert torch.equal(opt.state[model.weight]["step"], torch.tensor(1.0))

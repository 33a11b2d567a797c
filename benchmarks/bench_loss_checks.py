"""What the losses' misuse checks cost on the tutorial task's hot path (run by hand).

The task: 784-256-10 ReLU MLP, batch 256, SGD lr 0.1, cross entropy, 60,000 Fashion-MNIST-shaped samples
(random data: the cost of a check does not depend on the values). Two measurements, each over
``--repeats`` interleaved rounds so that a busy machine slows both sides alike (the minimum is the least
disturbed estimate, the median is shown too):

- per batch: the full training step (forward, checked loss, backward, step) against the check alone
  (``check_inputs`` on that batch's output and labels);
- per epoch: one epoch with the checked loss (``mlplab.training.losses.LOSSES``) against one with torch's bare
  ``F.cross_entropy``, alternating.

Times are process CPU seconds (``time.process_time``), which other programs on a shared machine disturb less
than wall-clock time; ``--threads 1`` (the default) keeps torch's thread pool from spinning against them.

    python benchmarks/bench_loss_checks.py [--repeats 5] [--impl torch|scratch] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from mlplab.registry import impl_module
from mlplab.training.losses import check_inputs

N, D, H, C, B, LR = 60_000, 784, 256, 10, 256, 0.1


def epoch(model, opt, x, y, loss_fn) -> float:
    t0 = time.process_time()
    perm = torch.randperm(len(x))
    for i in range(0, len(x), B):
        idx = perm[i:i + B]
        out = model(x[idx])
        loss = loss_fn(out, y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.process_time() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--impl", choices=["torch", "scratch"], default="torch")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    MLP = impl_module(args.impl, "mlp").MLP
    losses = impl_module(args.impl, "losses")
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(N, D, generator=g), torch.randint(0, C, (N,), generator=g)
    model = MLP(D, [H], C, init="normal:0.01")
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    bare = losses.cross_entropy  # the unchecked function behind the registry entry
    checked = losses.LOSSES["cross_entropy"]

    out, yb = model(x[:B]).detach(), y[:B]
    reps = 2000
    t0 = time.process_time()
    for _ in range(reps):
        check_inputs("cross_entropy", out, yb)
    check_us = (time.process_time() - t0) / reps * 1e6

    epoch(model, opt, x, y, checked)  # warm-up
    rounds = {"checked": [], "bare": []}
    for _ in range(args.repeats):
        rounds["bare"].append(epoch(model, opt, x, y, bare))
        rounds["checked"].append(epoch(model, opt, x, y, checked))
    med = {k: statistics.median(v) for k, v in rounds.items()}
    best = {k: min(v) for k, v in rounds.items()}
    batches = -(-N // B)
    step_us = med["bare"] / batches * 1e6
    print(f"impl {args.impl}, torch {torch.__version__}, {torch.get_num_threads()} threads, {args.repeats} rounds")
    print(f"per batch: training step {step_us:.0f} µs, check alone {check_us:.1f} µs "
          f"({100 * check_us / step_us:.2f}% of a step)")
    for label, t in (("minimum", best), ("median", med)):
        print(f"per epoch, {label} CPU seconds: bare {t['bare']:.3f} s, checked {t['checked']:.3f} s "
              f"({100 * (t['checked'] / t['bare'] - 1):+.2f}%)")


if __name__ == "__main__":
    main()

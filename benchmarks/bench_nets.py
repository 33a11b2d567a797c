"""Seconds per epoch of the CNN and the LSTM on Fashion-MNIST-shaped random data (run by hand).

Per model, in the same run, each pipeline warmed up on a few batches, then timed ``--repeats`` times in
round-robin; reported: the fastest run and its ratio to ``torch_loop`` (on a shared machine other processes only
add time, so the minimum is the least-noisy estimate).

- ``torch_loop``: a plain loop (index by a permutation, cross-entropy, torch SGD lr 0.1), contiguous NCHW.
- ``channels_last``: the same loop with the model and each batch in channels-last (NHWC) memory (CNN only).
- ``mlplab``: ``mlplab.training.fit`` for one epoch (SGD lr 0.1, same batch size, no test split).
- ``scratch``: the plain loop over the scratch twin (``mlplab.scratch.cnn`` / ``mlplab.scratch.rnn``).

    OMP_NUM_THREADS=2 python benchmarks/bench_nets.py [--samples 60000] [--repeats 3] [--only cnn]

Measured with ``--samples 2048 --repeats 3``, 1 thread, on a loaded shared 2-core machine (best of 3, s):
cnn: torch_loop 5.12, channels_last 3.43 (×0.67), mlplab 5.23 (×1.02), scratch 21.1 (×4.1);
lstm (H = 128): torch_loop 1.57, mlplab 1.74 (×1.11), scratch 8.17 (×5.2).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch
import torch.nn.functional as F

from mlplab.data.load import Dataset
from mlplab.models.cnn import CNN
from mlplab.models.rnn import RNNClassifier
from mlplab.scratch.cnn import CNN as ScratchCNN
from mlplab.scratch.rnn import RNNClassifier as ScratchRNNClassifier

MODELS = {"cnn": (lambda: CNN((28, 28), 10, spec="cnn"), lambda: ScratchCNN((28, 28), 10, spec="cnn")),
          "lstm": (lambda: RNNClassifier(28, 128, 10, cell="lstm"),
                   lambda: ScratchRNNClassifier(28, 128, 10, cell="lstm"))}


def plain_loop(model, x, y, batch_size: int, memory_format=torch.contiguous_format, batches: int | None = None):
    """One epoch (or its first ``batches``) of SGD over in-memory tensors."""
    model = model.to(memory_format=memory_format) if memory_format != torch.contiguous_format else model
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0)).split(batch_size)
    for idx in order[:batches]:
        xb = x[idx]                                      # (B, 28, 28)
        if memory_format == torch.channels_last:
            xb = xb[:, None].contiguous(memory_format=torch.channels_last)  # (B, 1, 28, 28), NHWC strides
        loss = F.cross_entropy(model(xb), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()


def mlplab_fit(model, data: Dataset, batch_size: int, batches: int | None = None):
    from mlplab.training.fit import fit

    if batches is not None:
        n = batches * batch_size
        data = dataclasses.replace(data, x_train=data.x_train[:n], y_train=data.y_train[:n])
    fit(model, data, optimizer="sgd", lr=0.1, epochs=1, batch_size=batch_size, seed=0, device="cpu")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=60_000)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default=",".join(MODELS), help="comma-separated: " + ", ".join(MODELS))
    args = ap.parse_args()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(args.samples, 28, 28, generator=g)                # (N, 28, 28)
    y = torch.randint(0, 10, (args.samples,), generator=g)           # (N,)
    data = Dataset("random", "multiclass", x, y, None, None, x[:0], y[:0], input_shape=(28, 28), num_classes=10)
    b = args.batch_size
    print(f"threads {torch.get_num_threads()}, {args.samples} samples, batch {b}, best of {args.repeats}")
    for name in args.only.split(","):
        make, make_scratch = MODELS[name]
        runners = {"torch_loop": lambda n=None: plain_loop(make(), x, y, b, batches=n),
                   "channels_last": lambda n=None: plain_loop(make(), x, y, b, torch.channels_last, n),
                   "mlplab": lambda n=None: mlplab_fit(make(), data, b, n),
                   "scratch": lambda n=None: plain_loop(make_scratch(), x, y, b, batches=n)}
        if name != "cnn":
            del runners["channels_last"]
        for run in runners.values():
            run(2)                                               # warm-up: allocator, kernels' first calls
        times: dict[str, list[float]] = {key: [] for key in runners}
        for _ in range(args.repeats):
            for key, run in runners.items():
                t0 = time.perf_counter()
                run()
                times[key].append(time.perf_counter() - t0)
        base = min(times["torch_loop"])
        for key, ts in times.items():
            print(f"{name:5} {key:14} {min(ts):8.2f} s  ×{min(ts) / base:5.2f}  (runs: "
                  + ", ".join(f"{t:.2f}" for t in ts) + ")")


if __name__ == "__main__":
    main()

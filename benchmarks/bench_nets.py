"""Seconds per epoch of mlplab's CNN, LeNet and LSTM on Fashion-MNIST-shaped random data against a plain torch loop
of the same model, in the same run (run by hand).

Per model, each pipeline is warmed up on two batches, then timed ``--repeats`` times in round-robin; reported:
the fastest run (on a shared machine other processes only add time, so the minimum is the least-noisy estimate)
and its ratio to the plain loop in the memory layout mlplab chooses for that model (marked ``*``:
``mlplab.training.step.choose_memory_format``, channels-last for mlplab's CNN on the CPU).

- ``torch_loop contiguous`` / ``torch_loop channels_last``: a plain loop (index by a permutation, cross-entropy,
  torch SGD lr 0.1) with the model and each batch in that layout (channels-last: the CNNs only).
- ``mlplab``: ``mlplab.training.fit`` for one epoch (SGD lr 0.1, same batch size, no test split), in the layout
  its rule picks; it also checks each batch's loss and ends with one more forward and backward for ``.grad``
  (``last_batch_gradients``), 1/16 of an epoch at 2,048 samples.
- ``scratch``: the plain loop over the scratch twin (``mlplab.scratch.cnn`` / ``mlplab.scratch.rnn``).

    OMP_NUM_THREADS=1 python benchmarks/bench_nets.py [--samples 60000] [--repeats 3] [--only cnn,lenet,lstm]

Measured with ``--samples 2048 --repeats 3`` on a shared 2-core machine (best of 3, s; the two runs back to back):

- ``OMP_NUM_THREADS=1``: cnn contiguous 1.93, channels_last 1.25 (0.65×), mlplab 1.28 (×1.02 of the
  channels-last loop), scratch 6.94; lenet 0.37, 0.26 (0.70×), mlplab 0.26 (×1.01), scratch 1.02;
  lstm (H = 128) loop 0.52, mlplab 0.56 (×1.08), scratch 2.37.
- ``OMP_NUM_THREADS=2``: cnn 1.06, 0.75 (0.71×), mlplab 0.75 (×1.00); lenet 0.24, 0.20 (0.85×), mlplab 0.22
  (×1.08); lstm 0.40, mlplab 0.37 (×0.94).

Under heavier load from other sessions (load average 3.5-4 on the 2 cores) channels-last over contiguous was 0.48
(cnn) and 0.83 (lenet) at 1 thread with ``--samples 8192``, but 1.03 and 0.73 at 2 threads, where an epoch took
twice as long as at 1 thread (oversubscribed); an interleaved per-batch A/B (30 alternating rounds of 4 batches,
forward + backward + SGD step) gave median ratios 0.66 (cnn) and 0.75 (lenet) at 1 thread, 0.86 and 0.76 at 2.
Faster in every unloaded run and never slower beyond noise, so ``fit`` trains mlplab's CNN in channels-last on
the CPU (earlier, with the cnn alone: 0.67×). On the real data, one epoch of ``fit`` over the 60,000 Fashion-MNIST
training images (``cnn``, Adam 3e-3, batch 128, 1 thread, alternating): contiguous 53.8 and 58.3 s, channels-last
38.8 and 38.7 s (train accuracy 0.8245 vs 0.8239: rounding); ``mlplab train --model cnn --dataset fashion-mnist``
then ends at test accuracy 0.9146 in 138 s of training on 1 thread (3 epochs).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from functools import partial

import torch
import torch.nn.functional as F

from mlplab.data.load import Dataset
from mlplab.models.cnn import CNN
from mlplab.models.rnn import RNNClassifier
from mlplab.scratch.cnn import CNN as ScratchCNN
from mlplab.scratch.rnn import RNNClassifier as ScratchRNNClassifier
from mlplab.training.fit import fit
from mlplab.training.step import MEMORY_FORMATS as FORMATS
from mlplab.training.step import choose_memory_format

LAYOUTS = ("contiguous", "channels_last")

MODELS = {"cnn": (lambda: CNN((28, 28), 10, spec="cnn"), lambda: ScratchCNN((28, 28), 10, spec="cnn")),
          "lenet": (lambda: CNN((28, 28), 10, spec="lenet"), lambda: ScratchCNN((28, 28), 10, spec="lenet")),
          "lstm": (lambda: RNNClassifier(28, 128, 10, cell="lstm"),
                   lambda: ScratchRNNClassifier(28, 128, 10, cell="lstm"))}


def plain_loop(make, x, y, batch_size: int, memory_format=torch.contiguous_format, batches: int | None = None):
    """One epoch (or its first ``batches``) of SGD over in-memory tensors, for a fresh model from ``make()``."""
    model = make().to(memory_format=memory_format)       # a no-op for contiguous (and for the LSTM's 2-d weights)
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


def mlplab_fit(make, data: Dataset, batch_size: int, batches: int | None = None):
    if batches is not None:
        n = batches * batch_size
        data = dataclasses.replace(data, x_train=data.x_train[:n], y_train=data.y_train[:n])
    fit(make(), data, optimizer="sgd", lr=0.1, epochs=1, batch_size=batch_size, seed=0, device="cpu")


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
    print(f"threads {torch.get_num_threads()}, {args.samples} samples, batch {b}, best of {args.repeats}; "
          "× = time / the plain loop in the layout mlplab chooses (*)")
    for name in args.only.split(","):
        make, make_scratch = MODELS[name]
        chosen = choose_memory_format(make(), torch.device("cpu"))[0]
        runners = {f"torch_loop {layout}": partial(plain_loop, make, x, y, b, FORMATS[layout])
                   for layout in (LAYOUTS if name != "lstm" else LAYOUTS[:1])}
        runners["mlplab"] = partial(mlplab_fit, make, data, b)
        runners["scratch"] = partial(plain_loop, make_scratch, x, y, b, torch.contiguous_format)
        for run in runners.values():
            run(batches=2)                                       # warm-up: allocator, kernels' first calls
        times: dict[str, list[float]] = {key: [] for key in runners}
        for _ in range(args.repeats):
            for key, run in runners.items():
                t0 = time.perf_counter()
                run()
                times[key].append(time.perf_counter() - t0)
        base = f"torch_loop {chosen}"
        for key, ts in times.items():
            label = key + (" *" if key == base else "")
            print(f"{name:5} {label:26} {min(ts):7.2f} s  ×{min(ts) / min(times[base]):5.2f}  (runs: "
                  + ", ".join(f"{t:.2f}" for t in ts) + ")")


if __name__ == "__main__":
    main()

"""Seconds per epoch of the tutorial task, side by side with its peers and the GEMM floor (run by hand).

The task: 784-256-10 ReLU MLP, batch 256, SGD lr 0.1, 60,000 Fashion-MNIST training samples (real when the
folder is there: $MLPLAB_FASHION_MNIST, else ../shared/data/fashion-mnist beside the repo; else random data of
that shape). Each pipeline is warmed up once, then timed ``--repeats`` times in round-robin. Reported: the
fastest run (``min``) and its ratio to the fastest floor run, which is the figure to compare, and the median
with its ratio. On a shared machine other processes only ever add time, so the minimum is the least-noisy
estimate of what each pipeline costs (as ``timeit``'s documentation advises); the median shows the spread.

- ``floor``: the matrix products alone for one epoch: X@W1, H@W2 forward; dO@W2ᵀ, Hᵀ@dO, Xᵀ@dH backward.
- ``mlplab``: ``mlplab.training.fit`` on the default user path (what ``mlplab train`` runs) over data without a test
  split, so it trains only, as every other pipeline here does.
- ``mlplab+test``: the same with the 10,000 test images evaluated after the epoch, as ``mlplab train`` does.
- ``torch_loop``: a plain loop over in-memory tensors (index by a permutation, nn.Sequential, torch SGD).
- ``tensor_loader``: DataLoader(TensorDataset), as d2l.load_array does.
- ``d2l``: uint8 images turned into float tensors per item (torchvision's ToTensor, reimplemented) through a
  DataLoader with 4 workers, with d2l's per-batch host-side bookkeeping, as d2l.load_data_fashion_mnist does.
- ``sklearn``: MLPClassifier, same architecture, solver="sgd", no momentum, no L2, one epoch.

``--device cuda`` runs every torch pipeline on the GPU (data resident there for the floor, mlplab and the plain
loop; the DataLoader pipelines move each batch, as d2l does; scikit-learn stays on the CPU), timing with
``torch.cuda.synchronize()``; ``--compile``/``--amp bf16`` pass through to mlplab's fit, ``--inspect`` adds its
layer statistics. ``--samples N`` takes the
first N training images (a quick smoke run).

    python benchmarks/bench_epoch.py [--repeats 3] [--only floor,mlplab] [--json out.json] [--device cuda]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
N, D, H, C, B, LR = 60_000, 784, 256, 10, 256, 0.1
FIT_OPTIONS: dict = {}  # compile / amp for mlplab's fit, from the command line
INSPECT = False         # --inspect: mlplab's fit records layer statistics


def load_uint8() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """(x_train uint8 (N, 28, 28), y_train, x_test, y_test, source) — real Fashion-MNIST or random."""
    env = os.environ.get("MLPLAB_FASHION_MNIST")
    folder = Path(env) if env else REPO.parent / "shared" / "data" / "fashion-mnist"
    if (folder / "train-images-idx3-ubyte.gz").exists():
        from mlplab.data.mnist import load_idx_dataset
        x_tr, y_tr, x_te, y_te = load_idx_dataset("fashion-mnist", folder)
        return x_tr, y_tr.astype(np.int64), x_te, y_te.astype(np.int64), f"fashion-mnist ({folder})"
    rng = np.random.default_rng(0)
    return (rng.integers(0, 256, (N, 28, 28), dtype=np.uint8), rng.integers(0, C, N),
            rng.integers(0, 256, (10_000, 28, 28), dtype=np.uint8), rng.integers(0, C, 10_000), "random")


DEVICE = torch.device("cpu")  # set by --device


def sync() -> None:
    """Wait for queued GPU work, so a timer reads the work and not only its launch."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def tutorial_net() -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(D, H), nn.ReLU(), nn.Linear(H, C))
    for m in net:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.01)
            nn.init.zeros_(m.bias)
    return net.to(DEVICE)


def bench_floor(x: torch.Tensor, y: torch.Tensor) -> float:
    """Only the five GEMMs of forward + backward per batch, on contiguous slices, into preallocated outputs."""
    xf = x.reshape(len(x), -1).to(DEVICE)
    w1, w2 = torch.randn(D, H, device=DEVICE) * 0.01, torch.randn(H, C, device=DEVICE) * 0.01
    h, o, dh = (torch.empty(B, n, device=DEVICE) for n in (H, C, H))
    dw1, dw2, do = torch.empty(D, H, device=DEVICE), torch.empty(H, C, device=DEVICE), torch.randn(B, C, device=DEVICE)
    sync()
    t0 = time.perf_counter()
    for i in range(0, len(xf), B):
        xb = xf[i:i + B]                              # (b, D), a view
        b = len(xb)
        torch.mm(xb, w1, out=h[:b])                   # (b, H)
        torch.mm(h[:b], w2, out=o[:b])                # (b, C)
        torch.mm(do[:b], w2.t(), out=dh[:b])          # (b, H)
        torch.mm(h[:b].t(), do[:b], out=dw2)          # (H, C)
        torch.mm(xb.t(), dh[:b], out=dw1)             # (D, H)
    sync()
    return time.perf_counter() - t0


def bench_mlplab(x: torch.Tensor, y: torch.Tensor, data) -> float:
    """``mlplab.training.fit`` for one epoch as ``mlplab train`` calls it (``data`` with or without a test split)."""
    from mlplab.models.mlp import MLP
    from mlplab.training.fit import fit

    model = MLP(D, [H], C, activation="relu", init="normal:0.01", seed=0)
    sync()
    t0 = time.perf_counter()
    fit(model, data, optimizer="sgd", lr=LR, epochs=1, batch_size=B, seed=0, device=str(DEVICE),
        callbacks=inspection(data), **FIT_OPTIONS)
    sync()
    return time.perf_counter() - t0


def inspection(data) -> list:
    """``--inspect``: mlplab's layer statistics (mlplab.training.inspect), as ``mlplab train --inspect`` records
    them: at the init and after the epoch, two inspections per one-epoch fit."""
    if not INSPECT:
        return []
    from mlplab.training.inspect import Inspector

    return [Inspector(data)]


def train_loop(net: nn.Module, batches, n: int) -> None:
    """d2l's train_epoch_ch3: mean loss backward, SGD step, loss and accuracy summed on the host per batch."""
    loss = nn.CrossEntropyLoss(reduction="none")
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    total = correct = 0.0
    net.train()
    for xb, yb in batches:
        xb, yb = xb.to(DEVICE, non_blocking=True), yb.to(DEVICE, non_blocking=True)  # no-ops when already there
        out = net(xb)
        batch_loss = loss(out, yb)
        opt.zero_grad()
        batch_loss.mean().backward()
        opt.step()
        total += float(batch_loss.detach().sum())
        correct += float((out.argmax(1) == yb).sum())
    assert n > 0 and total == total
    sync()


def bench_torch_loop(x: torch.Tensor, y: torch.Tensor) -> float:
    net = tutorial_net()
    x, y = x.to(DEVICE), y.to(DEVICE)
    sync()
    t0 = time.perf_counter()
    perm = torch.randperm(len(x), device=DEVICE)
    train_loop(net, ((x[perm[i:i + B]], y[perm[i:i + B]]) for i in range(0, len(x), B)), len(x))
    return time.perf_counter() - t0


def bench_tensor_loader(x: torch.Tensor, y: torch.Tensor) -> float:
    from torch.utils.data import DataLoader, TensorDataset

    net = tutorial_net()
    t0 = time.perf_counter()
    train_loop(net, DataLoader(TensorDataset(x, y), batch_size=B, shuffle=True), len(x))
    return time.perf_counter() - t0


class ToTensorImages(torch.utils.data.Dataset):
    """torchvision's FashionMNIST + ToTensor, per item: uint8 array → PIL image → (1, 28, 28) float in [0, 1]."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        from PIL import Image

        pic = Image.fromarray(self.images[i], mode="L")           # as torchvision's __getitem__
        t = torch.from_numpy(np.array(pic, np.uint8, copy=True))  # ToTensor: (H, W) uint8
        t = t.view(pic.size[1], pic.size[0], 1).permute(2, 0, 1).contiguous()
        return t.to(torch.float32).div(255), int(self.labels[i])


def bench_d2l(images: np.ndarray, labels: np.ndarray) -> float:
    from torch.utils.data import DataLoader

    net = tutorial_net()
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # "4 workers on a 2-CPU machine": d2l's setting, kept on purpose
        warnings.simplefilter("ignore", UserWarning)
        loader = DataLoader(ToTensorImages(images, labels), batch_size=B, shuffle=True, num_workers=4)
        train_loop(net, loader, len(images))
    return time.perf_counter() - t0


def bench_sklearn(x: torch.Tensor, y: torch.Tensor) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(H,), activation="relu", solver="sgd", batch_size=B,
                        learning_rate_init=LR, momentum=0.0, alpha=0.0, max_iter=1, shuffle=True,
                        random_state=0)
    xn, yn = x.reshape(len(x), -1).numpy(), y.numpy()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(xn, yn)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    names = ["floor", "mlplab", "mlplab+test", "torch_loop", "tensor_loader", "sklearn", "d2l"]
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=3, help="timed runs per pipeline (min and median reported)")
    p.add_argument("--only", default=",".join(names), help=f"comma-separated subset of {','.join(names)}")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    p.add_argument("--compile", action="store_true", help="mlplab: train through torch.compile")
    p.add_argument("--amp", default=None, help="mlplab: bf16 autocast / bfloat16 by hand")
    p.add_argument("--samples", type=int, default=N, help=f"training images to use (default all {N:,})")
    p.add_argument("--inspect", action="store_true", help="mlplab: record layer statistics (mlplab train --inspect)")
    args = p.parse_args(argv)
    global DEVICE, INSPECT
    INSPECT = args.inspect
    DEVICE = torch.device(args.device)
    if DEVICE.type == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda asked for, but CUDA is not available here")
    FIT_OPTIONS.update(compile=args.compile, amp=args.amp)
    chosen = [n for n in args.only.split(",") if n]
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        p.error(f"unknown pipeline(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    if "floor" not in chosen:
        chosen.insert(0, "floor")

    from mlplab.data.load import Dataset

    x8, y8, xt8, yt8, source = load_uint8()
    x8, y8 = x8[:args.samples], y8[:args.samples]
    x = torch.as_tensor(x8, dtype=torch.float32) / 255.0
    y = torch.as_tensor(y8)
    xt = torch.as_tensor(xt8, dtype=torch.float32) / 255
    # already on the device, so fit's one-off copy there is not timed as part of an epoch
    data = Dataset("fashion-mnist", "multiclass", x.to(DEVICE), y.to(DEVICE), None, None, xt.to(DEVICE),
                   torch.as_tensor(yt8).to(DEVICE), input_shape=(28, 28), num_classes=C)
    train_only = dataclasses.replace(data, x_test=data.x_test[:0], y_test=data.y_test[:0])  # no split to evaluate
    runners = {"floor": lambda: bench_floor(x, y), "mlplab": lambda: bench_mlplab(x, y, train_only),
               "mlplab+test": lambda: bench_mlplab(x, y, data),
               "torch_loop": lambda: bench_torch_loop(x, y), "tensor_loader": lambda: bench_tensor_loader(x, y),
               "sklearn": lambda: bench_sklearn(x, y), "d2l": lambda: bench_d2l(x8, y8)}
    where = torch.cuda.get_device_name(DEVICE) if DEVICE.type == "cuda" else "CPU"
    print(f"data: {source}, {len(x):,} images; device {where}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")
    for name in chosen:
        runners[name]()  # warm-up: first-touch allocation, thread pools, worker start-up code paths
    # Round-robin over the pipelines, so a burst of load from elsewhere hits all of them alike.
    times = {name: [] for name in chosen}
    for r in range(args.repeats):
        for name in chosen:
            times[name].append(runners[name]())
        print(f"  round {r + 1}: " + "  ".join(f"{k} {v[-1]:.3f}" for k, v in times.items()), file=sys.stderr,
              flush=True)
    results = {name: {"seconds": min(t), "median": statistics.median(t), "runs": t} for name, t in times.items()}
    floor, floor_median = results["floor"]["seconds"], results["floor"]["median"]
    print(f"{'pipeline':<14} {'min s':>8} {'× floor':>8} {'median s':>9} {'× floor':>8}")
    for name, r in results.items():
        r["ratio"], r["median_ratio"] = r["seconds"] / floor, r["median"] / floor_median
        print(f"{name:<14} {r['seconds']:8.3f} {r['ratio']:8.2f} {r['median']:9.3f} {r['median_ratio']:8.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"data": source, "device": where, "torch": torch.__version__,
                                               "threads": torch.get_num_threads(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

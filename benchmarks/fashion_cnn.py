"""One measured run: the ``cnn`` preset on Fashion-MNIST with a plain torch loop, within a time budget.

    OMP_NUM_THREADS=2 python benchmarks/fashion_cnn.py --data-dir ../shared/data/fashion-mnist --budget 180

Adam (lr 1e-3), batch 128, shuffled with a seeded generator; an epoch starts only if the last one's time
still fits in the budget. Prints the time and test accuracy after every epoch.

Measured once (2 threads on a 2-core machine shared with other jobs, load average ~5.5, so the process got
~0.4 of a core): epoch 1 took 511 s wall (~210 CPU-s), test accuracy 0.8857, then the budget stopped it.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from mlplab.data.load import load_dataset
from mlplab.models.cnn import CNN


def accuracy(model, x, y) -> float:
    model.eval()
    with torch.no_grad():
        hits = sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in zip(x.split(1000), y.split(1000)))
    model.train()
    return hits / len(y)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--budget", type=float, default=180.0, help="seconds of training")
    ap.add_argument("--spec", default="cnn")
    args = ap.parse_args()
    d = load_dataset("fashion-mnist", data_dir=args.data_dir)
    model = CNN(d.input_shape, 10, spec=args.spec, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(1)
    start, last, epoch = time.perf_counter(), 0.0, 0
    print(f"threads {torch.get_num_threads()}, train {tuple(d.x_train.shape)}, test {tuple(d.x_test.shape)}")
    while time.perf_counter() - start + last <= args.budget:
        t0 = time.perf_counter()
        for idx in torch.randperm(len(d.y_train), generator=g).split(128):
            loss = F.cross_entropy(model(d.x_train[idx]), d.y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        last, epoch = time.perf_counter() - t0, epoch + 1
        print(f"epoch {epoch}: {last:.1f} s, total {time.perf_counter() - start:.1f} s, "
              f"last loss {loss.item():.3f}, test accuracy {accuracy(model, d.x_test, d.y_test):.4f}", flush=True)


if __name__ == "__main__":
    main()

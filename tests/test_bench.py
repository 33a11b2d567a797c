"""benchmarks/bench_epoch.py runs end to end (a smoke run on 2,048 images; the timings themselves are not tested)."""

import json
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "bench_epoch.py"


def bench(*args, timeout=300):
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})


def test_benchmark_prints_and_writes_every_pipeline_against_the_floor(tmp_path):
    out = tmp_path / "bench.json"
    r = bench("--samples", "2048", "--repeats", "2", "--json", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    results = json.loads(out.read_text())["results"]
    names = ["floor", "mlplab", "mlplab+test", "torch_loop", "tensor_loader", "sklearn", "d2l"]
    assert list(results) == names
    assert results["floor"]["ratio"] == 1.0
    for name, r_ in results.items():
        assert len(r_["runs"]) == 2 and min(r_["runs"]) == r_["seconds"] > 0, name
        assert r_["ratio"] == r_["seconds"] / results["floor"]["seconds"], name
    table = r.stdout.splitlines()
    assert "2,048 images" in table[0] and any(line.startswith("mlplab+test") for line in table)


def test_benchmark_refuses_a_device_it_does_not_have():
    if torch.cuda.is_available():
        return
    r = bench("--device", "cuda", "--samples", "256", timeout=60)
    assert r.returncode == 2 and "CUDA is not available" in r.stderr

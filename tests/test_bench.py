"""benchmarks/bench_epoch.py end to end on 2,048 images: its printed table, its per-round lines and its JSON agree
with each other (the timings themselves are not tested)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "bench_epoch.py"
NAMES = ["floor", "mlplab", "mlplab+test", "torch_loop", "tensor_loader", "sklearn", "d2l"]
ROW = re.compile(r"^(\S+)\s+(\d+\.\d{3})\s+(\d+\.\d{2})\s+(\d+\.\d{3})\s+(\d+\.\d{2})$")


def bench(*args, timeout=300):
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "OMP_NUM_THREADS": "1"})


def table_rows(stdout: str) -> dict[str, tuple[str, str, str, str]]:
    """pipeline -> (min s, × floor, median s, × floor) as printed, from the lines after the table header."""
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("pipeline"))
    rows = [ROW.match(line) for line in lines[header + 1:]]
    assert all(rows), lines[header + 1:]
    return {m[1]: (m[2], m[3], m[4], m[5]) for m in rows}


def within_rounding(ratio: str, seconds: str, floor: str) -> bool:
    """Is the printed ratio (2 decimals) what the printed seconds (3 decimals) allow, rounding included?"""
    s, f, r = float(seconds), float(floor), float(ratio)
    return (s - 5e-4) / (f + 5e-4) - 5e-3 <= r <= (s + 5e-4) / (f - 5e-4) + 5e-3


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    r = bench("--samples", "2048", "--repeats", "2", "--json", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    return r, json.loads(out.read_text())


def test_the_table_has_every_pipeline_in_order_with_the_floor_at_one(smoke):
    r, _ = smoke
    first = r.stdout.splitlines()[0]
    assert first.startswith("data: ") and "2,048 images; device CPU" in first
    rows = table_rows(r.stdout)
    assert list(rows) == NAMES
    assert rows["floor"][1] == "1.00" and rows["floor"][3] == "1.00"
    floor_min, floor_median = rows["floor"][0], rows["floor"][2]
    for name, (seconds, ratio, median, median_ratio) in rows.items():
        assert float(seconds) > 0 and float(median) >= float(seconds), name
        assert within_rounding(ratio, seconds, floor_min), (name, ratio, seconds, floor_min)
        assert within_rounding(median_ratio, median, floor_median), (name, median_ratio, median, floor_median)


def test_the_json_holds_the_printed_numbers_and_each_rounds_runs(smoke):
    r, saved = smoke
    rows = table_rows(r.stdout)
    results = saved["results"]
    assert list(results) == NAMES and saved["device"] == "CPU" and saved["torch"] == torch.__version__
    assert r.stdout.startswith(f"data: {saved['data']}, 2,048 images")
    rounds = [line for line in r.stderr.splitlines() if line.startswith("  round ")]
    assert [line.split(":")[0] for line in rounds] == ["  round 1", "  round 2"]
    for name, res in results.items():
        printed = rows[name]
        assert f"{res['seconds']:.3f}" == printed[0] and f"{res['ratio']:.2f}" == printed[1], name
        assert f"{res['median']:.3f}" == printed[2] and f"{res['median_ratio']:.2f}" == printed[3], name
        assert len(res["runs"]) == 2 and res["seconds"] == min(res["runs"]), name
        for line, run in zip(rounds, res["runs"]):  # the per-round line on stderr shows each timed run
            assert f" {name} {run:.3f}" in line, (name, line)


def test_an_unknown_pipeline_is_refused_naming_the_valid_ones():
    r = bench("--only", "floor,keras", timeout=120)
    assert r.returncode == 2 and "unknown pipeline(s) keras; choose from " + ", ".join(NAMES) in r.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA, so --device cuda is not refused")
def test_benchmark_refuses_a_device_it_does_not_have():
    r = bench("--device", "cuda", "--samples", "256", timeout=120)
    assert r.returncode == 2 and "CUDA is not available" in r.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_benchmark_on_cuda_names_the_gpu_and_adds_the_floor():
    r = bench("--device", "cuda", "--samples", "2048", "--repeats", "1", "--only", "mlplab")
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"device {torch.cuda.get_device_name(0)};" in r.stdout.splitlines()[0]
    rows = table_rows(r.stdout)
    assert list(rows) == ["floor", "mlplab"] and rows["floor"][1] == "1.00"
    assert within_rounding(rows["mlplab"][1], rows["mlplab"][0], rows["floor"][0])

"""benchmarks/bench_tabular.py --quick end to end: the printed tables and summary agree with its JSON, its split
and scikit-learn peers reproduce REFERENCE.tsv's numbers, and the tie rule decides as it says."""

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_data, tabular_dir

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "bench_tabular.py"
spec = importlib.util.spec_from_file_location("bench_tabular", SCRIPT)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def corpus_dir() -> Path | None:
    return shared_data("MLPLAB_TABULAR_CORPUS", "tabular-corpus", "MANIFEST.tsv")


def run(*args, timeout=600):
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    if tabular_dir() is None:
        pytest.skip("real tables not found: set MLPLAB_TABULAR or put titanic.csv and penguins.csv in "
                    "../shared/data/tabular")
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    r = run("--quick", "--extra-args", "--epochs 4", "--json", str(out))  # 4 epochs: the same road, sooner
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout, json.loads(out.read_text())


def rows(stdout: str, header: str) -> list[list[str]]:
    """The cells of the markdown table whose header line starts with ``header``."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    out = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            return out
        out.append([c.strip() for c in line.strip("|").split("|")])
    return out


def test_the_main_table_shows_the_jsons_means_verdicts_and_times(quick):
    stdout, saved = quick
    tables = saved["tables"]
    expected = ["penguins", "titanic"] + (["ames"] if corpus_dir() else [])
    assert list(tables) == expected and saved["settings"]["seeds"] == 1
    assert saved["settings"]["extra_args"] == ["--epochs", "4"]
    assert all(t["results"]["mlplab"][0]["epochs"] <= 4 for t in tables.values())  # the flags reached the CLI
    printed = rows(stdout, "| table | task | metric |")
    assert [r[0] for r in printed] == expected
    for name, task, metric, *cells in printed:
        t = tables[name]
        assert (task, metric) == (t["task"], t["metric"]) and not t["errors"]
        means = {m: t["results"][m][0][metric] for m in bench.MODELS}
        assert cells[:4] == [bench.mean_std([means[m]]) for m in bench.MODELS]
        assert cells[4] == f"{means['mlplab'] / means['hgb']:.3f}"
        assert cells[6] == " · ".join(t["vs"][p] for p in bench.PEERS)
        secs = [t["results"][m][0]["seconds"] for m in bench.MODELS]
        assert cells[7] == " / ".join(f"{s:.1f}" for s in secs) and cells[8] == f"{secs[0] / secs[1]:.1f}"
    want = {"penguins": "accuracy", "titanic": "roc_auc", "ames": "rmse"}
    assert {n: t["metric"] for n, t in tables.items()} == {n: want[n] for n in tables}


def test_the_summary_counts_the_per_table_verdicts(quick):
    stdout, saved = quick
    s, tables = saved["summary"], saved["tables"]
    assert s["tables"] == len(tables) and bench.TIE_RULE in stdout
    for p in bench.PEERS:
        verdicts = [t["vs"][p] for t in tables.values()]
        counts = {k: verdicts.count(k) for k in ("win", "tie", "loss")}
        assert {k: s["vs"][p][k] for k in counts} == counts
        assert (f"mlplab vs {p}: {counts['win']} wins, {counts['tie']} ties, {counts['loss']} losses; at least as "
                f"good on {counts['win'] + counts['tie']} of {len(tables)}") in stdout
    ratios = [np.mean([x["seconds"] for x in t["results"]["mlplab"]]) /
              np.mean([x["seconds"] for x in t["results"]["hgb"]]) for t in tables.values()]
    assert s["median_time_ratio"]["hgb"] == pytest.approx(np.median(ratios))
    assert f"mlplab / hgb {np.median(ratios):.2f}" in stdout


def test_the_split_and_peers_reproduce_reference_tsv(quick):
    _, saved = quick
    if "ames" not in saved["tables"]:
        pytest.skip("the tabular corpus (ames.csv, REFERENCE.tsv) not found: set MLPLAB_TABULAR_CORPUS")
    with open(corpus_dir() / "REFERENCE.tsv", newline="") as f:
        ref = {r["model"]: float(r["rmse"]) for r in csv.DictReader(f, delimiter="\t") if r["dataset"] == "ames"}
    got = saved["tables"]["ames"]["results"]
    for ours, theirs in (("hgb", "HistGradientBoostingRegressor"), ("linear", "Ridge"), ("sk-mlp", "MLPRegressor")):
        assert round(got[ours][0]["rmse"], 2) == round(ref[theirs], 2), ours


def test_an_unknown_table_is_refused_naming_the_valid_ones():
    r = run("--tables", "penguins,iris", timeout=120)
    assert r.returncode == 2 and "unknown table(s) iris; choose from " in r.stderr


@pytest.mark.parametrize("metric, ours, theirs, verdict", [
    ("roc_auc", [0.851], [0.850], "tie"),            # within the 0.002 floor
    ("roc_auc", [0.855], [0.850], "win"),
    ("accuracy", [0.80, 0.82, 0.78], [0.79, 0.83, 0.76], "tie"),  # +0.007 mean, paired SE 0.0088
    ("rmse", [100.0], [100.4], "tie"),               # 0.4 % relative
    ("rmse", [100.0], [101.0], "win"),
    ("log_loss", [0.30, 0.31], [0.28, 0.29], "loss"),
])
def test_the_tie_rule(metric, ours, theirs, verdict):
    assert bench.verdict(metric, ours, theirs) == verdict

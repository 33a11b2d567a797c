"""The package's imports: no module imports itself around a circle (at module level or inside a function),
``mlplab.config`` imports nothing of mlplab, and importing mlplab or its CLI changes no global state."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The mlplab modules ``path`` imports anywhere in it (functions included), as dotted names."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for block in [n for n in ast.walk(tree) if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"]:
        block.body = []  # imports for type annotations only never run
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for t in targets:
            while t and t not in modules:  # `from mlplab.data import tabular` names a module; `import x.y.z` its package
                t = t.rpartition(".")[0]
            if t and t != name and t != "mlplab":
                found.add(t)
    return found


def graph() -> dict[str, set[str]]:
    paths = sorted(SRC.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each a circle of imports."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_walker_finds_a_circle_and_the_edges_it_must():
    """The walker itself: a made-up circle is found, and known imports of the package are seen."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    edges = graph()
    assert "mlplab.settings" in edges["mlplab.runs.train"]          # at module level
    assert "mlplab.data.tabular" in edges["mlplab.data.load"]       # inside a function


def test_no_module_imports_itself_around_a_circle():
    found = cycles(graph())
    assert found == [], "import circles: " + "; ".join(" -> ".join(c) for c in found)


def test_config_imports_nothing_of_mlplab():
    assert graph()["mlplab.config"] == set()


@pytest.mark.parametrize("code", ["import mlplab", "import mlplab.cli.main"])
def test_importing_changes_no_global_state(code):
    """No matplotlib backend chosen, no seed set, no thread count changed, torch not even loaded."""
    probe = (f"import sys; {code}; print(sorted(m for m in ('torch', 'matplotlib', 'sklearn', 'pandas') "
             "if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                       env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def subcommands() -> list[str]:
    from mlplab.cli.main import COMMANDS

    return [m.rpartition(".")[2] for m in COMMANDS]


@pytest.mark.parametrize("argv", [["--help"]] + [[name, "--help"] for name in subcommands()])
def test_help_imports_no_torch(argv):
    """Parsing and --help load neither torch, matplotlib, scikit-learn, pandas nor even numpy: they answer at once."""
    probe = ("import sys\nfrom mlplab.cli.main import main\ntry:\n    main(" + repr(argv) + ")\nexcept SystemExit:\n"
             "    pass\nprint('LOADED', sorted(m for m in ('torch', 'matplotlib', 'sklearn', 'pandas', 'optuna', 'numpy', "
             "'pyarrow') "
             "if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                       env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert "usage: mlplab" in r.stdout and r.stdout.strip().endswith("LOADED []"), r.stdout[-500:]


def test_a_table_run_loads_torch_and_leaves_scikit_learn_and_matplotlib_to_its_report_worker(tmp_path):
    """A table's run from file to run folder loads torch but not torch._dynamo (optimizers defer it), nor
    scikit-learn, scipy.stats or matplotlib: the test metrics are numpy's, and the baselines and figures are
    made by mlplab.runs.report_worker in its own process, which loaded them while torch loaded here. Together
    about 3.5 s of a small table's start-up; the run folder still holds both."""
    rng = np.random.default_rng(0)
    rows = ["a,b,c,y"] + [f"{x:.3f},{z:.3f},{'pq'[i % 2]},{int(x + z > 0)}"
                          for i, (x, z) in enumerate(rng.normal(size=(300, 2)))]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    probe = ("import sys\nfrom mlplab.cli.main import main\n"
             f"code = main(['train', '--data', {str(tmp_path / 't.csv')!r}, '--target', 'y', "
             f"'--quiet', '--epochs', '3', '--out', {str(tmp_path / 'runs')!r}])\n"
             "print('LOADED', code, sorted(m for m in ('torch', 'torch._dynamo', 'sklearn', 'scipy.stats', "
             "'matplotlib') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300,
                       env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1",
                            "MPLBACKEND": "Agg"})
    assert r.stdout.strip().splitlines()[-1] == "LOADED 0 ['torch']", (r.stdout[-500:], r.stderr[-1500:])
    (run,) = (tmp_path / "runs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert sorted(metrics["baselines"]["models"]) == ["hgb", "linear"]
    for png in ("learning_curves.png", "confusion.png"):
        assert (run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png

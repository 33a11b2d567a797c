"""The package's imports: no module imports itself around a circle (at module level or inside a function),
``mlplab.config`` imports nothing of mlplab, and importing mlplab or its CLI changes no global state."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

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


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["compare", "--help"], ["recipe", "--help"],
                                  ["summary", "--help"], ["predict", "--help"]])
def test_help_imports_no_torch(argv):
    """Parsing and --help load neither torch, matplotlib, scikit-learn nor pandas: they answer at once."""
    probe = ("import sys\nfrom mlplab.cli.main import main\ntry:\n    main(" + repr(argv) + ")\nexcept SystemExit:\n"
             "    pass\nprint('LOADED', sorted(m for m in ('torch', 'matplotlib', 'sklearn', 'pandas') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                       env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert "usage: mlplab" in r.stdout and r.stdout.strip().endswith("LOADED []"), r.stdout[-500:]

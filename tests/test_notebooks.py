"""The notebooks in notebooks/ are documentation that runs: each is executed here in a real Jupyter kernel
(nbclient + ipykernel, the python3 kernel of this interpreter) and checked for what a learner should see:
no errors, inline figures, the live learning curves of the training cell, an accuracy above a threshold, and
predictions that survive a save and a load. The committed copies must keep their outputs (rendered on GitHub).
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import pytest

import mlplab

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ("quickstart", "chapter4", "tables", "your_own_module", "run_display", "activations_and_init",
         "regularisation", "losses_and_optimizers", "network_types")
# the notebooks that train on Fashion-MNIST rows
FASHION = ("your_own_module", "activations_and_init", "regularisation", "losses_and_optimizers", "network_types")
CELL_TIMEOUT = 120  # seconds per cell; each notebook runs in well under a minute on one CPU core
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def outputs(nb) -> list[dict]:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]


def images(outs: list[dict]) -> list[str]:
    return [o["data"]["image/png"] for o in outs if "image/png" in o.get("data", {})]


def text(outs: list[dict]) -> str:
    return "\n".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in outs)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """``executed(name)``: the notebook run top to bottom in a fresh kernel (once per test module)."""
    nbformat = pytest.importorskip("nbformat", reason="executing the notebooks needs nbformat (pip install -e '.[dev]')")
    nbclient = pytest.importorskip("nbclient", reason="executing the notebooks needs nbclient (pip install -e '.[dev]')")
    pytest.importorskip("ipykernel", reason="executing the notebooks needs ipykernel (pip install -e '.[dev]')")
    cache = {}

    def run(name: str):
        if name not in cache:
            nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
            cwd = tmp_path_factory.mktemp(name)  # the notebook's files (a saved run) land here, not in the repo
            # The kernel is a child process: it must import this mlplab (the checkout under test), use one
            # thread, and pick matplotlib's inline backend itself (an empty MPLBACKEND from CI would stop it).
            src = str(Path(mlplab.__file__).resolve().parents[1])
            env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
            env.update(PYTHONPATH=os.pathsep.join([src, *filter(None, [os.environ.get("PYTHONPATH")])]),
                       OMP_NUM_THREADS="1")
            if name in FASHION:
                from conftest import fashion_mnist_dir

                if fashion_mnist_dir() is None:
                    pytest.skip(f"{name}.ipynb needs Fashion-MNIST (../shared/data or $MLPLAB_FASHION_MNIST)")
                env["MLPLAB_FASHION_MNIST"] = str(fashion_mnist_dir())
            client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT, startup_timeout=120,
                                             resources={"metadata": {"path": str(cwd)}})
            client.execute(env=env)  # raises CellExecutionError, with the cell and traceback, if a cell fails
            cache[name] = (nb, cwd)
        return cache[name]

    return run


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_and_shows_figures(executed, name):
    nb, _ = executed(name)
    outs = outputs(nb)
    assert not [o for o in outs if o["output_type"] == "error"]
    assert images(outs), f"{name}.ipynb showed no inline image/png figure"
    for png in images(outs):
        assert base64.b64decode(png).startswith(PNG_MAGIC)


def test_quickstart_training_cell_shows_live_curves(executed):
    nb, _ = executed("quickstart")
    cells = [c for c in nb.cells if c.cell_type == "code" and "mlplab.train(" in c.source and "quiet" not in c.source]
    assert len(cells) == 1, "expected one training cell that shows its progress"
    outs = cells[0].outputs
    # One figure updated in place through a display handle (not one per epoch), and the progress bar above it.
    assert len(images(outs)) == 1
    assert any("<progress" in o.get("data", {}).get("text/html", "") for o in outs)


def test_quickstart_accuracy_and_reload(executed):
    nb, cwd = executed("quickstart")
    printed = text(outputs(nb))
    accuracy = re.search(r"^test accuracy: ([0-9.]+)$", printed, re.M)
    assert accuracy and float(accuracy.group(1)) > 0.85, printed
    assert "identical: True" in printed
    assert "backprop: hand" in printed
    assert "initial first weights identical: True" in printed
    assert not (cwd / "quickstart-run").exists(), "the notebook should clean up the run folder it saved"


def test_chapter4_accuracy_and_figures(executed):
    nb, _ = executed("chapter4")
    outs = outputs(nb)
    printed = text(outs)
    accuracy = dict(re.findall(r"^test accuracy \((\w+)\): ([0-9.]+)$", printed, re.M))
    assert set(accuracy) == {"relu", "sigmoid", "tanh"}, printed
    assert float(accuracy["relu"]) > 0.9 and float(accuracy["tanh"]) > 0.9
    assert len(images(outs)) >= 6  # activations, their curves, polyfit, weight decay, dropout, init


def test_tables_weighting_the_rare_class_finds_it_and_the_run_reloads(executed):
    nb, cwd = executed("tables")
    printed = text(outputs(nb))
    found = re.findall(r"^accuracy ([0-9.]+) \| balanced accuracy ([0-9.]+) \| recall of yes ([0-9.]+)$", printed, re.M)
    assert len(found) == 2, printed
    (acc_plain, bal_plain, rec_plain), (acc_weighted, bal_weighted, rec_weighted) = [tuple(map(float, f)) for f in found]
    assert acc_plain > 0.9 and rec_plain < 0.2          # accurate, and blind to the class that matters
    assert rec_weighted > 0.5 and bal_weighted > bal_plain + 0.15
    assert "identical: True" in printed
    assert "tenure_months: numeric, median" in printed and "customer_id: dropped" in printed
    assert not (cwd / "tables-run").exists(), "the notebook should clean up the run folder it saved"


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_keeps_its_outputs(name):
    nbformat = pytest.importorskip("nbformat", reason="reading the notebooks needs nbformat (pip install -e '.[dev]')")
    path = NOTEBOOKS / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), f"{path} has cells never run; save it executed"
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), f"{path}: run it top to bottom"
    outs = outputs(nb)
    assert not [o for o in outs if o["output_type"] == "error"]
    assert images(outs) and all(base64.b64decode(p).startswith(PNG_MAGIC) for p in images(outs))
    assert path.stat().st_size < 1_000_000, f"{path} is {path.stat().st_size:,} bytes; keep figures small"


def test_your_own_module_takes_the_whole_road(executed):
    """The tutorials' own Model: the softmax head noticed in one line naming the loss that fits, then its logits
    trained with live curves, predictions equal to the recorded test accuracy, the same in a fresh process;
    then a CNN written by hand on Fashion-MNIST rows."""
    nb, cwd = executed("your_own_module")
    outs = outputs(nb)
    printed = text(outs)
    said = [line for line in printed.splitlines() if "already outputs probabilities" in line]
    assert len(said) == 1 and "cross_entropy" in said[0] and "loss='nll'" in said[0], printed
    train_cells = [c for c in nb.cells if c.cell_type == "code" and "model=Logits()" in c.source]
    assert len(images(train_cells[0].outputs)) == 1                       # live curves, one figure updated
    assert float(re.search(r"^test accuracy: ([0-9.]+)$", printed, re.M).group(1)) > 0.85
    assert printed.count("predict matches the recorded test accuracy: True") == 2
    assert "rebuilt as: tutorial_models:Logits" in printed and "identical in a fresh process: True" in printed
    assert float(re.search(r"^CNN test accuracy: ([0-9.]+)$", printed, re.M).group(1)) > 0.75
    assert not (cwd / "own-module-run").exists() and not (cwd / "tutorial_models.py").exists()


def test_run_display_shows_short_reprs_and_every_plot_method_once(executed):
    """Each object shows itself in a few lines (text and HTML); each plot method's cell shows exactly one figure
    (the Figure it returns, not a second copy from pyplot), and a loaded run says where it is saved."""
    nb, cwd = executed("run_display")
    code = [c for c in nb.cells if c.cell_type == "code"]
    shown = {c.source.strip().splitlines()[-1]: c.outputs for c in code}
    for last in ("data", "run", "run.history", "cnn", "back"):
        (out,) = shown[last]
        assert "text/html" in out["data"] and len(out["data"]["text/plain"]) < 800, (last, out["data"]["text/plain"])
    assert shown["run"][0]["data"]["text/plain"].startswith("Run(digits: torch mlp 64 relu")
    assert "saved in display-run" in shown["back"][0]["data"]["text/plain"]
    for method in ("plot_curves", "plot_confusion", "plot_predictions", "plot_weights"):
        cells = [c for c in code if f".{method}(" in c.source]
        assert cells and all(len(images(c.outputs)) == 1 for c in cells), method
    printed = text(outputs(nb))
    assert re.search(r"^by name: +\['\d'", printed, re.M), printed
    assert not (cwd / "display-run").exists(), "the notebook should clean up the run folder it saved"


def test_activations_and_init_shows_what_init_does_to_deep_nets(executed):
    nb, cwd = executed("activations_and_init")
    printed = text(outputs(nb))
    deep = dict(re.findall(r"^tanh (\S+): deep layers \(5-9\) saturated: [0-9.]+% to ([0-9.]+)%$", printed, re.M))
    low = dict(re.findall(r"^tanh (\S+): deep layers \(5-9\) saturated: ([0-9.]+)%", printed, re.M))
    assert float(low["normal:1"]) > 90 and float(deep["xavier_normal"]) < 10, printed
    ratio = dict(re.findall(r"^relu (\S+): gradient norm .* ratio (\S+)$", printed, re.M))
    assert float(ratio["normal:0.01"]) < 1e-3 and 0.1 < float(ratio["kaiming_normal"]) < 10, printed
    accuracy = dict(re.findall(r"^spiral, 2x16 (\w+): test accuracy ([0-9.]+)$", printed, re.M))
    assert float(accuracy["relu"]) > float(accuracy["sigmoid"]) + 0.1, printed
    live = [o["data"]["text/plain"] for o in outputs(nb) if "decision boundary, epoch" in o.get("data", {}).get(
        "text/plain", "")]
    assert live == ["decision boundary, epoch 150"]                       # one image, updated in place
    assert printed.count("boundary.gif in the run folder") == 2
    assert not (cwd / "playground-runs").exists(), "the notebook should clean up the run folders it wrote"
    assert len(images(outputs(nb))) == 8  # activations, four layer figures, the live boundary, two plot_boundary


def test_regularisation_shows_weight_decay_shrinking_the_weights(executed):
    nb, _ = executed("regularisation")
    printed = text(outputs(nb))
    found = {name: tuple(map(float, numbers)) for name, *numbers in re.findall(
        r"^(.+?): train accuracy ([0-9.]+) \| val accuracy [0-9.]+ \| val loss ([0-9.]+) \(best ([0-9.]+)\) \| "
        r"first layer \|W\| ([0-9.]+)$", printed, re.M)}
    assert set(found) == {"none", "weight decay 1e-2", "dropout 0.5"}, printed
    none, decay, dropout = found["none"], found["weight decay 1e-2"], found["dropout 0.5"]
    assert none[0] > 0.99 and none[1] > none[2] + 0.1                      # overfits: val loss climbs
    assert decay[3] < none[3] / 2 and decay[1] < min(none[1], dropout[1])  # smaller weights, lowest final loss
    assert dropout[3] > 0.9 * none[3] and abs(dropout[1] - none[1]) < 0.1  # weights as large; little help here
    live = [o for c in nb.cells if c.cell_type == "code" and "inspect=True" in c.source for o in c.outputs
            if "image/png" in o.get("data", {})]                        # the curves and the layer figure, live
    assert [o["data"]["text/plain"] for o in live] == ["learning curves, epoch 40", "layer statistics, epoch 40"]


def test_losses_and_optimizers_shows_the_worked_losses_and_the_paths(executed):
    nb, _ = executed("losses_and_optimizers")
    printed = text(outputs(nb))
    for line in re.findall(r"^\w+ \(\w+ target\): .*$", printed, re.M):
        torch_value, scratch_value, expected = re.search(r"torch ([0-9.]+) \| scratch ([0-9.]+) \| expected ([0-9.]+)",
                                                         line).groups()
        assert torch_value == scratch_value and abs(float(torch_value) - float(expected)) < 1e-4, line
    assert float(re.search(r"largest gap between the paths: (\S+)$", printed, re.M).group(1)) < 1e-6
    ends = dict(re.findall(r"^rosenbrock (\S+): ends ([0-9.]+) from", printed, re.M))
    assert float(ends["SGD"]) > 0.5 and float(ends["SGD+momentum"]) < 0.1 and float(ends["Adam"]) < 0.1
    saddle = dict(re.findall(r"(\S+) ([0-9.]+)", printed.split("saddle: distance to the minimum after 100 steps:")[1]
                             .splitlines()[0]))
    assert float(saddle["SGD"]) == max(map(float, saddle.values()))       # plain SGD: the one left on the ridge
    accuracy = re.findall(r"^(\S+) \(lr \S+\): train loss [0-9.]+ \| test accuracy ([0-9.]+)$", printed, re.M)
    assert len(accuracy) == 7 and all(float(a) > 0.75 for _, a in accuracy), printed


def test_network_types_compares_the_four_and_their_gradients_per_step(executed):
    nb, _ = executed("network_types")
    printed = text(outputs(nb))
    found = {m: (int(p.replace(",", "")), float(a)) for m, p, a in re.findall(
        r"^(\w+): ([0-9,]+) parameters \| test accuracy ([0-9.]+) \|", printed, re.M)}
    assert set(found) == {"mlp", "cnn", "rnn", "lstm"}, printed
    assert found["cnn"][0] * 5 < found["mlp"][0] and found["cnn"][1] > found["mlp"][1] - 0.05
    assert found["lstm"][1] > found["rnn"][1] + 0.05
    back = {k: float(v) for k, v in re.findall(r"^(\w+: ‖∂ℓ/∂\w)_t‖ at row 1 is ([0-9.]+) of", printed, re.M)}
    assert back["rnn: ‖∂ℓ/∂h"] < 0.1 and 0.2 < back["lstm: ‖∂ℓ/∂c"] < 0.5, printed
    assert len(images(outputs(nb))) == 3                                  # kernels, MLP units, gradients per step

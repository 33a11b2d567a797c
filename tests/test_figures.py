"""Figures are plain matplotlib Figures: mlplab never sets or changes a backend, on import or when it writes PNGs."""

import subprocess
import sys

from mlplab.plots.figures import curves_figure, epoch_axis, subplots
from mlplab.training.history import History


def test_importing_and_training_leave_the_users_backend_alone(tmp_path):
    code = (
        "import matplotlib; matplotlib.use('svg')\n"
        "import mlplab\n"
        "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
        "run = mlplab.train('digits', epochs=2, out='runs', progress='quiet')\n"
        "fig = run.history.plot()\n"
        "import matplotlib.pyplot as plt\n"
        "print(matplotlib.get_backend(), type(fig).__name__, sorted(p.name for p in run.path.iterdir()))\n"
    )
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}  # no MPLBACKEND: what a user's shell has
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    backend, kind, files = r.stdout.split(" ", 2)
    assert backend == "svg" and kind == "Figure"
    assert "learning_curves.png" in files and "predictions.png" in files
    png = next((tmp_path / "runs").iterdir()) / "learning_curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_cli_writes_pngs_with_a_users_non_default_backend(cli, tmp_path):
    r = cli("train", "--dataset", "iris", "--epochs", "2", "--out", str(tmp_path), env={"MPLBACKEND": "svg",
                                                                                        "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    folder = next(tmp_path.iterdir())
    assert (folder / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_curves_mark_the_best_epoch_and_use_whole_epochs():
    h = History([{"epoch": e, "train_loss": 1 / e, "val_loss": abs(e - 3) + 1, "train_accuracy": 0.5,
                  "val_accuracy": 0.6} for e in range(1, 6)], best_epoch=3)
    fig = curves_figure(h, title="t")
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in loss_ax.get_lines()] == ["train loss", "val loss", "best epoch 3"]
    ticks = loss_ax.xaxis.get_major_locator().tick_values(1, 5)
    assert all(float(t).is_integer() for t in ticks)
    fig, ax = subplots()
    epoch_axis(ax)
    assert all(float(t).is_integer() for t in ax.xaxis.get_major_locator().tick_values(1, 3))


def test_a_binary_confusion_figure_leaves_room_for_its_title(tmp_path):
    from PIL import Image

    from mlplab.plots.figures import confusion_figure, save

    title = "bank-marketing.csv: test rows of a run trained on 36,168 rows"
    fig = confusion_figure([[40, 2], [5, 9]], ["no", "yes"], title)
    width, height = Image.open(save(fig, tmp_path / "confusion.png")).size
    assert width >= 350 and height >= 350, (width, height)      # was 240×220 px
    title_box = fig.axes[0].title.get_window_extent(fig._get_renderer())
    assert title_box.x0 >= 0 and title_box.x1 <= fig.bbox.width   # not clipped at the sides
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["no", "yes"]


def test_weights_figure_draws_kernels_unit_images_or_histograms():
    import torch

    from mlplab.models.cnn import CNN
    from mlplab.models.mlp import MLP
    from mlplab.plots.filters import weights_figure

    cnn = weights_figure(CNN((8, 8), 3, spec="conv:4:3,relu"), (8, 8))
    assert sum(len(ax.images) for ax in cnn.axes) == 4 and "kernels" in cnn._suptitle.get_text()
    mlp = MLP(64, [32], 10)
    units = weights_figure(mlp, (8, 8), n=16)
    assert sum(len(ax.images) for ax in units.axes) == 16
    table = weights_figure(mlp, None)
    assert [len(ax.patches) > 0 for ax in table.axes] == [True, True]   # one histogram per weight matrix
    try:
        weights_figure(torch.nn.ReLU())
    except ValueError as e:
        assert "no" in str(e)
    else:
        raise AssertionError("a model without weights must be refused")

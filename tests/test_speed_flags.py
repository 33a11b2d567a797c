"""Issue 6's training options: lr schedules, image augmentation, fused optimizers, bf16 autocast, compile flag."""

import math
import os
import sys

import pytest
import torch

from conftest import run_cli
from mlplab.data.augment import AUGMENTS, flip, get_augment, shift
from mlplab.data.load import Dataset, load_dataset
from mlplab.training.fit import History, fit
from mlplab.models.mlp import MLP
from mlplab.training.optim import make_optimizer
from mlplab.training.schedules import SCHEDULES, cosine, onecycle, set_lr


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


@pytest.fixture(scope="module")
def images():
    """Tiny seeded 8×8 'images' with a learnable label (bright left half or right half)."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(300, 8, 8, generator=g)
    y = (x[:, :, :4].mean((1, 2)) > x[:, :, 4:].mean((1, 2))).long()
    return Dataset("tiny-images", "multiclass", x[:200], y[:200], None, None, x[200:], y[200:],
                   input_shape=(8, 8), num_classes=2)


def test_schedule_factors_are_the_formulas():
    assert set(SCHEDULES) == {"none", "cosine", "onecycle"}
    assert SCHEDULES["none"](0.7) == 1.0
    assert cosine(0.0) == 1.0 and cosine(0.5) == pytest.approx(0.5) and cosine(1.0) == pytest.approx(0.0)
    assert onecycle(0.0) == pytest.approx(0.04) and onecycle(0.3) == pytest.approx(1.0)
    assert onecycle(0.15) == pytest.approx(0.52) and onecycle(1.0) == pytest.approx(0.0, abs=1e-12)


def test_set_lr_scales_the_initial_lr_not_the_current_one():
    opt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.2)
    set_lr(opt, 0.5)
    set_lr(opt, 0.5)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1) and opt.param_groups[0]["initial_lr"] == 0.2


def test_cosine_schedule_ends_near_zero_and_changes_the_result(digits):
    m = MLP(64, [16], 10)
    opt = make_optimizer("sgd", m, lr=0.1)
    fit(m, digits, epochs=2, batch_size=64, device="cpu", opt=opt, schedule="cosine")
    n_batches = math.ceil(len(digits.x_train) / 64)
    last = (2 * n_batches - 1) / (2 * n_batches)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * cosine(last))
    plain = fit(MLP(64, [16], 10), digits, epochs=2, batch_size=64, device="cpu")
    with_cos = fit(MLP(64, [16], 10), digits, epochs=2, batch_size=64, device="cpu", schedule="cosine")
    assert plain.final["train_loss"] != with_cos.final["train_loss"]


@pytest.mark.parametrize("schedule,augment,amp,backprop", [
    ("onecycle", "flip-shift", None, "auto"), ("cosine", "none", None, "auto"),
    ("onecycle", "flip", "bf16", "auto"), ("none", "flip", None, "autograd")])
def test_resuming_at_an_epoch_boundary_is_exact_with_schedule_and_augment(images, schedule, augment, amp, backprop):
    kw = dict(optimizer="adam", lr=0.01, batch_size=32, device="cpu", schedule=schedule, augment=augment, seed=3,
              amp=amp, backprop=backprop)
    m1 = MLP(64, [16], 2, dropout=0.1)
    h1 = fit(m1, images, epochs=4, **kw)
    m2 = MLP(64, [16], 2, dropout=0.1)
    opt = make_optimizer("adam", m2, lr=0.01)
    h2 = History()

    def stop_after_two(epoch, history, model, opt):
        if epoch == 2:
            raise KeyboardInterrupt  # as a user's Ctrl-C at the epoch boundary
    with pytest.raises(KeyboardInterrupt):
        fit(m2, images, epochs=4, opt=opt, history=h2, callbacks=[stop_after_two], **kw)
    assert len(h2.rows) == 2
    h2 = fit(m2, images, epochs=4, opt=opt, history=h2, **kw)
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h.rows]  # noqa: E731
    assert strip(h1) == strip(h2)
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(a, b)


def test_flip_mirrors_some_images_and_keeps_the_others():
    x = torch.arange(2 * 100 * 3, dtype=torch.float32).reshape(100, 2, 3)
    out = flip(x, torch.Generator().manual_seed(0))
    same = (out == x).flatten(1).all(1)
    mirrored = (out == x.flip(-1)).flatten(1).all(1)
    assert torch.all(same | mirrored) and 20 < int(mirrored.sum()) < 80


def test_shift_moves_each_image_within_two_pixels_filling_zeros():
    x = torch.zeros(64, 9, 9)
    x[:, 4, 4] = 1.0                                   # one bright pixel in the middle
    out = shift(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and torch.all(out.sum((1, 2)) == 1)
    rows, cols = out.argmax(2).amax(1), out.amax(2).argmax(1)
    where = out.flatten(1).argmax(1)
    r, c = where // 9, where % 9
    assert torch.all((r - 4).abs() <= 2) and torch.all((c - 4).abs() <= 2)
    assert len(set(zip(r.tolist(), c.tolist()))) > 10  # per-image offsets, not one per batch
    assert rows.shape == cols.shape


def test_augment_names_and_non_images(digits):
    assert set(AUGMENTS) == {"none", "flip", "shift", "flip-shift"}
    with pytest.raises(ValueError, match="augment 'flip' needs image data"):
        get_augment("flip", (64,))
    with pytest.raises(ValueError, match="unknown augment 'rotate'"):
        fit(MLP(64, [8], 10), digits, epochs=1, device="cpu", augment="rotate")


def test_sgd_and_adam_default_to_the_fused_kernel_with_the_same_updates(digits):
    for name in ("sgd", "adam"):
        assert make_optimizer(name, MLP(64, [8], 10), lr=0.01).defaults["fused"] is True
    assert make_optimizer("sgd", MLP(64, [8], 10), lr=0.01, foreach=False).defaults["fused"] is None
    for name, lr in (("sgd", 0.1), ("adam", 0.01)):
        m1, m2 = MLP(64, [32], 10), MLP(64, [32], 10)
        h1 = fit(m1, digits, optimizer=name, lr=lr, epochs=2, batch_size=64, device="cpu")
        h2 = fit(m2, digits, optimizer=name, lr=lr, epochs=2, batch_size=64, device="cpu",
                 optimizer_args={"foreach": False})
        for a, b in zip(m1.parameters(), m2.parameters()):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
        assert h1.final["train_loss"] == pytest.approx(h2.final["train_loss"], rel=1e-4)


def test_bf16_autocast_trains_on_cpu_and_bad_amp_is_one_error(digits):
    h = fit(MLP(64, [64], 10), digits, lr=0.1, epochs=4, batch_size=64, device="cpu", amp="bf16")
    assert h.final["test_accuracy"] > 0.85
    with pytest.raises(ValueError, match="amp must be one of bf16"):
        fit(MLP(64, [8], 10), digits, epochs=1, device="cpu", amp="fp8")


@pytest.mark.parametrize("flags,message", [
    (["--amp", "fp8"], "unknown amp 'fp8'"),
    (["--schedule", "linear"], "unknown schedule 'linear'"),
    (["--augment", "flip"], "augment 'flip' needs image data"),
    (["--backprop", "fast"], "unknown backprop 'fast'"),
    (["--backprop", "hand", "--impl", "scratch"], "backprop 'hand' does not apply here: impl is scratch"),
    (["--backprop", "hand", "--loss", "nll"], "backprop 'hand' does not apply here: the loss is nll"),
])
def test_cli_bad_speed_flags_are_one_line_and_write_nothing(tmp_path, flags, message):
    r = run_cli("train", "--dataset", "iris", "--epochs", "1", "--device", "cpu", "--out", str(tmp_path / "runs"),
                *flags)
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_cli_compile_on_cpu_without_a_compiler_is_one_clear_line(tmp_path):
    env = {"PATH": str(tmp_path)}  # no c++/g++/clang++ reachable; python runs by absolute path
    r = run_cli("train", "--dataset", "iris", "--epochs", "1", "--device", "cpu", "--compile",
                "--out", str(tmp_path / "runs"), env=env)
    assert r.returncode == 2 and "compile on CPU needs a C++ compiler" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and os.path.isabs(sys.executable)


def test_cli_schedule_and_amp_flags_reach_the_run_config(tmp_path):
    r = run_cli("train", "--dataset", "iris", "--hidden", "8", "--epochs", "2", "--device", "cpu", "--quiet",
                "--schedule", "onecycle", "--amp", "bf16", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    text = (folder / "config.toml").read_text()
    assert 'schedule = "onecycle"' in text and 'amp = "bf16"' in text

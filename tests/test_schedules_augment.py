"""Issue 6's training options: lr schedules, image augmentation, fused optimizers, bf16 autocast, compile flag."""

import math
import shutil

import pytest
import torch
from conftest import run_cli

from mlplab.config import TrainConfig
from mlplab.data.augment import AUGMENTS, flip, get_augment, shift
from mlplab.data.load import Dataset, load_dataset
from mlplab.models.mlp import MLP
from mlplab.training.fit import History, fit
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
    # cosine: ½ (1 + cos π p);  cos(π/4) = √2/2
    assert cosine(0.0) == 1.0 and cosine(0.5) == pytest.approx(0.5) and cosine(1.0) == pytest.approx(0.0, abs=1e-12)
    assert cosine(0.25) == pytest.approx((1 + math.sqrt(2) / 2) / 2)
    # onecycle: 0.04 + 0.96 p / 0.3 up to p = 0.3, then cosine over the remaining 0.7
    assert onecycle(0.0) == pytest.approx(0.04) and onecycle(0.3) == pytest.approx(1.0)
    assert onecycle(0.15) == pytest.approx(0.52) and onecycle(1.0) == pytest.approx(0.0, abs=1e-12)
    assert onecycle(0.65) == pytest.approx(0.5) and onecycle(0.475) == pytest.approx((1 + math.sqrt(2) / 2) / 2)


def test_set_lr_scales_the_initial_lr_not_the_current_one():
    opt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.2)
    set_lr(opt, 0.5)
    set_lr(opt, 0.5)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1) and opt.param_groups[0]["initial_lr"] == 0.2


# Golden lrs (base 0.1) for 2 epochs × 5 batches = 10 steps at progress k/10, k = 0..9, worked by hand:
# cosine ½(1 + cos(kπ/10)) with cos(π/10) = 0.9510565, cos(π/5) = 0.8090170, cos(3π/10) = 0.5877853;
# onecycle 0.04 + 0.96·(k/10)/0.3 for k < 3, then ½(1 + cos(jπ/7)), j = 0..6, with cos(π/7) = 0.9009689,
# cos(2π/7) = 0.6234898, cos(3π/7) = 0.2225209.
GOLDEN_LRS = {
    "none": [0.1] * 10,
    "cosine": [0.1, 0.097552826, 0.09045085, 0.079389263, 0.06545085, 0.05, 0.03454915, 0.020610737, 0.00954915,
               0.002447174],
    "onecycle": [0.004, 0.036, 0.068, 0.1, 0.095048443, 0.08117449, 0.061126047, 0.038873953, 0.01882551,
                 0.004951557],
}


@pytest.mark.parametrize("schedule", list(GOLDEN_LRS))
def test_every_step_trains_with_the_scheduled_lr(images, schedule):
    m = MLP(64, [8], 2)
    opt = make_optimizer("sgd", m, lr=0.1)
    lrs = []  # the lr each optimizer step is taken with, noted by torch's own step hook
    opt.register_step_pre_hook(lambda opt, args, kwargs: lrs.append(opt.param_groups[0]["lr"]))
    fit(m, images, opt=opt, epochs=2, batch_size=40, device="cpu", schedule=schedule, backprop="autograd")
    assert len(images.x_train) == 200 and len(lrs) == 10  # 5 batches per epoch
    assert lrs == pytest.approx(GOLDEN_LRS[schedule], abs=1e-9)


@pytest.mark.parametrize("schedule,augment,amp,backprop", [
    ("onecycle", "flip-shift", None, "auto"), ("cosine", "none", None, "auto"),
    ("onecycle", "flip", "bf16", "auto"), ("none", "flip", None, "autograd")])
def test_resuming_at_an_epoch_boundary_is_exact_with_schedule_and_augment(images, schedule, augment, amp, backprop):
    adam = TrainConfig(optimizer="adam", lr=0.01)  # the optimizer keys live in the config when opt= is given
    kw = dict(batch_size=32, device="cpu", schedule=schedule, augment=augment, seed=3, amp=amp, backprop=backprop)
    m1 = MLP(64, [16], 2, dropout=0.1)
    h1 = fit(m1, images, adam, epochs=4, **kw)
    m2 = MLP(64, [16], 2, dropout=0.1)
    opt = make_optimizer("adam", m2, lr=0.01)
    h2 = History()

    def stop_after_two(epoch, history, model, opt):
        if epoch == 2:
            raise KeyboardInterrupt  # as a user's Ctrl-C at the epoch boundary
    with pytest.raises(KeyboardInterrupt):
        fit(m2, images, adam, epochs=4, opt=opt, history=h2, callbacks=[stop_after_two], **kw)
    assert len(h2.rows) == 2
    h2 = fit(m2, images, adam, epochs=4, opt=opt, history=h2, **kw)
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h.rows]  # noqa: E731
    assert strip(h1) == strip(h2)
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(a, b)


def test_flip_mirrors_exactly_the_images_it_picks_and_keeps_the_others():
    x = torch.arange(100 * 2 * 3, dtype=torch.float32).reshape(100, 2, 3)  # no image is its own mirror
    out = flip(x, torch.Generator().manual_seed(0))
    mirrored = (out != x).flatten(1).any(1)                                 # (B,) which images changed
    assert torch.equal(out[mirrored], torch.flip(x[mirrored], dims=[2]))    # left-right, not up-down
    assert torch.equal(out[~mirrored], x[~mirrored])
    # each image is mirrored with probability ½: 100 draws land in 50 ± 15 (3 standard deviations)
    assert 35 <= int(mirrored.sum()) <= 65
    again = flip(x, torch.Generator().manual_seed(0))
    other = flip(x, torch.Generator().manual_seed(1))
    assert torch.equal(again, out) and not torch.equal(other, out)          # seeded by the generator alone


def translate(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``image`` (H, W) moved down by dy and right by dx, zeros shifted in (written out by slicing)."""
    h, w = image.shape
    out = torch.zeros_like(image)
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = image[max(-dy, 0):h - max(dy, 0),
                                                                      max(-dx, 0):w - max(dx, 0)]
    return out


def test_translate_helper_on_a_hand_made_image():
    image = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    assert translate(image, 1, -1).tolist() == [[0, 0, 0], [2, 3, 0], [5, 6, 0]]
    assert translate(image, -2, 2).tolist() == [[0, 0, 7], [0, 0, 0], [0, 0, 0]]


def test_shift_moves_each_image_by_its_drawn_offset_filling_zeros():
    b = 400
    dot = torch.zeros(b, 9, 9)
    dot[:, 4, 4] = 1.0                                    # one lit pixel in the middle of every image
    moved = shift(dot, torch.Generator().manual_seed(0))
    assert moved.shape == dot.shape and torch.equal(moved.sum((1, 2)), torch.ones(b))  # the pixel stays inside
    where = moved.flatten(1).argmax(1)
    dy, dx = where // 9 - 4, where % 9 - 4                # each image's offset, read off its lit pixel
    assert set(dy.tolist()) == set(dx.tolist()) == {-2, -1, 0, 1, 2}
    assert len(set(zip(dy.tolist(), dx.tolist()))) == 25  # per-image offsets, all 5 × 5 of them
    for i in range(b):
        assert torch.equal(moved[i], translate(dot[i], int(dy[i]), int(dx[i])))
    # the same generator state draws the same offsets for any batch of that size: a full image moves the same way
    pictures = torch.rand(b, 9, 9, generator=torch.Generator().manual_seed(1)) + 1.0   # no zero pixels
    out = shift(pictures, torch.Generator().manual_seed(0))
    for i in range(b):
        assert torch.equal(out[i], translate(pictures[i], int(dy[i]), int(dx[i]))), i


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
    with pytest.raises(ValueError, match="unknown amp 'fp8'; valid amps: bf16"):
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
    env = {"PATH": str(tmp_path)}  # no c++/g++/clang++ reachable; python runs by absolute path (sys.executable)
    assert not any(shutil.which(c, path=env["PATH"]) for c in ("c++", "g++", "clang++"))
    r = run_cli("train", "--dataset", "iris", "--epochs", "1", "--device", "cpu", "--compile",
                "--out", str(tmp_path / "runs"), env=env)
    assert r.returncode == 2 and "compile on CPU needs a C++ compiler" in r.stderr and "drop --compile" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr and r.stdout == ""
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_cli_schedule_and_amp_flags_reach_the_run_config(tmp_path):
    r = run_cli("train", "--dataset", "iris", "--hidden", "8", "--epochs", "2", "--device", "cpu", "--quiet",
                "--schedule", "onecycle", "--amp", "bf16", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    text = (folder / "config.toml").read_text()
    assert 'schedule = "onecycle"' in text and 'amp = "bf16"' in text

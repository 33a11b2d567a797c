"""mlplab.training.averaging: the average is the moving average of the training weights, step by step; it does
not change training; evaluation and the final model use it; a run with it resumes bit-identical."""

from __future__ import annotations

import torch
from conftest import one_line_error, whole_and_resumed
from safetensors.torch import load_file

import mlplab
from mlplab.config import TrainConfig
from mlplab.data.load import load_dataset
from mlplab.models.build import build_model
from mlplab.training.evaluate import evaluate
from mlplab.training.history import History

ONE_STEP_EPOCHS = dict(hidden=[8], epochs=4, batch_size=1000, optimizer="sgd", lr=0.5, progress="quiet",
                       device="cpu", seed=0)  # iris: one batch per epoch, so each epoch's end is a step's


def test_the_average_follows_the_training_weights_and_does_not_change_training(one_torch_thread):
    data = load_dataset("iris")
    after_each_step = []
    plain = mlplab.train(data, callbacks=[lambda e, h, model, o: after_each_step.append(
        {k: v.clone() for k, v in model.state_dict().items()})], **ONE_STEP_EPOCHS)
    averaged = mlplab.train(data, ema=0.5, **ONE_STEP_EPOCHS)
    assert averaged.history.column("train_loss") == plain.history.column("train_loss")  # training is the same
    init = build_model(TrainConfig(hidden=(8,), seed=0), data.input_shape, data.task, data.output_size)
    a = {k: v.clone() for k, v in init.state_dict().items()}
    for w in after_each_step:  # a ← a + (1 − 0.5)(w − a), written out
        a = {k: a[k] + 0.5 * (w[k] - a[k]) for k in a}
    for k, v in averaged.model.state_dict().items():
        torch.testing.assert_close(v, a[k], rtol=0, atol=1e-6)
    assert not torch.allclose(averaged.model[1].weight, plain.model[1].weight)


def test_the_validation_columns_are_the_averages(one_torch_thread):
    data = load_dataset("iris")
    run = mlplab.train(data, ema=0.9, **{**ONE_STEP_EPOCHS, "batch_size": 16})
    loss_fn = lambda out, y, reduction="mean": torch.nn.functional.cross_entropy(out, y, reduction=reduction)  # noqa: E731
    got = evaluate(run.model, data.encoded("val").float(), data.y_val, loss_fn, "cross_entropy", data.task)
    assert abs(got["loss"] - run.history.rows[-1]["val_loss"]) < 1e-9


def test_a_run_with_weight_averaging_resumes_bit_identical(tmp_path, capsys, one_torch_thread):
    args = ["train", "--dataset", "iris", "--hidden", "16", "--optimizer", "adam", "--lr", "0.01", "--ema", "0.9",
            "--early-stop", "3", "--quiet"]
    whole, part = whole_and_resumed(capsys, tmp_path, args, epochs=6, stop_after=3)
    a, b = load_file(str(part / "model.safetensors")), load_file(str(whole / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    rows = lambda folder: [{k: v for k, v in r.items() if k != "seconds"}  # noqa: E731
                           for r in History.from_csv(folder / "history.csv").rows]
    assert rows(part) == rows(whole) and len(rows(whole)) >= 4


def test_an_ema_outside_0_1_is_one_line(capsys):
    line = one_line_error(capsys, "train", "--dataset", "iris", "--ema", "1.5")
    assert "ema is a decay per step in [0, 1)" in line and "0.99" in line

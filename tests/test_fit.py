"""The training loop on real data: learning, repeatability, weight decay on weights only, stopping on ROC-AUC."""


import numpy as np
import pytest
import torch

from mlplab.data.load import load_dataset
from mlplab.models.mlp import MLP
from mlplab.training.fit import History, fit
from mlplab.training.optim import OPTIMIZERS, make_optimizer


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def test_digits_learns_and_history_has_every_column(digits):
    h = fit(MLP(64, [64], 10), digits, lr=0.1, epochs=8, batch_size=64, device="cpu")
    assert [r["epoch"] for r in h.rows] == list(range(1, 9))
    assert set(h.rows[0]) == {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                              "test_loss", "test_accuracy", "seconds"}
    assert h.rows[-1]["train_loss"] < h.rows[0]["train_loss"] / 3
    assert h.final["test_accuracy"] > 0.93


def test_same_seed_same_numbers_other_seed_other_numbers(digits):
    def run(seed):
        m = MLP(64, [32], 10, dropout=0.3, seed=seed)
        h = fit(m, digits, epochs=2, batch_size=32, seed=seed, device="cpu")
        return [{k: v for k, v in r.items() if k != "seconds"} for r in h.rows], m[1].weight.detach().clone()
    (h1, w1), (h2, w2), (h3, w3) = run(0), run(0), run(1)
    assert h1 == h2 and torch.equal(w1, w2)
    assert h1 != h3 and not torch.equal(w1, w3)


def test_continuing_a_history_equals_one_long_run(digits):
    m1 = MLP(64, [32], 10, dropout=0.2)
    fit(m1, digits, epochs=4, batch_size=50, device="cpu")
    m2 = MLP(64, [32], 10, dropout=0.2)
    opt = make_optimizer("sgd", m2, lr=0.1)
    h = fit(m2, digits, epochs=2, batch_size=50, device="cpu", opt=opt)
    h = fit(m2, digits, epochs=4, batch_size=50, device="cpu", opt=opt, history=h)
    assert [r["epoch"] for r in h.rows] == [1, 2, 3, 4]
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(a, b)


def test_weight_decay_reaches_weights_not_biases():
    m = MLP(3, [4], 2, init="ones")
    for layer in m.linears():
        torch.nn.init.ones_(layer.bias)
    opt = make_optimizer("sgd", m, lr=0.5, weight_decay=0.1)
    for p in m.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()                                       # zero gradient: only decay moves parameters
    assert torch.allclose(m[1].weight, torch.full_like(m[1].weight, 1 - 0.5 * 0.1))
    assert torch.equal(m[1].bias, torch.ones(4))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_trains(name, digits):
    lr = {"sgd": 0.1, "adadelta": 1.0, "adagrad": 0.05}.get(name, 0.005)
    h = fit(MLP(64, [32], 10), digits, optimizer=name, lr=lr, epochs=3, device="cpu")
    assert h.rows[-1]["train_loss"] < h.rows[0]["train_loss"]


@pytest.mark.parametrize("dataset, loss, output", [
    ("digits", "nll", "log_softmax"), ("breast-cancer", "bce", "sigmoid"),
    ("breast-cancer", "bce_with_logits", None), ("diabetes", "mse", None), ("diabetes", "l1", None),
    ("diabetes", "smooth_l1", None),
])
def test_losses_by_task(dataset, loss, output):
    d = load_dataset(dataset)
    m = MLP(d.input_shape[0], [16], d.output_size, output=output)
    h = fit(m, d, loss=loss, lr=0.5 if d.task == "binary" else 0.05, epochs=8, device="cpu")
    assert h.rows[-1]["train_loss"] < h.rows[0]["train_loss"]
    if d.task == "binary":
        assert h.final["test_accuracy"] > 0.9
    else:
        assert ("test_accuracy" in h.final) == (d.task != "regression")


def test_loss_that_does_not_fit_the_task_is_refused(digits):
    with pytest.raises(ValueError, match="does not fit a multiclass task"):
        fit(MLP(64, [8], 10), digits, loss="mse", epochs=1, device="cpu")


@pytest.mark.parametrize("kwargs, message", [
    (dict(epochs=0), "epochs must be positive"), (dict(batch_size=-1), "batch_size"),
    (dict(lr=0.0), "lr must be positive"), (dict(optimizer="lbfgs"), "valid optimizers"),
    (dict(device="tpu"), "unknown device"), (dict(impl="jax"), "impl"),
    (dict(optimizer="adam", optimizer_args={"momentum": 0.9}), "takes no momentum"),
])
def test_bad_arguments(kwargs, message, digits):
    with pytest.raises(ValueError, match=message):
        fit(MLP(64, [8], 10), digits, **{"epochs": 1, **kwargs})


def test_history_csv_round_trip(tmp_path, digits):
    h = fit(MLP(64, [8], 10), digits, epochs=2, device="cpu")
    h.to_csv(tmp_path / "h.csv")
    back = History.from_csv(tmp_path / "h.csv")
    assert [r["epoch"] for r in back.rows] == [1, 2]
    assert back.rows[1]["test_accuracy"] == pytest.approx(h.rows[1]["test_accuracy"])


def test_a_binary_run_stops_on_validation_roc_auc_and_keeps_the_best_epochs_weights(one_torch_thread):
    from sklearn.metrics import roc_auc_score

    from mlplab.data.dataset import Dataset

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 6))
    y = (x[:, 0] + 0.8 * rng.normal(size=600) > 0.3).astype(int)
    data = Dataset.from_arrays(x, y, val_fraction=0.25, test_fraction=0.2, seed=0)
    model = MLP(6, [32], 1)
    h = fit(model, data, optimizer="adam", lr=0.05, epochs=40, early_stopping=3, monitor="val_roc_auc",
            device="cpu")
    aucs = h.column("val_roc_auc")
    assert h.best_epoch == 1 + int(np.argmax(aucs)) and len(aucs) < 40
    model.eval()
    with torch.no_grad():
        scores = model(data.encoded("val").float()).reshape(-1).numpy()
    assert roc_auc_score(data.y_val.reshape(-1).numpy(), scores) == pytest.approx(max(aucs), abs=1e-12)
    assert h.rows[-1]["test_roc_auc"] > 0.8

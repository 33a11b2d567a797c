"""scikit-learn estimators over mlplab's MLP and ``fit``: use them in GridSearchCV, cross_val_score, Pipeline.

>>> from sklearn.datasets import load_iris
>>> X, y = load_iris(return_X_y=True)
>>> clf = MLPClassifier(hidden=(16,), epochs=50, lr=0.01).fit(X, y)
>>> clf.predict_proba(X[:2]).shape
(2, 3)

Parameters are mlplab's config keys (the names ``mlplab train`` takes), validated at ``fit`` by TrainConfig,
so a bad value fails with the same message as on the command line. Training is minibatch training with any
mlplab optimizer (Adam by default, as scikit-learn's own MLP) on the rows given, with no validation split held
out unless ``early_stopping=PATIENCE`` (then ``validation_fraction`` of the rows, stratified, and the weights
of the epoch with the lowest validation loss are kept), deterministic for a ``seed``. ``numeric_embedding=16``
embeds every feature periodically before the first layer (mlplab.models.embeddings).
The classifier always uses softmax outputs with cross-entropy (two units for binary problems); the regressor
uses MSE on the targets as given (scale them, e.g. with TransformedTargetRegressor, if they are large).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
from torch import nn

from mlplab.config import TrainConfig
from mlplab.data.dataset import Dataset
from mlplab.models.build import build_model
from mlplab.training.fit import fit
from mlplab.training.history import History


class _MLPBase(BaseEstimator):
    """Shared parameters and the training/forward passes of both estimators."""

    def __init__(self, hidden=(100,), activation="relu", dropout=0.0, init="default", optimizer="adam",
                 lr=0.001, momentum=0.0, weight_decay=0.0, epochs=200, batch_size=200, seed=0, device="cpu",
                 impl="torch", early_stopping=None, validation_fraction=0.1, numeric_embedding=0):
        self.hidden = hidden
        self.activation = activation
        self.dropout = dropout
        self.init = init
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.seed = seed
        self.device = device
        self.impl = impl
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.numeric_embedding = numeric_embedding

    def _config(self) -> TrainConfig:
        params = self.get_params()
        if isinstance(params["hidden"], (int, np.integer)):
            params["hidden"] = (int(params["hidden"]),)
        params.pop("validation_fraction")
        return TrainConfig().replace(**params)

    def _train(self, x: np.ndarray, y: torch.Tensor, task: str, output_size: int) -> None:
        config = self._config()
        # the rows as given (scale them in a Pipeline, as for scikit-learn's own MLP); a validation share is
        # held out only for early stopping
        held_out = self.validation_fraction if config.early_stopping is not None else 0.0
        data = Dataset.from_arrays(x, y, task=task, val_fraction=held_out, seed=config.seed, standardize=False,
                                   class_names=[str(i) for i in range(output_size)] if task == "multiclass" else None)
        self.model_: nn.Module = build_model(config, data.input_shape, task, output_size)
        self.history_: History = fit(self.model_, data, config)
        self.loss_curve_ = self.history_.column("train_loss")
        self.n_iter_ = len(self.loss_curve_)

    @torch.no_grad()
    def _forward(self, X) -> np.ndarray:
        """The model's raw outputs (N, C) in eval mode, without gradients, computed in float64.

        float64 makes a row's output independent of the other rows in the batch (float32 matrix products
        round differently for different batch sizes), as scikit-learn's subset-invariance check requires.
        """
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        model = copy.deepcopy(self.model_).double().eval()
        dev = next(model.parameters()).device
        x = torch.from_numpy(np.array(X, dtype=np.float64)).to(dev)           # (N, D)
        return model(x).cpu().numpy()                                         # (N, C)


class MLPClassifier(ClassifierMixin, _MLPBase):
    """An mlplab MLP with softmax outputs and cross-entropy; ``classes_`` holds the labels seen at ``fit``."""

    def fit(self, X, y) -> MLPClassifier:
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes in y; got 1 class "
                             f"({self.classes_[0]!r})")
        target = torch.as_tensor(encoder.transform(y), dtype=torch.int64)    # (N,) class indices
        self._train(X, target, "multiclass", len(self.classes_))
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (N, n_classes): the softmax of the logits, columns in ``classes_`` order."""
        logits = self._forward(X)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        logits = self._forward(X)  # checks the estimator is fitted before classes_ is read
        return self.classes_[np.argmax(logits, axis=1)]


class MLPRegressor(RegressorMixin, _MLPBase):
    """An mlplab MLP with linear outputs and MSE; one output per target column (multi-output allowed)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y) -> MLPRegressor:
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=[np.float64, np.float32])
        self._y_ndim = np.ndim(y)
        target = torch.as_tensor(np.array(y, dtype=np.float32).reshape(len(y), -1))  # (N, T)
        self._train(X, target, "regression", target.shape[1])
        return self

    def predict(self, X) -> np.ndarray:
        out = self._forward(X)                                                # (N, T)
        return out[:, 0] if self._y_ndim == 1 else out

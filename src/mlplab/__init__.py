"""mlplab: build, train, inspect and compare neural networks, and see why each piece works.

>>> import numpy as np, mlplab
>>> x = np.random.default_rng(0).normal(size=(300, 5)); y = (x[:, 0] + x[:, 1] > 0).astype(int)
>>> run = mlplab.train(mlplab.Dataset.from_arrays(x, y), epochs=5, progress="quiet")
>>> run.predict(x[:3]).tolist(), run.metrics["backprop"]
([1, 0, 0], 'autograd')
"""

from mlplab.config import TrainConfig, load_config
from mlplab.data.dataset import Dataset
from mlplab.data.load import load_dataset
from mlplab.models.build import build_model
from mlplab.models.mlp import MLP
from mlplab.runs.run import Run, load_run
from mlplab.runs.train import train
from mlplab.training.callbacks import Callback, EarlyStopping
from mlplab.training.fit import evaluate, fit
from mlplab.training.history import History

__all__ = ["MLP", "Callback", "Dataset", "EarlyStopping", "History", "Run", "TrainConfig", "build_model",
           "evaluate", "fit", "load_config", "load_dataset", "load_run", "train"]
__version__ = "0.2.0"

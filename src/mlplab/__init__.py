"""mlplab: build, train, inspect and compare multilayer perceptrons."""

from mlplab.config import TrainConfig, load_config
from mlplab.data.load import Dataset, load_dataset
from mlplab.training.fit import History, evaluate, fit
from mlplab.models.mlp import MLP
from mlplab.runs.run import Run, build_model, train

__all__ = ["MLP", "Dataset", "History", "Run", "TrainConfig", "build_model", "evaluate", "fit", "load_config",
           "load_dataset", "train"]
__version__ = "0.1.0"

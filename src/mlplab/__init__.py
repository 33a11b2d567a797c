"""mlplab: build, train, inspect and compare multilayer perceptrons."""

from .config import TrainConfig, load_config
from .data import Dataset, load_dataset
from .fit import History, evaluate, fit
from .model import MLP
from .run import Run, build_model, train

__all__ = ["MLP", "Dataset", "History", "Run", "TrainConfig", "build_model", "evaluate", "fit", "load_config",
           "load_dataset", "train"]
__version__ = "0.1.0"

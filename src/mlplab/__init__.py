"""mlplab: build, train, inspect and compare neural networks, and see why each piece works.

>>> import numpy as np, mlplab
>>> x = np.random.default_rng(0).normal(size=(300, 5)); y = (x[:, 0] + x[:, 1] > 0).astype(int)
>>> run = mlplab.train(mlplab.Dataset.from_arrays(x, y), epochs=5, progress="quiet")
>>> run.predict(x[:3]).shape
(3,)

The public names, each from the module that defines it; a module is imported when one of its names is
first used, so ``import mlplab`` (and the CLI, and ``mlplab.sklearn``) loads only what it needs.
"""

import importlib

_EXPORTS = {
    "TrainConfig": "mlplab.config", "load_config": "mlplab.config",
    "Dataset": "mlplab.data.dataset", "load_dataset": "mlplab.data.load",
    "MLP": "mlplab.models.mlp", "build_model": "mlplab.models.build",
    "fit": "mlplab.training.fit", "evaluate": "mlplab.training.fit", "History": "mlplab.training.history",
    "Callback": "mlplab.training.callbacks", "EarlyStopping": "mlplab.training.callbacks",
    "train": "mlplab.runs.train", "Run": "mlplab.runs.run", "load_run": "mlplab.runs.run",
}
__all__ = sorted(_EXPORTS)
__version__ = "0.2.0"


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # looked up once
        return value
    raise AttributeError(f"module 'mlplab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])

"""Checkpoints: one safetensors file per run folder, rewritten atomically after every epoch.

``<run>/checkpoint.safetensors`` holds every tensor of the run's state (model weights, optimizer buffers,
RNG states) and, in its JSON metadata, everything else: the epoch, the history so far, the config, the
optimizer's non-tensor structure (param groups, step counts that are plain numbers) and the numpy/python
RNG states. One file means one atomic switch: a crash or SIGKILL while saving leaves the previous checkpoint
whole (``rundir.atomic_write``: temporary file, fsync, rename). Nothing here unpickles: safetensors holds raw
tensor bytes, metadata is JSON, so a file that is not a checkpoint is refused, never executed.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from mlplab.config import TrainConfig, load_config
from mlplab.runs.failures import deferred_interrupt
from mlplab.runs.rundir import not_a_run, write_bytes
from mlplab.runs.sealed import CorruptFile, seal, unseal
from mlplab.training.callbacks import Callback
from mlplab.training.fit import History
from mlplab.training.state import TrainState

FILE = "checkpoint.safetensors"
FORMAT = "mlplab-checkpoint-2"         # with digests of every tensor and of the metadata (mlplab.runs.sealed)
LEGACY = "mlplab-checkpoint-1"         # before digests: read unchecked
LEGACY_KEYS = {"format", "epoch", "config", "history", "optimizer", "rng"}


@dataclass
class Checkpoint:
    epoch: int                       # epochs completed
    config: TrainConfig
    history: History                 # the record
    state: TrainState                # the weights the model does not hold (early stopping's best, ema's)
    model: dict[str, Tensor]         # the model's state_dict
    optimizer: dict                  # the optimizer's state_dict, as torch.optim.Optimizer.state_dict() gives it
    rng: dict                        # see capture_rng
    pins: dict | None = None         # data_pins: the table files the run trains on, fingerprinted


# ---- optimizer state_dict <-> (tensors, JSON) -------------------------------------------------------------

def _encode(value, prefix: str, tensors: dict[str, Tensor]):
    """JSON-able structure of ``value``; tensors go to ``tensors[prefix...]`` and leave a reference."""
    if isinstance(value, Tensor):
        tensors[prefix] = value.detach().cpu().contiguous().clone()
        return {"__tensor__": prefix}
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k, f"{prefix}/k{i}", tensors), _encode(v, f"{prefix}/{i}", tensors)]
                             for i, (k, v) in enumerate(value.items())]}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, f"{prefix}/{i}", tensors) for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot checkpoint optimizer state value {value!r} of type {type(value).__name__}")


def _decode(value, tensors: dict[str, Tensor]):
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if isinstance(value, dict):
        if "__tensor__" in value:
            return tensors[value["__tensor__"]]
        if "__tuple__" in value:
            return tuple(_decode(v, tensors) for v in value["__tuple__"])
        return {_decode(k, tensors): _decode(v, tensors) for k, v in value["__dict__"]}
    return value


# ---- RNG states -------------------------------------------------------------------------------------------

def capture_rng() -> dict:
    """torch CPU (and every CUDA device's), numpy and python ``random`` states."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"torch_cpu": torch.get_rng_state(), "python": random.getstate(),
             "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss)}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["torch_cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch_cpu"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "torch_cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["torch_cuda"][:torch.cuda.device_count()])


# ---- the data a run trained on, pinned ------------------------------------------------------------------------

WHOLE = 64 << 20   # files up to this size are hashed whole
BLOCK = 1 << 20    # larger ones: 16 blocks of this size spread evenly over the file, first and last included


def fingerprint(path: str | Path) -> dict:
    """``{"path": absolute path, "size": bytes, "blake2b": digest}`` of a data file, cheap on large files.

    Files up to 64 MiB are hashed whole; a larger one has 16 blocks of 1 MiB hashed (the first, the last and
    14 between, evenly spaced) together with its size, so an edit that keeps the size and touches only bytes
    between those blocks goes unseen there: a changed size, row order, scaling or category of any sampled row
    does not.
    """
    import hashlib
    import os

    path = Path(path).resolve()
    size = path.stat().st_size
    h = hashlib.blake2b(digest_size=20)
    h.update(str(size).encode())
    with open(path, "rb") as f:
        if size <= WHOLE:
            for block in iter(lambda: f.read(BLOCK), b""):
                h.update(block)
        else:
            for i in range(16):
                h.update(os.pread(f.fileno(), BLOCK, (size - BLOCK) * i // 15))
    return {"path": str(path), "size": size, "blake2b": h.hexdigest()}


def data_pins(config: TrainConfig) -> dict:
    """The fingerprints of the run's table files (``data``, ``test``) as they are now."""
    return {key: fingerprint(getattr(config, key)) for key in ("data", "test")
            if isinstance(getattr(config, key), str) and Path(getattr(config, key)).is_file()}


def check_pins(run_dir: Path, pins: dict) -> None:
    """Refuse to resume on a table file that moved, vanished or changed since the run began, naming it."""
    for key, pin in pins.items():
        path = Path(pin["path"])
        if not path.is_file():
            raise ValueError(f"cannot resume {run_dir}: its --{key} file {path} is gone; the run must continue on "
                             "the very rows it began with: put the file back there, or train a new run")
        if fingerprint(path) != pin:
            raise ValueError(f"cannot resume {run_dir}: its --{key} file {path} changed since the run began (size "
                             f"or content differ from the fingerprint in its checkpoint); resuming would refit "
                             "the preprocessing on other rows: restore the file, or train a new run on it")


# ---- save / load ------------------------------------------------------------------------------------------

def save_checkpoint(run_dir: str | Path, *, config: TrainConfig, history: History, model: nn.Module,
                    opt: torch.optim.Optimizer, state: TrainState | None = None, pins: dict | None = None) -> Path:
    """Write ``run_dir/checkpoint.safetensors`` atomically; returns its path."""
    state = TrainState() if state is None else state
    tensors = {f"model/{k}": v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    for k, v in (state.best or {}).items():  # early stopping's best weights so far
        tensors[f"best/{k}"] = v.detach().cpu().contiguous().clone()
    for i, v in enumerate(state.ema or ()):  # with ema: the training weights (the model holds the average)
        tensors[f"ema/{i}"] = v.detach().cpu().contiguous().clone()
    optimizer = _encode(opt.state_dict(), "optimizer", tensors)
    rng = _encode(capture_rng(), "rng", tensors)
    epoch = history.rows[-1]["epoch"] if history.rows else 0
    metadata = {"format": FORMAT, "epoch": str(epoch), "config": json.dumps(config.to_dict()),
                "history": json.dumps(history.rows), "optimizer": json.dumps(optimizer), "rng": json.dumps(rng)}
    if pins:
        metadata["pins"] = json.dumps(pins)
    return write_bytes(Path(run_dir) / FILE, seal(tensors, metadata))


def load_checkpoint(run_dir: str | Path) -> Checkpoint | None:
    """The checkpoint in ``run_dir``, or None when the run stopped before its first epoch ended.

    Anything that is not an mlplab safetensors checkpoint (a pickle, a truncated file) raises ValueError.
    """
    path = Path(run_dir) / FILE
    if not path.exists():
        return None
    restart = "delete it to restart the run from scratch (or train a new run)"
    try:
        tensors, meta = unseal(path, required=False)
        if meta.get("format") == LEGACY and set(meta) == LEGACY_KEYS:
            pass  # written before digests existed
        elif meta.get("format") != FORMAT or "digests" not in meta:
            raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT!r}")
        config = TrainConfig().replace(**json.loads(meta["config"]))
        rows = json.loads(meta["history"])
        rng = _decode(json.loads(meta["rng"]), tensors)
        optimizer = _decode(json.loads(meta["optimizer"]), tensors)
        epoch = int(meta["epoch"])
        pins = json.loads(meta["pins"]) if "pins" in meta else None
        if pins is not None and not all(isinstance(p, dict) and {"path", "size", "blake2b"} <= set(p)
                                        for p in pins.values()):
            raise ValueError("its data fingerprints do not parse")
    except CorruptFile as e:
        raise ValueError(f"{e}; {restart}") from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        raise ValueError(f"{path} is not a valid mlplab checkpoint ({type(e).__name__}: {e}); mlplab only reads its own safetensors "
                         f"checkpoints and never unpickles files; {restart}") from None
    kind, keys, pos, has_gauss, gauss = rng["numpy"]
    rng["numpy"] = (kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss)
    model = {k.removeprefix("model/"): v for k, v in tensors.items() if k.startswith("model/")}
    best = {k.removeprefix("best/"): v for k, v in tensors.items() if k.startswith("best/")}
    ema = [tensors[f"ema/{i}"] for i in range(sum(k.startswith("ema/") for k in tensors))]
    return Checkpoint(epoch, config, History(rows), TrainState(best or None, ema or None), model,
                      optimizer, rng, pins)


# ---- resuming: which settings may change -----------------------------------------------------------------

MAY_CHANGE = ("epochs", "device", "data_dir", "out", "checkpoint_every")  # where and how long, never what is trained


def effective(config: TrainConfig, key: str):
    """The value ``key`` takes in training: an unset val_fraction or loss is the dataset's default."""
    from mlplab.data.load import BUNDLED, IMAGES
    from mlplab.training.losses import TASK_LOSSES

    value = getattr(config, key)
    if value is None and key == "val_fraction":
        return 0.0 if config.dataset in IMAGES else 0.2
    if value is None and key == "loss":
        task = BUNDLED[config.dataset][1] if config.dataset in BUNDLED else (
            "multiclass" if config.dataset in IMAGES else "regression")
        return TASK_LOSSES[task][0]
    return value


def conflicts(saved: TrainConfig, config: TrainConfig) -> list[str]:
    """The config keys whose effective values differ and may not change on resume."""
    return [k for k in TrainConfig.__dataclass_fields__
            if k not in MAY_CHANGE and effective(saved, k) != effective(config, k)]


def folder_kind(run_dir: Path) -> str | None:
    """What a folder that is not a single run is (a compare or cv folder), else None."""
    if (run_dir / "compare.json").is_file():
        return "a compare folder (written by mlplab compare)"
    if any((run_dir / name).exists() for name in ("cv.json", "folds.csv", "fold1")):
        return "a cross-validation folder (written by mlplab cv)"
    return None


def saved_run(run_dir: str | Path) -> tuple[TrainConfig, Checkpoint | None]:
    """The config a run folder was trained with, and its checkpoint (None before its first epoch ended)."""
    run_dir = Path(run_dir)
    kind = folder_kind(run_dir)
    if kind is not None:
        raise ValueError(f"cannot resume {run_dir}: it is {kind}, not a run; resume one of the run folders "
                         "inside it, or run that command again")
    if not (run_dir / "config.toml").is_file():
        raise not_a_run(run_dir, "pass the folder that `mlplab train` printed as 'run folder: ...'")
    checkpoint = load_checkpoint(run_dir)
    if checkpoint is None:
        trained = [n for n in ("history.csv", "model.safetensors") if (run_dir / n).exists()]
        if trained:
            raise ValueError(f"cannot resume {run_dir}: its {FILE} is missing but the run has trained "
                             f"({' and '.join(trained)} exist), so it cannot continue where it stopped; train it "
                             f"again as a new run: mlplab train --config {run_dir / 'config.toml'}")
    if checkpoint is None:
        return load_config(run_dir / "config.toml"), None
    written = load_config(run_dir / "config.toml")
    differ = [k for k in conflicts(written, checkpoint.config) if k not in ("data", "test")]
    if differ:
        raise ValueError(f"cannot resume {run_dir}: its config.toml and its {FILE} disagree on {', '.join(differ)} "
                         "(one of them was edited or copied from another run); restore the run's own files, or "
                         "train a new run")
    if checkpoint.pins:  # where the files are, as absolute paths: resuming from any folder reads the same file
        check_pins(run_dir, checkpoint.pins)
        checkpoint.config = checkpoint.config.replace(**{k: p["path"] for k, p in checkpoint.pins.items()})
    return checkpoint.config, checkpoint


def check_resume(run_dir: str | Path, config: TrainConfig) -> Checkpoint | None:
    """The checkpoint to continue ``run_dir`` with ``config``; ValueError naming any key that may not change."""
    from mlplab.training.device import check_device

    saved, checkpoint = saved_run(run_dir)
    check_device(config.device)
    differ = conflicts(saved, config)
    if differ:
        detail = "; ".join(f"{k}: saved {effective(saved, k)!r}, given {effective(config, k)!r}" for k in differ)
        raise ValueError(f"cannot resume {run_dir}: {', '.join(differ)} differ from the saved run ({detail}); "
                         f"only {', '.join(MAY_CHANGE)} may change on resume; start a new run instead")
    if getattr(saved, "schedule", "none") != "none" and config.epochs != saved.epochs:
        raise ValueError(f"cannot resume {run_dir} with epochs={config.epochs}: its lr schedule "
                         f"{saved.schedule!r} spans its {saved.epochs} epochs; resume without --epochs")
    if checkpoint and config.epochs < checkpoint.epoch:
        raise ValueError(f"cannot resume {run_dir} with epochs={config.epochs}: it has already trained "
                         f"{checkpoint.epoch} epochs; pass --epochs {checkpoint.epoch} or more")
    return checkpoint


def resume_config(run_dir: str | Path, overrides: dict) -> TrainConfig:
    """The saved config of ``run_dir`` with ``overrides`` applied; conflicting overrides raise ValueError."""
    config = saved_run(run_dir)[0].replace(**overrides)
    check_resume(run_dir, config)
    return config


# ---- saving after every epoch, never cut in half by Ctrl-C ----------------------------------------------------

class Checkpointer(Callback):
    """``fit`` callback: save a checkpoint of the run after its first epoch, then once ``every`` seconds
    (``config.checkpoint_every``; 0: every epoch) have passed since the last save, and after its last epoch (the
    epochs run out, or early stopping stops); ``epoch`` is the last one saved. A checkpoint costs a few tens of
    milliseconds, more than a small table's epoch; a SIGKILL or Ctrl-C loses at most ``every`` seconds.
    """

    def __init__(self, run_dir: str | Path, config: TrainConfig, epoch: int = 0, state: TrainState | None = None,
                 pins: dict | None = None, every: float | None = None):
        self.run_dir, self.config, self.epoch = Path(run_dir), config, epoch
        self.every = config.checkpoint_every if every is None else every
        self.saved_at: float | None = None  # time.monotonic() of this process's last save
        self.state = TrainState() if state is None else state  # fit's: early stopping's best weights, ema's
        self.pins = data_pins(config) if pins is None else pins  # taken as training starts, kept on resume

    def on_epoch_end(self, epoch: int, history: History, model: nn.Module, opt: torch.optim.Optimizer) -> None:
        last = epoch >= self.config.epochs or history.stopped_epoch == epoch
        if not (last or self.saved_at is None or time.monotonic() - self.saved_at >= self.every):
            return
        with deferred_interrupt():
            save_checkpoint(self.run_dir, config=self.config, history=history, model=model, opt=opt, state=self.state,
                            pins=self.pins)
            self.epoch, self.saved_at = epoch, time.monotonic()

"""Compare settings: train every point of a grid over config keys for several seeds, then overlay and tabulate.

``compare(base, {"optimizer": ["sgd", "adam"], "lr": [0.01, 0.1]}, seeds=3)`` trains 2 × 2 × 3 runs and
writes one folder::

    <out>/<time>-compare-<dataset>/
        optimizer=sgd,lr=0.01/seed0/<run folder>   ... every member run, as ``mlplab train`` writes it
                                                   (folder names sanitised: see folder_names)
        compare_<metric>.png                       one per history column: mean over seeds, min–max band
        table.md, table.csv                        final metrics, mean ± std (sample std) over seeds
        members.csv, compare.json                  which run is which; the grid, seeds and base config

Seeds are ``base.seed, base.seed + 1, ...``; a seed sets the init, the data order and the dropout masks. The
data split stays the same for every member (``data_seed`` = the base seed), so the ± std is the spread of
training itself, not mixed with the luck of the split (``mlplab cv`` measures that).
"""

from __future__ import annotations

import itertools
import re
import time
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

from mlplab.config import TrainConfig, given_keys
from mlplab.data.load import as_file
from mlplab.experiments import tables
from mlplab.experiments.study_folder import unfinished
from mlplab.plots import figures as plots
from mlplab.runs.run import Run
from mlplab.runs.rundir import fresh_folders, new_run_dir, write_json, write_text
from mlplab.runs.train import prepare, train
from mlplab.settings import Settings
from mlplab.training.progress import Heartbeat, overall

MAX_SEEDS = 10_000
NOT_GRIDDED = {"seed": "use --seeds N for several seeds", "out": "use --out for the parent folder"}


def _hints() -> dict:
    return typing.get_type_hints(TrainConfig)


def _scalar(key: str, text: str, kind):
    if kind is str:
        return text
    if kind is bool:
        if text.lower() in ("true", "yes", "1"):
            return True
        if text.lower() in ("false", "no", "0"):
            return False
        raise ValueError(f"--grid {key}: {text!r} is not true/false")
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"--grid {key}: {text!r} is not {'an integer' if kind is int else 'a number'}") from None


def parse_value(key: str, text: str):
    """One grid value as config key ``key``'s type: ``"0.1"`` → 0.1 for lr, ``"256/256"`` → (256, 256) for hidden.

    Per-layer lists separate their items with ``/`` (the comma separates grid values); ``none`` unsets an
    optional key.
    """
    hint = _hints()[key]
    if typing.get_origin(hint) is tuple:
        inner = typing.get_args(hint)[0]
        return tuple(_scalar(key, t.strip(), inner) for t in text.split("/"))
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if text.lower() == "none":
            return None
        return _scalar(key, text, args[0])
    return _scalar(key, text, hint)


def parse_grid(specs: list[str]) -> dict[str, list]:
    """``["optimizer=sgd,adam", "lr=0.01,0.1"]`` → ``{"optimizer": ["sgd", "adam"], "lr": [0.01, 0.1]}``.

    >>> parse_grid(["hidden=64,128/128", "lr=0.1"])
    {'hidden': [(64,), (128, 128)], 'lr': [0.1]}
    """
    valid = [f.name for f in fields(TrainConfig) if f.name not in NOT_GRIDDED]
    grid: dict[str, list] = {}
    for spec in specs:
        key, eq, values = spec.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or not values.strip():
            raise ValueError(f"--grid takes KEY=V1,V2,... e.g. --grid optimizer=sgd,adam; got {spec!r}")
        if key in NOT_GRIDDED:
            raise ValueError(f"--grid {key}: {NOT_GRIDDED[key]}")
        if key not in valid:
            raise ValueError(f"unknown config key {key!r} in --grid; valid keys: {', '.join(valid)}")
        if key in grid:
            raise ValueError(f"--grid {key} given twice; list all its values once: --grid {key}=V1,V2")
        texts = [v.strip() for v in values.split(",")]
        if not all(texts):
            raise ValueError(f"--grid {key}: empty value in {spec!r}; list values without empty items, e.g. "
                             f"--grid {key}=V1,V2")
        grid[key] = [parse_value(key, v) for v in texts]
        twice = sorted({display(v) for v in grid[key] if grid[key].count(v) > 1})
        if twice:
            raise ValueError(f"--grid {key}: value(s) {', '.join(twice)} given more than once in {spec!r}; "
                             "list each value once (use --seeds N to repeat a setting)")
    return grid


def display(value) -> str:
    """A grid value as written on the command line: tuples joined by ``/``."""
    if isinstance(value, tuple):
        return "/".join(str(v) for v in value)
    return "none" if value is None else str(value)


def settings(grid: dict[str, list]) -> list[dict]:
    """Every combination of the grid's values, the first key varying slowest; ``[{}]`` for an empty grid."""
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def label(setting: dict) -> str:
    """``optimizer=adam,lr=0.1`` (``base`` for the empty setting): the legend entry."""
    return ",".join(f"{k}={display(v)}" for k, v in setting.items()) or "base"


def folder_names(points: list[dict]) -> list[str]:
    """A folder name per setting: its label with anything but letters, digits and ``=,.+-`` made ``_``, no
    ``..``, no leading dot, at most 100 characters, unique (``-2``, ``-3``, ...). ``hidden=256/256`` becomes
    ``hidden=256_256``; a value like ``x/../../ESCAPED`` can never name a folder outside the compare folder.
    """
    names: list[str] = []
    for setting in points:
        name = re.sub(r"[^A-Za-z0-9=,.+-]", "_", label(setting))
        name = re.sub(r"\.{2,}", "_", name).lstrip(".")[:100] or "setting"
        unique, i = name, 2
        while unique in names:
            unique, i = f"{name}-{i}", i + 1
        names.append(unique)
    return names


@dataclass
class Comparison:
    path: Path
    settings: list[dict]
    seeds: list[int]
    runs: list[list[Run]]  # [setting][seed]
    table: str             # markdown


def member_keys(base: Settings | TrainConfig, grid: dict[str, list], seeds: int) -> list[list[dict]]:
    """Every member's keys: the base's, the grid point's, its seed; one data split for all (``data_seed``)."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be a positive integer, e.g. --seeds 3; got {seeds!r}")
    keys = dict(base.keys) if isinstance(base, Settings) else given_keys(base)
    seed = keys.get("seed", TrainConfig.seed)
    if seeds > MAX_SEEDS or seed + seeds > 2**32:
        raise ValueError(f"seeds must be at most {MAX_SEEDS} and --seed + seeds - 1 at most 2**32 - 1; got seeds "
                         f"{seeds} from --seed {seed}")
    split = {} if "data_seed" in keys else {"data_seed": seed}
    return [[{**keys, **point, "seed": seed + i, **(split if i else {})} for i in range(seeds)]
            for point in settings(grid)]


def check(base: Settings | TrainConfig, grid: dict[str, list], seeds: int) -> tuple[list[list[dict]], TrainConfig]:
    """Every member's keys, each setting prepared (settings, data, model, optimizer, device) before any file is
    written; and the first member's resolved config."""
    members = member_keys(base, grid, seeds)
    configs = []
    for point, row in zip(settings(grid), members):
        try:
            configs.append(prepare(**as_file(row[0])).config)
        except (TypeError, ValueError) as e:
            raise type(e)(f"setting {label(point)}: {e}") from None
    return members, configs[0]


def compare(base: Settings | TrainConfig, grid: dict[str, list], seeds: int = 1, *, progress: str = "quiet",
            log: Callable[[str], None] | None = None, spread: dict | None = None) -> Comparison:
    """Train every grid setting for ``seeds`` seeds under a new ``<out>/<time>-compare-<dataset>`` folder; each
    member is a run like ``mlplab train`` (mlplab.runs.train), its settings resolved from the base's keys, the
    grid point and its seed. ``spread`` (``workers``, ``storage``, ``study``): the members as a study that
    local worker processes, or workers on other machines, share (mlplab.experiments.grid_study)."""
    members_keys, config = check(base, grid, seeds)
    points = settings(grid)
    seed_list = [config.seed + i for i in range(seeds)]
    done: list[Path] = []  # the members finished, in order

    def note() -> str:
        finished = f"{len(done)} of {len(points) * seeds}" if spread is None else "the"
        return (f"has {finished} members finished (no table yet: run the comparison again, or resume that member "
                "and compare by hand)")

    with fresh_folders(config.out):
        path = new_run_dir(config.out, f"compare-{config.dataset}")
        with unfinished(path, ("compare.json", "members.csv", "table.md", "table.csv"), note):
            runs, table = _compare(path, config, grid, points, seed_list, members_keys, progress, log, spread, done)
    return Comparison(path, points, seed_list, runs, table)


def _compare(path: Path, config: TrainConfig, grid: dict[str, list], points: list[dict], seed_list: list[int],
             members_keys: list[list[dict]], progress: str, log, spread: dict | None, done: list) -> tuple[list, str]:
    """Fill the comparison folder ``path``: every member, then members.csv, the tables and the overlays;
    ``done`` gets one entry per member finished."""
    write_json(path / "compare.json", {"grid": {k: [display(v) for v in vs] for k, vs in grid.items()},
                                       "seeds": seed_list, "base": config.to_dict()})
    runs: list[list[Run]] = []
    members = []
    total, started = len(points) * len(seed_list), time.perf_counter()
    if spread is not None:
        runs, members = spread_members(path, points, members_keys, spread, log)
    else:
        for setting, name, row in zip(points, folder_names(points), members_keys):
            runs.append([])
            for keys in row:
                folder = path / name / f"seed{keys['seed']}"
                if not folder.resolve().is_relative_to(path.resolve()):  # folder_names makes this impossible
                    raise ValueError(f"setting {label(setting)} would write outside {path}")
                name_it = f"[{len(done) + 1}/{total}] {label(setting)} seed {keys['seed']}"
                beat = [] if log is None else [Heartbeat(name_it, log)]
                run = train(**{**keys, "out": str(folder)}, write=True, progress=progress, callbacks=beat)
                runs[-1].append(run)
                members.append([label(setting), keys["seed"], str(run.path.relative_to(path))])
                done.append(run.path)
                if log is not None:
                    short = {k: v for k, v in run.metrics.items() if k.startswith(("test_", "val_"))}
                    log(f"[{len(done)}/{total}] {label(setting)} seed {keys['seed']}: "
                        + "  ".join(f"{k} {v:.4f}" for k, v in short.items()) + overall(len(done), total, started))
    write_text(path / "members.csv", tables.csv_text(["setting", "seed", "run"], members))
    labels = [{k: display(v) for k, v in s.items()} or {"setting": "base"} for s in points]
    md_header, md_rows, csv_header, csv_rows = tables.summary_rows(labels, [[r.metrics for r in g] for g in runs])
    table = tables.markdown(md_header, md_rows)
    write_text(path / "table.md", table)
    write_text(path / "table.csv", tables.csv_text(csv_header, csv_rows))
    for metric in history_metrics(runs):
        curves = {label(s): [r.history.column(metric) for r in g] for s, g in zip(points, runs)}
        plots.overlay(curves, metric, path / f"compare_{metric}.png",
                      title=f"{config.dataset}: {metric}, mean over {len(seed_list)} seed(s)"
                            + (", band min–max" if len(seed_list) > 1 else ""))
    return runs, table


def history_metrics(runs: list[list[Run]]) -> list[str]:
    """The per-epoch columns every run recorded (``train_loss``, ``val_accuracy``, ...)."""
    keys = [k for k in runs[0][0].history.rows[0] if k not in ("epoch", "seconds")]
    return [k for k in keys if all(r.history.column(k) for g in runs for r in g)]


def spread_members(path: Path, points: list[dict], members_keys: list[list[dict]], spread: dict, log):
    """The members trained by a study's workers (mlplab.experiments.grid_study); ``(runs, members.csv rows)``."""
    from mlplab.experiments.grid_study import train_members

    specs = [{"name": f"{name}/seed{keys['seed']}", "keys": keys, "exact": False}
             for name, row in zip(folder_names(points), members_keys) for keys in row]
    trained = iter(train_members(path, specs, log=log, **spread))
    runs = [[next(trained) for _ in row] for row in members_keys]
    members = [[label(setting), keys["seed"], str(m.path.relative_to(path)) if m.path else "(another machine)"]
               for setting, row, group in zip(points, members_keys, runs) for keys, m in zip(row, group)]
    return runs, members

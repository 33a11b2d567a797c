"""Property-based tests: random configs, TOML files, CLI argument lists and IDX bytes either work or fail with
the documented one-line error (ValueError/TypeError/OSError with a message; exit 2 from the CLI), never
another exception or a traceback. About 1,300 generated cases in all, in-process for speed.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import shutil
import struct
import tempfile
import tomllib
from pathlib import Path

import numpy as np
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlplab.cli.flags import settings_from_args
from mlplab.cli.main import UsageError, build_parser, main
from mlplab.config import TrainConfig, dump_config, load_config
from mlplab.data.idx import encode_idx, read_idx
from mlplab.settings import resolve


def fast(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DOCUMENTED = (ValueError, TypeError, OSError)

# ---- values a user might write, right and wrong -------------------------------------------------------------

NAMES = {
    "dataset": ["digits", "iris", "wine", "breast-cancer", "diabetes", "synthetic-linear", "polynomial", "cifar"],
    "activation": ["relu", "tanh", "sigmoid", "gelu", "swishy", ""],
    "init": ["default", "normal:0.01", "xavier_uniform", "kaiming_normal", "normal:-1", "normal:x", "zeros"],
    "optimizer": ["sgd", "adam", "rmsprop", "adagrad", "adadelta", "adamax", "lion"],
    "loss": ["cross_entropy", "nll", "mse", "l1", "bce", "bce_with_logits", "hinge"],
    "impl": ["torch", "scratch", "jax"],
    "device": ["cpu", "auto", "tpu", "cuda:99"],
}
anything = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                     st.text(max_size=6), st.lists(st.integers(-3, 300), max_size=3),
                     st.lists(st.floats(-1, 2), max_size=3), st.lists(st.text(max_size=4), max_size=2))


BAD_NUMBERS = st.sampled_from([0, -1, -0.5, math.nan, math.inf, -math.inf, 2**31, 2**32, 10**30, True, "3"])
VALID = {
    "dataset": st.sampled_from(NAMES["dataset"][:-1]),
    "data_dir": st.none(),
    "val_fraction": st.one_of(st.none(), st.floats(0, 0.9)),
    "impl": st.sampled_from(["torch", "scratch"]),
    "hidden": st.lists(st.integers(1, 64), max_size=3),
    "activation": st.lists(st.sampled_from(NAMES["activation"][:4]), min_size=1, max_size=3),
    "dropout": st.lists(st.floats(0, 0.99), min_size=1, max_size=3),
    "init": st.lists(st.sampled_from(NAMES["init"][:4]), min_size=1, max_size=3),
    "bias": st.booleans(), "nesterov": st.booleans(), "numeric_embedding": st.sampled_from([0, 0, 4, 16]),
    "ema": st.one_of(st.just(0.0), st.floats(0, 0.999)),
    "optimizer": st.sampled_from(NAMES["optimizer"][:-1]),
    "lr": st.floats(1e-6, 10), "momentum": st.floats(0, 0.99), "weight_decay": st.floats(0, 1),
    "loss": st.sampled_from([None, *NAMES["loss"][:-1]]),
    "epochs": st.integers(1, 100), "batch_size": st.integers(1, 10**6), "seed": st.integers(0, 2**32 - 1),
    "device": st.sampled_from(["cpu", "auto"]), "out": st.text(min_size=1, max_size=5),
}
NEAR_MISS = {  # values a user gets almost right: unknown names, empty lists, out of range, NaN, wrong type
    **{k: st.sampled_from(v[-1:] + ["", "RELU"]) for k, v in NAMES.items()},
    "hidden": st.lists(st.one_of(st.integers(-2, 0), BAD_NUMBERS), min_size=1, max_size=3),
    "activation": st.one_of(st.just([]), st.lists(st.sampled_from(["swishy", "", "Relu"]), min_size=1)),
    "dropout": st.one_of(st.just([]), st.lists(st.one_of(st.floats(-1, 2), BAD_NUMBERS), min_size=1)),
    "init": st.one_of(st.just([]), st.lists(st.sampled_from(NAMES["init"][4:] + ["normal:"]), min_size=1)),
}


def value_for(key: str):
    """Mostly a valid value (so that one bad key is what fails), sometimes a near miss, sometimes anything."""
    valid = VALID.get(key, anything)
    bad = st.one_of(NEAR_MISS.get(key, BAD_NUMBERS), BAD_NUMBERS, anything)
    return st.integers(0, 3).flatmap(lambda i: bad if i == 0 else valid)


KEYS = list(TrainConfig.__dataclass_fields__) + ["hiden", "learning_rate"]
overrides = st.lists(st.sampled_from(KEYS), max_size=5, unique=True).flatmap(
    lambda keys: st.fixed_dictionaries({k: value_for(k) for k in keys}))


def one_line_message(e: BaseException, keys=()) -> None:
    assert isinstance(e, DOCUMENTED), f"{type(e).__name__}: {e}"
    text = str(e)
    assert text.strip() and "\n" not in text and len(text) < 800, text  # an unknown key lists the 60 keys
    if keys:  # the message names the setting at fault
        assert any(k.split("_")[0] in text for k in keys), (keys, text)


@fast(400)
@given(overrides)
def test_random_config_overrides(values):
    """Through settings.resolve, the one place names (optimizer, activation, device, ...) are checked."""
    try:
        config = resolve(values).config
    except DOCUMENTED as e:
        one_line_message(e, keys=list(values))
        return
    for key in ("lr", "epochs", "batch_size"):
        assert getattr(config, key) > 0
    assert all(w > 0 for w in config.hidden) and all(0 <= p < 1 for p in config.dropout)
    assert math.isfinite(config.lr)
    # a valid config survives its own TOML
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.toml"
        path.write_text(dump_config(config))
        assert load_config(path) == config


toml_values = st.one_of(st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                        st.text(max_size=6), st.lists(st.integers(-3, 64), max_size=3),
                        st.lists(st.text(max_size=4), max_size=2), st.dictionaries(st.text(max_size=3),
                                                                                  st.integers(), max_size=2))
toml_docs = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), toml_values, max_size=5),
    overrides.map(lambda d: {k: v for k, v in d.items() if v is not None and not (
        isinstance(v, float) and math.isnan(v))}),
)


def no_nones(doc: dict) -> dict:
    """TOML has no null: an unset key is left out."""
    return {k: v for k, v in doc.items() if v is not None}


# Settings drawn only from VALID, so each file must load; nesterov only with a momentum, as SGD requires.
valid_toml_docs = st.lists(st.sampled_from(list(VALID)), max_size=8, unique=True).flatmap(
    lambda keys: st.fixed_dictionaries({k: VALID[k] for k in keys})).map(no_nones).map(
    lambda d: {**d, "nesterov": d.get("nesterov", False) and d.get("momentum", 0) > 0} if "nesterov" in d else d)


def _as_read(got, want):
    """``want`` as a float field holds it: an integer becomes the nearest float."""
    return float(want) if type(want) is int and type(got) is float else want


def assert_loads_as_written(config: TrainConfig, written: dict) -> None:
    """Each field is the value the file set (TOML lists, or one bare value, as tuples; an integer where a
    number goes reads as that float), every other field its default."""
    default = TrainConfig()
    for name in TrainConfig.__dataclass_fields__:
        got = getattr(config, name)
        if name not in written:
            assert got == getattr(default, name), (name, got)
            continue
        want = written[name]
        if isinstance(getattr(default, name), tuple):
            want = tuple(want) if isinstance(want, list) else (want,)
        as_read = tuple(map(_as_read, got, want)) if isinstance(want, tuple) else _as_read(got, want)
        assert got == as_read, (name, got, want)  # 10**30 where a float goes reads as 1e30, not equal to it
        if isinstance(want, tuple):
            assert isinstance(got, tuple) and all(type(g) is type(w) or (type(w) is int and type(g) is float)
                                                  for g, w in zip(got, want, strict=True)), (name, got, want)
        else:  # True == 1 and 1 == 1.0 in Python: the type must match too
            assert type(got) is type(want) or (type(want) is int and type(got) is float), (name, got, want)


@fast(200)
@given(toml_docs, st.booleans())
def test_random_toml_config_files(doc, garble):
    """A random file either loads as exactly what it says or fails with one line naming the problem."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.toml"
        text = tomli_w.dumps(doc)
        path.write_text(text[: len(text) // 2] if garble else text)
        try:
            config = load_config(path)
        except DOCUMENTED as e:
            one_line_message(e)
            return
        # what half a file still says, read by the standard library's parser
        assert_loads_as_written(config, tomllib.loads(path.read_text()) if garble else doc)


@fast(150)
@given(valid_toml_docs)
def test_valid_random_toml_config_files_load_exactly(doc):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.toml"
        path.write_text(tomli_w.dumps(doc))
        assert_loads_as_written(load_config(path), doc)


# ---- command lines ----------------------------------------------------------------------------------------

FLAG_VALUES = {
    "--dataset": st.sampled_from(["iris", "wine", "diabetes", "breast-cancer", "polynomial", "cifar"]),
    "--impl": st.sampled_from(NAMES["impl"]),
    "--hidden": st.sampled_from(["8", "4,4", "0", "-1", "2.5", "x", "", "3,", "16,8,4"]),
    "--activation": st.sampled_from(["relu", "tanh,relu", "swishy", "relu,relu,relu,relu"]),
    "--dropout": st.sampled_from(["0", "0.2", "1", "-0.1", "0.1,0.2", "x"]),
    "--init": st.sampled_from(["default", "normal:0.01", "xavier_uniform", "bogus", "normal:-1"]),
    "--loss": st.sampled_from(NAMES["loss"]),
    "--numeric-embedding": st.sampled_from(["0", "4", "16", "-1", "1.5", "x"]),
    "--optimizer": st.sampled_from(NAMES["optimizer"]),
    "--lr": st.sampled_from(["0.01", "0.1", "0", "-1", "nan", "inf", "1e-3", "x"]),
    "--momentum": st.sampled_from(["0", "0.9", "-0.5", "x"]),
    "--weight-decay": st.sampled_from(["0", "1e-4", "-1"]),
    "--epochs": st.sampled_from(["1", "0", "-1", "1.5", "x"]),
    "--batch-size": st.sampled_from(["1", "16", "0", "-4", "100000"]),
    "--val-fraction": st.sampled_from(["0", "0.2", "1", "-0.1"]),
    "--seed": st.sampled_from(["0", "7", "-3", "x"]),
    "--device": st.sampled_from(["cpu", "tpu", "cuda:99"]),
    "--config": st.sampled_from(["/nonexistent/c.toml"]),
}
SWITCHES = ["--nesterov", "--no-bias", "--quiet", "--bogus-flag", "extra-positional"]
MODEL_FLAGS = ["--dataset", "--impl", "--hidden", "--activation", "--dropout", "--init", "--loss", "--config",
               "--numeric-embedding"]


@st.composite
def command_lines(draw, flags=(*FLAG_VALUES, *SWITCHES)):
    argv = []
    for flag in draw(st.lists(st.sampled_from(list(flags)), max_size=6)):
        argv.append(flag)
        if flag in FLAG_VALUES and draw(st.integers(0, 9)):  # now and then the value is missing
            argv.append(draw(FLAG_VALUES[flag]))
    return argv


def run_main(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


def assert_cli_outcome(code: int, err: str) -> None:
    assert code in (0, 2), (code, err)
    assert "Traceback" not in err
    if code == 2:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].strip() and len(lines[0]) < 600, err


@fast(350)
@given(command_lines())
def test_random_train_command_lines_parse_and_validate(argv):
    """Argument parsing and config validation, stopping before training."""
    try:
        settings_from_args(build_parser().parse_args(["train", *argv]))
    except UsageError as e:
        assert str(e).strip()
    except DOCUMENTED as e:
        one_line_message(e)


@fast(120)
@given(command_lines(flags=[*MODEL_FLAGS, "--no-bias", "--params", "--bogus-flag", "extra-positional"]))
def test_random_summary_command_lines(argv):
    assert_cli_outcome(*run_main(["summary", *argv]))


@fast(25)
@given(command_lines())
def test_random_train_command_lines_end_to_end(argv):
    """The real ``mlplab train`` in-process: tiny data, one or two epochs; exit 0 with a run folder or 2."""
    out = tempfile.mkdtemp()
    try:
        code, err = run_main(["train", "--dataset", "iris", "--epochs", "1", "--hidden", "4", "--device", "cpu",
                              "--quiet", *argv, "--out", out])
        assert_cli_outcome(code, err)
        runs = list(Path(out).iterdir())
        assert len(runs) == (1 if code == 0 else 0), (argv, err)
    finally:
        shutil.rmtree(out, ignore_errors=True)


# ---- IDX bytes --------------------------------------------------------------------------------------------

@st.composite
def idx_bytes(draw):
    """Random bytes, or a valid IDX file mutated: header fields changed, truncated, padded, bytes flipped."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=64))
    dtype = draw(st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]))
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=3)))
    raw = bytearray(encode_idx(np.zeros(shape, dtype=dtype)))
    mutation = draw(st.sampled_from(["none", "truncate", "pad", "flip", "dims", "code"]))
    if mutation == "truncate":
        raw = raw[: draw(st.integers(0, max(len(raw) - 1, 0)))]
    elif mutation == "pad":
        raw += draw(st.binary(min_size=1, max_size=8))
    elif mutation == "flip" and raw:
        i = draw(st.integers(0, len(raw) - 1))
        raw[i] ^= draw(st.integers(1, 255))
    elif mutation == "dims":
        raw[4:8] = struct.pack(">I", draw(st.integers(0, 2**32 - 1)))
    elif mutation == "code":
        raw[2] = draw(st.integers(0, 255))
    return bytes(raw), mutation


SPEC_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32, 0x0D: np.float32, 0x0E: np.float64}


@fast(300)
@given(idx_bytes(), st.booleans())
def test_random_idx_bytes(case, gzipped):
    raw, mutation = case if isinstance(case, tuple) else (case, "random")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x-idx1-ubyte"
        path.write_bytes(gzip.compress(raw) if gzipped else raw)
        try:
            array = read_idx(path)
        except ValueError as e:
            assert str(path) in str(e)
            return
    # what was read is exactly what the bytes say by the IDX spec, decoded here independently of mlplab.data.idx
    assert raw[:2] == b"\x00\x00" and raw[2] in SPEC_TYPES, (mutation, raw[:4])
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dtype = np.dtype(SPEC_TYPES[raw[2]]).newbyteorder(">")
    body = raw[4 + 4 * ndim:]
    assert array.shape == dims and len(body) == int(np.prod(dims)) * dtype.itemsize
    assert np.array_equal(array, np.frombuffer(body, dtype=dtype).reshape(dims), equal_nan=True)
    if mutation == "none":
        assert array.size == 0 or not array.any()

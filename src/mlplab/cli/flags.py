"""Flags shared by the commands that build or train a model, and the config they resolve to."""

from __future__ import annotations

import argparse
import difflib
import re
from pathlib import Path

from mlplab.config import TrainConfig


def _list(kind, what: str, allow_none: bool = False):
    """A comma-separated list; an empty item (``--hidden ''``, ``256,,256``) is refused, never dropped.

    With ``allow_none``, the one word ``none`` is the empty list: ``--hidden none`` asks for no hidden layer.
    """
    def parse(text: str):
        if allow_none and text.strip().lower() == "none":
            return []
        items = [t.strip() for t in text.split(",")]
        if not all(items):
            none = "; for none at all write 'none'" if allow_none else ""
            raise argparse.ArgumentTypeError(f"{what} must be a comma-separated list without empty items, e.g. "
                                             f"{EXAMPLES.get(what, 'a,b')}{none}; got {text!r}")
        try:
            return [kind(t) for t in items]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a comma-separated list, e.g. {EXAMPLES.get(what, 'a,b')}; "
                                             f"got {text!r}") from None
    parse.comma_list = True  # told apart by ``unrecognized``: "--hidden 256 256" gets the commas hint
    return parse


def _int_width(text: str) -> int:
    if not text.lstrip("-").isdigit():
        raise ValueError(text)
    return int(text)


def _path(what: str):
    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"{what} must be a path; got an empty string")
        return text
    return parse


EXAMPLES = {"hidden widths": "256,256", "activations": "relu,tanh", "dropout rates": "0.2,0.5",
            "init schemes": "normal:0.01", "column names": "id,name", "betas": "0.9,0.95",
            "cell texts": "NA,?"}


def add_model_flags(p: argparse.ArgumentParser) -> None:
    S = argparse.SUPPRESS  # unset flags leave the config file's (or the default) value alone
    g = p.add_argument_group("data and model")
    g.add_argument("--config", metavar="FILE.toml", type=_path("--config"), help="read settings from a TOML file; flags override it")
    g.add_argument("--dataset", default=S, help="digits (default), iris, wine, breast-cancer, diabetes, "
                   "fashion-mnist, mnist, synthetic-linear, polynomial")
    g.add_argument("--data-dir", dest="data_dir", type=_path("--data-dir"), default=S,
                   help="folder with the IDX files (else $MLPLAB_DATA, else the user cache); stored as an absolute path")
    g.add_argument("--model", default=S, help="mlp (default), cnn, lenet, rnn, lstm; each brings training defaults "
                   "that suit it (flags override them)")
    g.add_argument("--spec", default=S, help="CNN layers, e.g. conv:32:3:pad1,bn,relu,maxpool:2 (default: the "
                   "--model preset)")
    g.add_argument("--impl", default=S, choices=["torch", "scratch"], help="torch.nn (default) or from scratch")
    g.add_argument("--hidden", type=_list(_int_width, "hidden widths", allow_none=True), default=S,
                   help="hidden widths, e.g. 256,256; 'none' for no hidden layer (a linear model)")
    g.add_argument("--activation", type=_list(str, "activations"), default=S,
                   help="one, or one per hidden layer: relu, tanh, sigmoid, ...")
    g.add_argument("--dropout", type=_list(float, "dropout rates"), default=S, help="one, or one per hidden layer")
    g.add_argument("--init", type=_list(str, "init schemes"), default=S,
                   help="one, or one per affine layer: default, normal:0.01, xavier_uniform, kaiming_normal, ...")
    g.add_argument("--no-bias", dest="bias", action="store_false", default=S, help="affine layers without bias")
    g.add_argument("--bias-init", dest="bias_init", default=S,
                   help="biases: default (torch's), zeros, ones, constant:0.1, ...")
    g.add_argument("--ensemble", type=int, default=S, metavar="K",
                   help="mlp: K members sharing one MLP (TabM-mini, a per-member scaling and head each); the "
                   "prediction is their mean; 0: a plain MLP")
    g.add_argument("--numeric-embedding", dest="numeric_embedding", metavar="K", type=int, default=S,
                   help="mlp: embed each numeric column with K learned frequencies (periodic, PLR; e.g. 16) "
                   "before the first layer; 0 (default): none")
    g.add_argument("--numeric-embedding-sigma", dest="numeric_embedding_sigma", metavar="SIGMA", type=float,
                   default=S, help="mlp: the spread of those frequencies at the start (default 1; small binary tables: "
                   "0.1); smaller starts smoother")
    g.add_argument("--loss", default=S, help="cross_entropy, nll, bce_with_logits, bce, mse, l1, smooth_l1 "
                   "(default: by task)")


def add_train_flags(p: argparse.ArgumentParser) -> None:
    S = argparse.SUPPRESS
    g = p.add_argument_group("training")
    g.add_argument("--optimizer", default=S, help="sgd (default), rmsprop, adagrad, adadelta, adam, adamax")
    g.add_argument("--lr", type=float, default=S, help="learning rate")
    g.add_argument("--momentum", type=float, default=S, help="momentum (sgd, rmsprop)")
    g.add_argument("--nesterov", action="store_true", default=S, help="Nesterov momentum (sgd)")
    g.add_argument("--weight-decay", dest="weight_decay", type=float, default=S, help="L2 on weights, not biases")
    g.add_argument("--dampening", type=float, default=S, help="momentum dampening (sgd)")
    g.add_argument("--betas", type=_list(float, "betas"), default=S, metavar="B1,B2",
                   help="adam, adamax: e.g. 0.9,0.95 (default torch's 0.9,0.999)")
    g.add_argument("--eps", type=float, default=S, help="the optimizer's epsilon (default torch's)")
    g.add_argument("--alpha", type=float, default=S, help="rmsprop's smoothing constant (default 0.99)")
    g.add_argument("--rho", type=float, default=S, help="adadelta's decay (default 0.9)")
    g.add_argument("--amsgrad", action="store_true", default=S, help="adam: the AMSGrad variant")
    g.add_argument("--grad-clip", dest="grad_clip", type=float, default=S, metavar="NORM",
                   help="clip the gradients' global norm to NORM before each step (0: off)")
    g.add_argument("--epochs", type=int, default=S)
    g.add_argument("--batch-size", dest="batch_size", type=int, default=S)
    g.add_argument("--val-fraction", dest="val_fraction", type=float, default=S,
                   help="validation share (default 0.2; 0 for the image sets)")
    g.add_argument("--seed", type=int, default=S)
    g.add_argument("--device", default=S, help="auto (default: CUDA when available), cpu, cuda, cuda:N")
    g.add_argument("--out", type=_path("--out"), default=S, help="parent folder of run folders (default runs/)")
    g.add_argument("--checkpoint-every", dest="checkpoint_every", type=float, default=S, metavar="SECONDS",
                   help="save the checkpoint (and history.csv) at most this often while training (default 10; "
                   "0: every epoch); the first and last epochs are always saved")
    g.add_argument("--schedule", default=S, help="learning rate per batch: none (default), cosine, onecycle")
    g.add_argument("--augment", default=S, help="image batches: none (default), flip, shift, flip-shift")
    g.add_argument("--compile", action="store_true", default=S,
                   help="train through torch.compile (CUDA graphs on a GPU; on CPU it needs a C++ compiler)")
    g.add_argument("--amp", default=S, help="bf16: forward and loss under bfloat16 autocast")
    g.add_argument("--backprop", default=S,
                   help="auto (default: by hand where it applies, else autograd), hand, autograd")
    g.add_argument("--inspect", action="store_true", default=S,
                   help="record per-layer statistics each epoch (weight and gradient norms, update ratio, "
                   "activations, saturated and dead units) in RUN/layers.csv; mlplab plot layers RUN draws them")
    g.add_argument("--early-stop", dest="early_stopping", type=int, default=S, metavar="PATIENCE",
                   help="stop after PATIENCE epochs without improvement of --monitor; keep the best weights")
    g.add_argument("--ema", type=float, default=S, metavar="DECAY",
                   help="average the weights (exponential moving average, DECAY per step, e.g. 0.99); evaluation, "
                   "early stopping and the saved model use the average")
    g.add_argument("--monitor", default=S, help="the history column early stopping watches (default val_loss; "
                   "val_accuracy for a large classification table; binary tasks also record val_roc_auc)")


def add_table_flags(p: argparse.ArgumentParser) -> None:
    """--data FILE --target COLUMN and the table options (mlplab.data.tabular); they start from the table preset of the task (mlplab.training.presets)."""
    S = argparse.SUPPRESS
    g = p.add_argument_group("tables (train on your own CSV/TSV/Parquet file)")
    g.add_argument("--data", default=S, metavar="FILE", help="a table: .csv/.tsv (delimiter sniffed), .parquet, "
                   ".npy, .npz; settings then start from the table recipe of its task and size (adam, cosine, "
                   "early stop; under 16,384 training rows 3x256, batch 256, lr 5e-4, <=100 epochs; larger: "
                   "classification 1x256, batch 512, lr 2e-3, regression 2x64, batch 1024, lr 6e-3; periodic "
                   "numeric embeddings (sigma 1; small binary tables 0.1, large ones none); label smoothing 0.1 for binary; "
                   "mlplab.training.presets)")
    g.add_argument("--target", default=S, metavar="COLUMN", help="the column to predict")
    g.add_argument("--task", default=S, choices=["auto", "multiclass", "binary", "regression"],
                   help="default auto: from the target column (said in columns.md)")
    for flag, what in (("drop", "columns not to use"), ("categorical", "columns to one-hot encode"),
                       ("numeric", "columns to treat as numbers"), ("na-values", "more cell texts meaning missing"),
                       ("allow-leak", "columns to keep although they restate the target"),
                       ("keep", "columns to keep although they look like a row ID")):
        g.add_argument(f"--{flag}", dest=flag.replace("-", "_"), type=_list(str, "column names"), default=S,
                       metavar="A,B", help=f"{what} (comma-separated)")
    g.add_argument("--test", default=S, metavar="FILE", help="a labelled table to test on (else 20%% of --data)")
    g.add_argument("--class-weight", dest="class_weight", default=S, choices=["balanced"],
                   help="weigh class c by n / (C * n_c) in the training loss (imbalanced classes)")
    g.add_argument("--baselines", default=S, choices=["auto", "none"],
                   help="fit a linear model and HistGradientBoosting on the same split beside the net and report "
                   "their test metrics (auto: when they are cheap next to it)")
    g.add_argument("--label-smoothing", dest="label_smoothing", type=float, default=S,
                   help="classification: train on (1 - e) onehot + e / C (table default: 0.1 for binary, else 0)")


def add_study_flags(p: argparse.ArgumentParser, what: str) -> None:
    """--workers, --storage, --study: compare's members or cv's folds (``what``) as a study many processes share."""
    p.add_argument("--workers", type=int, default=1, metavar="W",
                   help=f"train the {what} in W local processes, the cores split between them (default 1)")
    p.add_argument("--storage", default=None, metavar="URL",
                   help=f"the {what} as a study in journal:PATH, sqlite:///FILE or postgresql://...: the same command "
                        f"with the same --storage and --study on other machines trains {what} of it too")
    p.add_argument("--study", default=None, metavar="NAME", help="the study's name with --storage (default: the "
                   "folder's)")


def flag_keys(args: argparse.Namespace) -> dict:
    """The config keys given as flags (unset flags are absent: argparse.SUPPRESS)."""
    return {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__}


def settings_from_args(args: argparse.Namespace):
    """The flags over the --config file over the presets, resolved (mlplab.settings.resolve) before the data
    is read; the run resolves them again with its data's preset. The device must exist on this machine."""
    from mlplab.settings import resolve
    from mlplab.training.device import check_device

    settings = resolve(flag_keys(args), file=getattr(args, "config", None))
    check_device(settings.config.device)
    return settings


def initials(name: str) -> str:
    """``learning-rate`` -> ``lr``: how a long flag is often shortened."""
    return "".join(word[0] for word in re.split(r"[-_]", name) if word)


def closest(given: str, choices) -> str | None:
    """The choice ``given`` most likely meant: the nearest spelling (difflib), or the one whose initials it is
    (``--learning-rate`` -> ``--lr``, ``--bs`` -> ``--batch-size``); None when nothing is close."""
    choices = [str(c) for c in choices]
    bare = given.lstrip("-")
    for choice in choices:
        name = choice.lstrip("-")
        if len(bare) > 1 and len(name) > 1 and name != bare and (initials(bare) == name or initials(name) == bare):
            return choice
    match = difflib.get_close_matches(given, choices, n=1, cutoff=0.6)
    return match[0] if match else None


def did_you_mean(given: str, choices) -> str:
    """``; did you mean 'adam'?`` or the empty string."""
    match = closest(given, choices)
    return f"; did you mean {match!r}?" if match else ""


def with_suggestion(message: str) -> str:
    """argparse's "invalid choice: 'scrach' (choose from ...)" with "did you mean 'scratch'?" added."""
    found = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if not found:
        return message
    return message + did_you_mean(found.group(1), re.findall(r"'([^']*)'", found.group(2)))


def command_parser(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser:
    """The subcommand's own parser (its flags), else ``parser``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return parser


def unrecognized(parser: argparse.ArgumentParser, command: str | None, extra: list[str], argv: list[str]) -> str:
    """One line for arguments no flag took: a list given with spaces (``--hidden 256 256``: lists take commas)
    or an unknown flag with the one it most likely meant (``--learning-rate``: did you mean --lr?)."""
    p = command_parser(parser, command)
    options = {s: a for a in p._actions for s in a.option_strings}
    for i, token in enumerate(argv):  # a list flag followed by more than one value
        flag = token.split("=", 1)[0]
        if getattr(getattr(options.get(flag), "type", None), "comma_list", False) and "=" not in token:
            values = []
            for value in argv[i + 1:]:
                if value.startswith("-") and not re.fullmatch(r"-\d[\d.e-]*", value):
                    break
                values.append(value)
            if len(values) > 1 and values[1] in extra:
                return f"{p.prog}: lists take commas: {flag} {','.join(values)} (got {' '.join([flag, *values])})"
    unknown = [t for t in extra if t.startswith("-")]
    if unknown:
        flag = unknown[0].split("=", 1)[0]
        match = closest(flag, [o for o in options if o.startswith("--")])
        hint = f"; did you mean {match}?" if match else ""
        return f"{p.prog}: unrecognized arguments: {' '.join(extra)}{hint} (see {p.prog} --help)"
    return f"{p.prog}: unrecognized arguments: {' '.join(extra)} (see {p.prog} --help)"

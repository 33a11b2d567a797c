"""README.md stays true: every file it names exists, every `mlplab` command, recipe, flag and notebook it names is
real, and it starts with the two commands. (Its Python snippet runs in tests/test_run.py.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from mlplab.cli.main import COMMANDS
from mlplab.recipes import RECIPES

REPO = Path(__file__).resolve().parents[1]
TEXT = (REPO / "README.md").read_text(encoding="utf-8")
SUBCOMMANDS = {m.rpartition(".")[2] for m in COMMANDS}
CODE = "\n".join(re.findall(r"```[a-z]*\n(.*?)```", TEXT, re.S) + re.findall(r"`([^`\n]+)`", TEXT))  # code only


def test_it_starts_with_the_two_commands_and_stays_short():
    first_block = TEXT.split("```bash", 1)[1].split("```", 1)[0].strip().splitlines()
    assert [line.split("#")[0].strip() for line in first_block] == ["./dev.sh train", "./dev.sh test"]
    assert len(TEXT.splitlines()) <= 260


def test_every_path_it_names_exists():
    paths = set(re.findall(r"`?((?:src/mlplab|notebooks|benchmarks|tests|configs|\.ci)/[\w./-]*[\w])`?", TEXT))
    assert len(paths) > 15
    missing = sorted(p for p in paths if not (REPO / p).exists() and not p.endswith("_"))  # test_<module>.py
    assert not missing, missing


def test_every_command_recipe_and_notebook_it_names_is_real():
    commands = set(re.findall(r"\bmlplab ([a-z][a-z-]+)", CODE))
    assert commands and commands <= SUBCOMMANDS, commands - SUBCOMMANDS
    recipes = set(re.findall(r"recipe ([a-z][a-z-]+)", TEXT)) | set(re.findall(r"`([a-z-]+)` \(\d", TEXT))
    assert recipes and recipes <= set(RECIPES), recipes - set(RECIPES)
    assert set(RECIPES) <= set(re.findall(r"`([a-z-]+)`", TEXT)), "every recipe is listed"
    notebooks = {p.name for p in (REPO / "notebooks").glob("*.ipynb")}
    assert notebooks <= set(re.findall(r"notebooks/([\w]+\.ipynb)", TEXT)), "every notebook is listed"


def test_every_train_flag_it_names_is_a_flag():
    out = subprocess.run([sys.executable, "-m", "mlplab", "train", "--help"], capture_output=True, text=True,
                         check=True).stdout
    named = set(re.findall(r"mlplab train[^\n`]*", CODE))
    flags = {f for line in named for f in re.findall(r"(--[a-z][a-z-]+)", line)}
    assert flags and all(f in out for f in flags), sorted(f for f in flags if f not in out)


def test_version_and_help_run():
    for args in (["--version"], ["--help"]):
        r = subprocess.run([sys.executable, "-m", "mlplab", *args], capture_output=True, text=True)
        assert r.returncode == 0 and r.stdout.strip(), r.stderr

"""compare and cv members as a study (mlplab.experiments.grid_study): spread over worker processes or kept in a
database, they train the same runs and give the same table as one after another."""

from __future__ import annotations

import pytest

pytest.importorskip("optuna", reason="spreading members needs optuna: pip install -e '.[dev]'")

from mlplab.experiments.compare import compare  # noqa: E402
from mlplab.experiments.cv import cross_validate  # noqa: E402
from mlplab.settings import resolve  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = dict(dataset="iris", hidden=(8,), epochs=3, batch_size=32)


def rows(result) -> list:
    """Each member's history, less the seconds (timing differs between any two runs)."""
    return [[[{k: v for k, v in row.items() if k != "seconds"} for row in r.history.rows] for r in g]
            for g in result.runs]


def test_compare_members_over_two_worker_processes_give_the_table_of_one_after_another(tmp_path):
    base = resolve({**TINY, "out": str(tmp_path)})
    grid = {"lr": [0.01, 0.1]}
    alone = compare(base, grid, seeds=1)
    spread = compare(base, grid, seeds=1, spread={"workers": 2})
    assert rows(spread) == rows(alone)
    assert (spread.path / "journal.log").exists() and not (alone.path / "journal.log").exists()
    assert [[r.path.relative_to(spread.path).parts[:2] for r in g] for g in spread.runs] == \
        [[("lr=0.01", "seed0")], [("lr=0.1", "seed0")]]
    assert (spread.path / "compare_val_loss.png").stat().st_size > 0


def test_cv_folds_kept_in_an_sqlite_study_give_the_folds_of_one_after_another(tmp_path):
    base = resolve({**TINY, "out": str(tmp_path)})
    alone = cross_validate(base, 2)
    url = f"sqlite:///{tmp_path / 'folds.db'}"
    spread = cross_validate(base, 2, spread={"workers": 1, "storage": url, "study": "folds"})
    same = [[{k: v for k, v in row.items() if k != "seconds"} for row in h.rows] for h in alone.histories]
    assert [[{k: v for k, v in row.items() if k != "seconds"} for row in h.rows] for h in spread.histories] == same
    assert [m["val_loss"] for m in spread.metrics] == [m["val_loss"] for m in alone.metrics]
    assert sorted(p.name for p in spread.path.glob("fold?")) == ["fold1", "fold2"]
    import optuna

    study = optuna.load_study(study_name="folds", storage=url)
    assert sorted(t.params["member"] for t in study.trials if t.state.name == "COMPLETE") == [0, 1]

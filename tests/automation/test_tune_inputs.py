"""Bad arguments to `tune` are refused with one clear InvalidInput before any trial or run exists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

import perennia
from perennia.automation.tune import tune
from perennia.errors import InvalidInput
from tests.conftest import reset_tracking

optuna.logging.set_verbosity(optuna.logging.WARNING)
CALLS: list[int] = []


def objective(trial):
    CALLS.append(trial.number)
    return trial.suggest_float("x", 0, 1)


def objective_with_params(trial, params):
    CALLS.append(trial.number)
    return 0.0


@pytest.fixture
def sqlite_tracking(sqlite_uri: str, tmp_path: Path) -> Iterator[str]:
    reset_tracking()
    perennia.set_tracking_uri(sqlite_uri)
    perennia.set_artifacts_uri(tmp_path / "artifacts")
    CALLS.clear()
    yield sqlite_uri
    reset_tracking()


def _nothing_ran() -> None:
    assert CALLS == []
    assert perennia.search_runs(search_all_experiments=True, output_format="list") == []


BAD = [
    ({"n_trials": 0}, "n_trials must be a positive integer"),
    ({"n_trials": -3}, "n_trials must be a positive integer"),
    ({"n_trials": 2.5}, "n_trials must be a positive integer"),
    ({"n_trials": True}, "n_trials must be a positive integer"),
    ({"n_trials": "10"}, "n_trials must be a positive integer"),
    ({"n_trials": None}, "give n_trials, timeout or both"),
    ({"n_trials": 2, "timeout": 0}, "timeout must be a positive number"),
    ({"n_trials": 2, "direction": "min"}, "direction must be 'minimize' or 'maximize'"),
    ({"n_trials": 2, "directions": "minimize"}, "directions must be a non-empty list"),
    ({"n_trials": 2, "directions": ["minimize", "up"]}, "direction must be 'minimize' or"),
    (
        {"n_trials": 2, "direction": "minimize", "directions": ["minimize"]},
        "not both",
    ),
    ({"n_trials": 2, "metric": ""}, "metric must not be empty"),
    ({"n_trials": 2, "metric": ["a"], "directions": ["minimize"] * 2}, "a list of 2 names"),
    ({"n_trials": 2, "n_jobs": 0}, "n_jobs must be a positive integer or -1"),
    ({"n_trials": 2, "n_jobs": "4"}, "n_jobs must be a positive integer or -1"),
    ({"n_trials": 2, "seed": 1, "sampler": optuna.samplers.RandomSampler()}, "not both"),
    ({"n_trials": 2, "seed": "1"}, "seed must be an integer"),
    ({"n_trials": 2, "sampler": "tpe"}, "sampler must be an optuna sampler"),
    ({"n_trials": 2, "pruner": "median"}, "pruner must be an optuna pruner"),
    ({"n_trials": 2, "callbacks": [1]}, "callbacks must be a list of functions"),
    ({"n_trials": 2, "catch": (KeyboardInterrupt,)}, "catch must be a tuple of exception"),
    ({"n_trials": 2, "storage": 42}, "storage must be None, 'perennia', a database URL"),
    ({"n_trials": 2, "storage": "not a url"}, "is not a database URL"),
    ({"n_trials": 2, "study_name": ""}, "study_name must be a non-empty string"),
    ({"n_trials": 2, "log_best_model": "yes"}, "must be True or False"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_argument_is_refused_before_anything_runs(
    sqlite_tracking: str, kwargs: dict, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        tune(objective, **kwargs)
    _nothing_ran()


BAD_SPACES = [
    ({"x": 3}, "space entry 'x' is not a distribution"),
    ({"x": ("uniform", 0, 1)}, "space entry 'x' is not a distribution"),
    ({"x": ("float", 1)}, 'needs \\("float", low, high\\)'),
    ({"x": ("float", 2.0, 1.0)}, "space entry 'x' .* is invalid"),
    ({"x": ("float", 0.0, 1.0, {"log": True})}, "space entry 'x' .* is invalid"),
    ({"x": ("float", 0.0, 1.0, {"base": 2})}, "unknown options \\['base'\\]"),
    ({"x": ("float", "0", 1)}, "bounds must be numbers"),
    ({"n": ("int", 1.5, 3)}, "is 'int' but its bounds are not integers"),
    ({"k": ("categorical", "ab")}, "needs one list of choices"),
    ({"k": ("categorical", [])}, "has no choices"),
    ({3: ("int", 1, 3)}, "space keys must be parameter names"),
    ({"bad\nname": ("int", 1, 3)}, "space parameter name"),
    ([("x", ("int", 1, 3))], "space must be a dict"),
]


@pytest.mark.parametrize(("space", "message"), BAD_SPACES, ids=[m for _, m in BAD_SPACES])
def test_space_entry_that_is_not_a_distribution_is_refused(
    sqlite_tracking: str, space: object, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        tune(objective_with_params, space, n_trials=2)
    _nothing_ran()


def test_objective_that_is_not_callable_is_refused(sqlite_tracking: str) -> None:
    with pytest.raises(InvalidInput, match="objective must be a function of the trial"):
        tune("objective", n_trials=2)
    _nothing_ran()


def test_objective_without_params_argument_is_refused_when_a_space_is_given(
    sqlite_tracking: str,
) -> None:
    with pytest.raises(InvalidInput, match=r"cannot be called as objective\(trial, params\)"):
        tune(objective, {"x": ("float", 0, 1)}, n_trials=2)
    with pytest.raises(InvalidInput, match=r"cannot be called as objective\(trial\)"):
        tune(objective_with_params, n_trials=2)
    _nothing_ran()


def test_perennia_storage_on_sqlite_refuses_parallel_threads_quoting_optuna(
    sqlite_tracking: str,
) -> None:
    with pytest.raises(InvalidInput, match="never recommend SQLite3 for parallel optimization"):
        tune(objective, n_trials=2, storage="perennia", n_jobs=2)
    with pytest.raises(InvalidInput, match="n_jobs=-1"):
        tune(
            objective,
            n_trials=2,
            storage=f"sqlite:///{Path(sqlite_tracking[10:]).parent}/o.db",
            n_jobs=-1,
        )
    _nothing_ran()


def test_perennia_storage_on_sqlite_keeps_optuna_in_a_sibling_file(sqlite_tracking: str) -> None:
    result = tune(objective, n_trials=3, seed=0, storage="perennia", study_name="s")
    sibling = Path(sqlite_tracking.removeprefix("sqlite:///"))
    sibling = sibling.with_name(sibling.stem + ".optuna.db")
    again = optuna.load_study(study_name="s", storage=f"sqlite:///{sibling}")
    assert [t.params for t in again.trials] == [t.params for t in result.study.trials]
    # Resuming adds trials to the same study, under the same parent run.
    more = tune(objective, n_trials=2, seed=1, storage="perennia", study_name="s")
    assert more.parent_run_id == result.parent_run_id
    assert len(more.trials) == 5
    assert (
        perennia.Client().get_run(result.parent_run_id).data.tags["perennia.tune.n_trials"] == "5"
    )


def test_existing_study_is_not_joined_when_load_if_exists_is_false(sqlite_tracking: str) -> None:
    from perennia.errors import Conflict

    tune(objective, n_trials=1, seed=0, storage="perennia", study_name="once")
    CALLS.clear()
    with pytest.raises(Conflict, match="load_if_exists=True"):
        tune(objective, n_trials=1, storage="perennia", study_name="once", load_if_exists=False)
    with pytest.raises(InvalidInput, match="has directions \\['minimize'\\]"):
        tune(objective, n_trials=1, storage="perennia", study_name="once", direction="maximize")
    assert CALLS == []

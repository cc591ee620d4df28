"""`perennia.automation.tune.tune` on SQLite and PostgreSQL tracking stores.

Plain Optuna is the oracle: the same sampler, seed and objective must give the same trials.
The runs are read back through `perennia.Client` and compared with what Optuna recorded.
"""

from __future__ import annotations

import math

import optuna
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optuna.pruners import MedianPruner
from optuna.samplers import RandomSampler, TPESampler
from optuna.trial import TrialState

import perennia
from perennia.automation.tune import log_trial_model, tune
from perennia.errors import InvalidInput

optuna.logging.set_verbosity(optuna.logging.WARNING)


def quadratic(trial: optuna.Trial) -> float:
    """A deterministic objective with three params and five reported intermediate values."""
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_int("y", -3, 3)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    value = (x - 1.0) ** 2 + (y + 1) ** 2 + (0.5 if kind == "b" else 0.0)
    for step in range(5):
        trial.report(value + 1.0 / (step + 1), step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return value


def _trials(study: optuna.Study) -> list[tuple]:
    return [
        (t.number, t.state, t.params, t.values, t.intermediate_values)
        for t in study.get_trials(deepcopy=False)
    ]


def _children(parent_run_id: str) -> list:
    client = perennia.Client()
    experiment_id = client.get_run(parent_run_id).info.experiment_id
    runs = client.search_runs([experiment_id], max_results=1000).items
    return [r for r in runs if r.info.parent_run_id == parent_run_id]


def _history(run_id: str, key: str) -> dict[int, float]:
    return {m.step: m.value for m in perennia.Client().get_metric_history(run_id, key)}


def test_tpe_with_pruner_matches_plain_optuna_trial_for_trial(tracking: str) -> None:
    oracle = optuna.create_study(
        sampler=TPESampler(seed=7), pruner=MedianPruner(n_startup_trials=3)
    )
    oracle.optimize(quadratic, n_trials=25)
    result = tune(quadratic, n_trials=25, seed=7, pruner=MedianPruner(n_startup_trials=3))
    assert _trials(result.study) == _trials(oracle)
    assert any(t.state == TrialState.PRUNED for t in oracle.trials)  # the pruner really acted
    assert result.best_params == oracle.best_params
    assert result.best_value == oracle.best_value


def test_random_sampler_matches_plain_optuna(tracking: str) -> None:
    oracle = optuna.create_study(sampler=RandomSampler(seed=3), direction="maximize")
    oracle.optimize(quadratic, n_trials=15)
    result = tune(quadratic, n_trials=15, sampler=RandomSampler(seed=3), direction="maximize")
    assert _trials(result.study) == _trials(oracle)


def test_declared_space_samples_what_the_same_suggest_calls_sample(tracking: str) -> None:
    def by_hand(trial):
        c = trial.suggest_float("c", 1e-3, 10, log=True)
        depth = trial.suggest_int("depth", 2, 8)
        kind = trial.suggest_categorical("kind", ["a", "b"])
        return math.log(c) ** 2 + depth + (kind == "b")

    def with_space(trial, params):
        return math.log(params["c"]) ** 2 + params["depth"] + (params["kind"] == "b")

    space = {
        "c": ("float", 1e-3, 10, {"log": True}),
        "depth": optuna.distributions.IntDistribution(2, 8),
        "kind": ("categorical", ["a", "b"]),
    }
    oracle = optuna.create_study(sampler=TPESampler(seed=11))
    oracle.optimize(by_hand, n_trials=12)
    result = tune(with_space, space, n_trials=12, seed=11)
    assert _trials(result.study) == _trials(oracle)


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**31 - 1), n_trials=st.integers(1, 8))
def test_any_seed_gives_plain_optunas_sequence(tracking: str, seed: int, n_trials: int) -> None:
    oracle = optuna.create_study(sampler=TPESampler(seed=seed, n_startup_trials=3))
    oracle.optimize(quadratic, n_trials=n_trials)
    result = tune(quadratic, n_trials=n_trials, sampler=TPESampler(seed=seed, n_startup_trials=3))
    assert _trials(result.study) == _trials(oracle)


def test_every_trial_is_a_nested_run_with_params_history_value_and_state(tracking: str) -> None:
    result = tune(
        quadratic, n_trials=20, seed=5, pruner=MedianPruner(n_startup_trials=2), study_name="quad"
    )
    client = perennia.Client()
    parent = client.get_run(result.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["perennia.tune.study"] == "quad"
    children = {r.info.run_id: r for r in _children(result.parent_run_id)}
    assert set(children) == set(result.trials.values())
    assert len(children) == 20
    for trial in result.study.trials:
        run = children[result.trials[trial.number]]
        assert run.data.tags["perennia.tune.trial"] == str(trial.number)
        assert run.data.tags["perennia.tune.study"] == "quad"
        assert run.data.tags["perennia.tune.state"] == trial.state.name
        assert run.data.params == {k: str(v) for k, v in trial.params.items()}
        assert _history(run.info.run_id, "intermediate_value") == trial.intermediate_values
        if trial.state == TrialState.COMPLETE:
            assert run.info.status == "FINISHED"
            assert run.data.metrics["value"] == trial.value
        else:
            assert trial.state == TrialState.PRUNED
            assert run.info.status == "KILLED"
            # Optuna gives a pruned trial its last reported value; the run records the same.
            assert (
                run.data.metrics["value"]
                == trial.value
                == trial.intermediate_values[max(trial.intermediate_values)]
            )
    assert any(t.state == TrialState.PRUNED for t in result.study.trials)


def test_parent_gets_best_params_value_and_best_so_far_curve(tracking: str) -> None:
    result = tune(quadratic, n_trials=15, seed=2, direction="minimize")
    best = result.study.best_trial
    parent = perennia.Client().get_run(result.parent_run_id)
    assert parent.data.params == {k: str(v) for k, v in best.params.items()}
    assert parent.data.metrics["best_value"] == best.value
    assert parent.data.tags["perennia.tune.best_trial"] == str(best.number)
    assert parent.data.tags["perennia.tune.best_run_id"] == result.best_run_id
    assert result.best_run_id == result.trials[best.number]
    curve = _history(result.parent_run_id, "best_value")
    running = math.inf
    expected = {}
    for t in result.study.trials:
        if t.state == TrialState.COMPLETE and t.value < running:
            running = expected[t.number] = t.value
    expected[len(result.study.trials)] = best.value
    assert curve == expected


def test_best_trials_sklearn_model_is_logged_on_the_parent_and_predicts(tracking: str) -> None:
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(n_samples=300, n_features=6, random_state=0)
    train, valid = slice(0, 200), slice(200, 300)

    def objective(trial, params):
        model = LogisticRegression(C=params["C"], max_iter=500).fit(X[train], y[train])
        log_trial_model(trial, model)
        return model.score(X[valid], y[valid])

    result = tune(
        objective,
        {"C": ("float", 1e-4, 10.0, {"log": True})},
        n_trials=8,
        seed=0,
        direction="maximize",
    )
    assert result.model_uri == f"runs:/{result.parent_run_id}/model"
    loaded = perennia.models.load(result.model_uri)
    oracle = LogisticRegression(C=result.best_params["C"], max_iter=500).fit(X[train], y[train])
    assert (loaded.predict(X[valid]) == oracle.predict(X[valid])).all()
    tags = perennia.Client().get_run(result.parent_run_id).data.tags
    assert tags["perennia.tune.model_trial"] == str(result.study.best_trial.number)


def test_trial_run_is_active_inside_the_objective(tracking: str) -> None:
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        perennia.log_metric("train_loss", x * 2, step=3)
        perennia.set_tag("seen", perennia.active_run().run_id)
        return x

    result = tune(objective, n_trials=3, seed=0)
    client = perennia.Client()
    for number, run_id in result.trials.items():
        run = client.get_run(run_id)
        assert run.data.tags["seen"] == run_id
        assert run.data.metrics["train_loss"] == 2 * result.study.trials[number].params["x"]
    assert perennia.active_run() is None


def test_study_nests_under_the_callers_active_run(tracking: str) -> None:
    with perennia.start_run(run_name="outer") as outer:
        result = tune(quadratic, n_trials=2, seed=0, run_name="search")
    parent = perennia.Client().get_run(result.parent_run_id)
    assert parent.info.parent_run_id == outer.run_id
    assert parent.info.run_name == "search"


def test_threads_record_every_trial_once(tracking: str) -> None:
    result = tune(quadratic, n_trials=16, n_jobs=4, seed=1, experiment="threads")
    children = _children(result.parent_run_id)
    assert sorted(r.data.tags["perennia.tune.trial"] for r in children) == sorted(
        str(n) for n in range(16)
    )
    assert {r.info.status for r in children} <= {"FINISHED", "KILLED"}
    assert (
        perennia.get_experiment_by_name("threads").experiment_id == children[0].info.experiment_id
    )


def test_multi_objective_logs_one_metric_per_direction(tracking: str) -> None:
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        return x, 1 - x

    oracle = optuna.create_study(directions=["minimize", "minimize"], sampler=RandomSampler(seed=4))
    oracle.optimize(objective, n_trials=6)
    result = tune(
        objective,
        n_trials=6,
        directions=["minimize", "minimize"],
        metric=["cost", "error"],
        sampler=RandomSampler(seed=4),
    )
    assert _trials(result.study) == _trials(oracle)
    assert result.best_value is None and result.model_uri is None
    run = perennia.Client().get_run(result.trials[0])
    assert run.data.metrics == {
        "cost": result.study.trials[0].values[0],
        "error": result.study.trials[0].values[1],
    }


def test_caught_failure_marks_the_trial_failed_and_the_study_goes_on(tracking: str) -> None:
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        if trial.number == 1:
            raise ValueError("bad fold")
        return x

    result = tune(objective, n_trials=3, seed=0, catch=(ValueError,))
    failed = perennia.Client().get_run(result.trials[1])
    assert failed.info.status == "FAILED"
    assert failed.data.tags["perennia.tune.state"] == "FAIL"
    assert "bad fold" in failed.info.error
    assert perennia.Client().get_run(result.parent_run_id).info.status == "FINISHED"


def test_uncaught_failure_fails_trial_and_study_runs_and_propagates(tracking: str) -> None:
    seen: list[str] = []

    def objective(trial):
        seen.append(perennia.active_run().run_id)
        trial.suggest_float("x", 0, 1)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        tune(objective, n_trials=3, seed=0, study_name="broken")
    client = perennia.Client()
    trial_run = client.get_run(seen[0])
    assert trial_run.info.status == "FAILED"
    assert trial_run.data.tags["perennia.tune.state"] == "FAIL"
    parent = client.get_run(trial_run.info.parent_run_id)
    assert parent.info.status == "FAILED"
    assert "boom" in parent.info.error
    assert perennia.active_run() is None


def test_log_trial_model_outside_tune_is_refused() -> None:
    study = optuna.create_study()
    trial = study.ask()
    with pytest.raises(InvalidInput, match="log_trial_model"):
        log_trial_model(trial, object())


def test_log_best_model_false_logs_no_model(tracking: str) -> None:
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        log_trial_model(trial, {"x": x})
        return x

    result = tune(objective, n_trials=2, seed=0, log_best_model=False)
    assert result.model_uri is None
    assert perennia.Client().list_artifacts(result.parent_run_id) == []


def test_log_trial_model_in_a_multi_objective_study_is_refused(tracking: str) -> None:
    def objective(trial):
        log_trial_model(trial, object())
        return 1.0, 2.0

    with pytest.raises(InvalidInput, match="single-objective"):
        tune(objective, n_trials=1, directions=["minimize", "maximize"])

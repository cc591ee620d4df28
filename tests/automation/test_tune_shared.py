"""Studies shared through Optuna's RDB storage in the tracking store's own PostgreSQL database.

Run as a script, this file is the worker the two-process test starts:
`python test_tune_shared.py <tracking uri> <artifacts folder> <study> <n_trials> <seed>`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import optuna
import pytest

import perennia
from perennia.automation.tune import tune

optuna.logging.set_verbosity(optuna.logging.WARNING)


def quadratic(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_int("y", -3, 3)
    value = (x - 1.0) ** 2 + (y + 1) ** 2
    for step in range(3):
        trial.report(value + 1.0 / (step + 1), step)
    return value


def _optuna_storage(uri: str) -> optuna.storages.RDBStorage:
    """Return Optuna's view of the study tables, in the `optuna` schema of the tracking database."""
    return optuna.storages.RDBStorage(
        uri, engine_kwargs={"connect_args": {"options": "-csearch_path=optuna"}}
    )


def _tables(uri: str, schema: str) -> set[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(uri)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                {"s": schema},
            )
            return {row[0] for row in rows}
    finally:
        engine.dispose()


def _worker(tracking_uri: str, artifacts: str, study: str, n_trials: int, seed: int) -> None:
    perennia.set_tracking_uri(tracking_uri)
    perennia.set_artifacts_uri(artifacts)
    result = tune(
        quadratic,
        n_trials=n_trials,
        sampler=optuna.samplers.RandomSampler(seed=seed),
        storage="perennia",
        study_name=study,
        experiment="shared",
    )
    print(json.dumps({"parent": result.parent_run_id, "trials": len(result.trials)}))


def test_storage_equal_to_the_tracking_database_goes_to_its_own_schema(
    postgres_uri: str, tmp_path: Path
) -> None:
    perennia.set_tracking_uri(postgres_uri)
    perennia.set_artifacts_uri(tmp_path / "artifacts")
    try:
        public_before = _tables(postgres_uri, "public")
        result = tune(quadratic, n_trials=4, seed=0, storage=postgres_uri, study_name="own-schema")
        # Optuna's tables (and its alembic_version) never touch Perennia's schema.
        assert _tables(postgres_uri, "public") == public_before
        assert {"studies", "trials", "alembic_version"} <= _tables(postgres_uri, "optuna")
        stored = optuna.load_study(study_name="own-schema", storage=_optuna_storage(postgres_uri))
        assert [t.params for t in stored.trials] == [t.params for t in result.study.trials]
        # The Perennia store still opens at its own schema revision.
        from perennia.store import open_store

        store = open_store(postgres_uri)
        assert store.runs.get(result.parent_run_id).info.status == "FINISHED"
        store.close()
    finally:
        from tests.conftest import reset_tracking

        reset_tracking()


def _respelt(uri: str, host: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(uri).set(host=host).render_as_string(hide_password=False)


@pytest.mark.parametrize(
    ("tracking_host", "storage_host"), [("127.0.0.1", "localhost"), ("localhost", "127.0.0.1")]
)
def test_another_spelling_of_the_tracking_database_still_gets_its_own_schema(
    postgres_uri: str, tmp_path: Path, tracking_host: str, storage_host: str
) -> None:
    perennia.set_tracking_uri(_respelt(postgres_uri, tracking_host))
    perennia.set_artifacts_uri(tmp_path / "artifacts")
    try:
        public_before = _tables(postgres_uri, "public")
        storage = _respelt(postgres_uri, storage_host)
        result = tune(quadratic, n_trials=2, seed=0, storage=storage, study_name="respelt")
        assert _tables(postgres_uri, "public") == public_before
        assert {"studies", "trials", "alembic_version"} <= _tables(postgres_uri, "optuna")
        assert len(result.study.trials) == 2
    finally:
        from tests.conftest import reset_tracking

        reset_tracking()


def test_a_perennia_database_other_than_the_tracking_one_gets_its_own_schema(
    postgres_uri: str, tmp_path: Path
) -> None:
    from perennia.automation.tuning.storage import resolve_storage

    public_before = _tables(postgres_uri, "public")
    # Tracking goes elsewhere (a SQLite file): the tables found decide, not the URL.
    tracking = f"sqlite:///{tmp_path / 'tracking.db'}"
    storage = resolve_storage(postgres_uri, tracking, n_jobs=1)
    optuna.create_study(study_name="elsewhere", storage=storage)
    storage.engine.dispose()
    assert _tables(postgres_uri, "public") == public_before
    assert "studies" in _tables(postgres_uri, "optuna")


def test_a_database_without_perennia_tables_keeps_optunas_default_schema(
    postgres_template: str,  # skips (or fails in CI) when PostgreSQL is not reachable
) -> None:
    from sqlalchemy import text

    from perennia.automation.tuning.storage import resolve_storage
    from tests.conftest import _admin_engine, _database_uri

    name = f"perennia_blank_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        uri = _database_uri(name)
        storage = resolve_storage(uri, "sqlite:///elsewhere.db", n_jobs=1)
        optuna.create_study(study_name="plain", storage=storage)
        storage.engine.dispose()
        assert {"studies", "alembic_version"} <= _tables(uri, "public")
        assert _tables(uri, "optuna") == set()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.slow
def test_two_processes_share_one_study_and_one_parent_run(
    postgres_uri: str, tmp_path: Path
) -> None:
    artifacts = str(tmp_path / "artifacts")
    workers = [
        subprocess.Popen(
            [sys.executable, __file__, postgres_uri, artifacts, "shared", str(n), str(seed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, seed in ((7, 1), (5, 2))
    ]
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    parent_id = outputs[0]["parent"]
    assert outputs[1]["parent"] == parent_id

    study = optuna.load_study(study_name="shared", storage=_optuna_storage(postgres_uri))
    assert len(study.trials) == 12
    assert sorted(t.number for t in study.trials) == list(range(12))

    perennia.set_tracking_uri(postgres_uri)
    try:
        client = perennia.Client()
        parent = client.get_run(parent_id)
        assert parent.info.status == "FINISHED"
        assert parent.data.tags["perennia.tune.study"] == "shared"
        experiment = parent.info.experiment_id
        runs = client.search_runs([experiment], max_results=1000).items
        children = [r for r in runs if r.info.parent_run_id == parent_id]
        assert len(runs) == 13  # one tree: the parent and its twelve trials, nothing else
        assert sorted(int(r.data.tags["perennia.tune.trial"]) for r in children) == list(range(12))
        by_number = {t.number: t for t in study.trials}
        for run in children:
            trial = by_number[int(run.data.tags["perennia.tune.trial"])]
            assert trial.user_attrs["perennia.run_id"] == run.info.run_id
            assert run.data.metrics["value"] == trial.value
        # Whichever worker finished last recorded the study's best on the parent.
        assert parent.data.metrics["best_value"] == study.best_value
        assert parent.data.tags["perennia.tune.n_trials"] == "12"
        assert parent.data.tags["perennia.tune.best_trial"] == str(study.best_trial.number)
    finally:
        from tests.conftest import reset_tracking

        reset_tracking()


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))

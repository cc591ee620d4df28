"""`perennia.Client()` follows `perennia.set_tracking_uri()`, as `MlflowClient()` follows mlflow's."""

from __future__ import annotations

from pathlib import Path

import perennia


def test_client_without_arguments_uses_the_uri_set_through_the_fluent_api(
    tracking: str, tmp_path: Path
) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    perennia.set_tracking_uri(other)
    perennia.set_experiment("only-in-other")
    with perennia.start_run() as run:
        perennia.log_metric("x", 1.0)

    client = perennia.Client()

    assert client.tracking_uri == other
    assert client.get_run(run.run_id).data.metrics == {"x": 1.0}
    assert perennia.Client(tracking_uri=tracking).get_experiment_by_name("only-in-other") is None


def test_resetting_the_tracking_uri_returns_the_client_to_the_environment(
    tracking: str, tmp_path: Path
) -> None:
    perennia.set_tracking_uri(f"sqlite:///{tmp_path / 'other.db'}")
    perennia.set_tracking_uri(None)

    assert perennia.Client().tracking_uri == tracking

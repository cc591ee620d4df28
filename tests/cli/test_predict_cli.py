"""`perennia predict`: scores a file from a package folder or a models:/ URI, chunk by chunk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import typer
from typer.testing import CliRunner

from perennia.cli.predict import predict
from perennia.errors import InvalidInput, NotFound, PermissionDenied
from tests.models.batch_helpers import FEATURES, fit_pipeline, make_rows, save_package

runner = CliRunner()


def _app() -> typer.Typer:
    """Return an app holding the command as `perennia predict` will (a group, not a lone command)."""
    app = typer.Typer()
    app.command("predict")(predict)

    @app.callback()
    def root() -> None:
        """Test root."""

    return app


def _args(model: str, tmp_path: Path, source: str = "in.csv", target: str = "o.csv") -> list[str]:
    """Return `predict MODEL -i <tmp>/SOURCE -o <tmp>/TARGET`."""
    return ["predict", model, "-i", str(tmp_path / source), "-o", str(tmp_path / target)]


def test_predict_scores_a_parquet_file_into_csv_with_probabilities(tmp_path: Path) -> None:
    pipeline = save_package(tmp_path / "pkg")
    rows = make_rows(1_234, seed=11)
    rows.to_parquet(tmp_path / "in.parquet", index=False)

    result = runner.invoke(
        _app(),
        [
            "predict",
            str(tmp_path / "pkg"),
            "--input",
            str(tmp_path / "in.parquet"),
            "--output",
            str(tmp_path / "out.csv"),
            "--chunk-rows",
            "500",
            "--proba",
            "--keep",
            "id",
        ],
    )

    assert result.exit_code == 0, result.output
    assert "Scored 1,234 rows in 3 chunk(s)" in result.output
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == ["id", "proba_0", "proba_1"]
    np.testing.assert_allclose(
        out[["proba_0", "proba_1"]], pipeline.predict_proba(rows[FEATURES]), rtol=1e-12
    )


def test_predict_resolves_a_registered_version(tracking: str, tmp_path: Path) -> None:
    import perennia

    pipeline = fit_pipeline(make_rows(300, seed=12))
    with perennia.start_run():
        perennia.log_model(pipeline, name="model", registered_model_name="fraud")
    rows = make_rows(400, seed=13)
    rows.to_csv(tmp_path / "in.csv", index=False)

    result = runner.invoke(_app(), _args("models:/fraud/1", tmp_path, target="o.pq"))

    assert result.exit_code == 0, result.output
    out = pd.read_parquet(tmp_path / "o.pq")
    np.testing.assert_array_equal(out["prediction"], pipeline.predict(rows[FEATURES]))


def test_predict_names_the_missing_column_and_writes_nothing(tmp_path: Path) -> None:
    save_package(tmp_path / "pkg")
    make_rows(20).drop(columns="amount").to_csv(tmp_path / "in.csv", index=False)

    result = runner.invoke(_app(), _args(str(tmp_path / "pkg"), tmp_path))

    assert isinstance(result.exception, InvalidInput)
    assert "column 'amount' the model needs is missing" in str(result.exception)
    assert not (tmp_path / "o.csv").exists()


def test_predict_refuses_a_pickled_package_without_allow_pickle(tmp_path: Path) -> None:
    import perennia

    class Halver:
        def predict(self, data):
            return np.asarray(data["amount"]) / 2

    perennia.models.save(Halver(), tmp_path / "pkg", flavor="python_function")
    make_rows(10).to_csv(tmp_path / "in.csv", index=False)
    args = _args(str(tmp_path / "pkg"), tmp_path)

    refused = runner.invoke(_app(), args)
    allowed = runner.invoke(_app(), [*args, "--allow-pickle", "--column", "amount"])

    assert isinstance(refused.exception, PermissionDenied)
    assert allowed.exit_code == 0, allowed.output
    np.testing.assert_allclose(
        pd.read_csv(tmp_path / "o.csv")["prediction"], make_rows(10)["amount"] / 2, rtol=1e-12
    )


def test_a_missing_input_is_named_before_the_model_is_looked_up(
    tracking: str, tmp_path: Path
) -> None:
    # No model "absent" is registered: looking it up first would fail on the model instead.
    result = runner.invoke(_app(), _args("models:/absent/1", tmp_path, source="missing.csv"))

    assert isinstance(result.exception, NotFound)
    assert "input file" in str(result.exception) and "missing.csv" in str(result.exception)

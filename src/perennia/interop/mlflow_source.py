"""Reading an MLflow tracking store and registry straight from its database, in batches.

MLflow's SQL schema is stable (its Alembic migrations document it: `mlflow/store/tracking/
dbmodels/models.py` and `mlflow/store/model_registry/dbmodels/models.py`), so the importer reads
the tables with SQLAlchemy Core: no running MLflow server, no mlflow package, no ORM objects.
Tables are reflected, so columns a newer MLflow adds are simply not read.
"""

from __future__ import annotations

import json
import warnings
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from perennia.entities import DatasetInput, MetricBatch
from perennia.errors import InvalidInput
from perennia.tracking.dataset_descriptors import from_mlflow_dataset

# The tables every MLflow tracking database has; a database without them is something else.
REQUIRED_TABLES = ("experiments", "experiment_tags", "runs", "params", "tags", "metrics")
# Written by MLflow on every dataset input: Perennia keeps the context as its own field.
_SCHEMES = ("sqlite:", "postgresql:", "postgresql+psycopg:", "postgresql+psycopg2:", "mysql")


class MlflowSource:
    """An MLflow backend database opened read-only in spirit: every method only SELECTs."""

    def __init__(self, uri: str, batch_size: int = 500) -> None:
        from sqlalchemy import MetaData, create_engine, inspect
        from sqlalchemy.exc import SQLAlchemyError

        if not uri.startswith(_SCHEMES):
            raise InvalidInput(
                f"--from {uri!r} is not a database URI; pass MLflow's backend store URI, "
                "e.g. sqlite:///mlflow.db or postgresql://host/db (the ./mlruns file store "
                "is not supported: migrate it with `mlflow migrate-filestore` first)"
            )
        self.uri = uri
        self.batch_size = batch_size
        try:
            self.engine = create_engine(uri)
            names = set(inspect(self.engine).get_table_names())
        except SQLAlchemyError as error:
            reason = str(error.orig if getattr(error, "orig", None) else error).splitlines()[0]
            raise InvalidInput(f"--from {uri!r}: cannot open the database ({reason})") from None
        missing = [t for t in REQUIRED_TABLES if t not in names]
        if missing:
            raise InvalidInput(
                f"--from {uri!r} is not an MLflow tracking database (no table {missing[0]!r}); "
                "pass the URI MLflow's --backend-store-uri points at"
            )
        self.meta = MetaData()
        with warnings.catch_warnings():
            # MLflow's expression indexes are not reflected; only the columns are needed.
            warnings.simplefilter("ignore")
            self.meta.reflect(self.engine, only=[t for t in _ALL_TABLES if t in names])
        if "is_nan" not in self.meta.tables["metrics"].c:
            # Perennia's own database has tables of the same names; MLflow's metrics have is_nan.
            raise InvalidInput(
                f"--from {uri!r} is not an MLflow tracking database (its metrics table has no "
                "is_nan column); pass the URI MLflow's --backend-store-uri points at"
            )

    def has(self, table: str) -> bool:
        """Return whether the database has this table (older MLflow versions lack some)."""
        return table in self.meta.tables

    def _t(self, name: str):
        return self.meta.tables[name]

    def _rows(self, statement) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(statement))

    def experiments(self) -> list[dict[str, Any]]:
        """Return every experiment as a dict with its tags, ordered by id."""
        from sqlalchemy import select

        e, t = self._t("experiments"), self._t("experiment_tags")
        tags: dict[int, dict[str, str]] = defaultdict(dict)
        for row in self._rows(select(t.c.experiment_id, t.c.key, t.c.value)):
            tags[row.experiment_id][row.key] = row.value
        return [
            {**row._asdict(), "tags": tags.get(row.experiment_id, {})}
            for row in self._rows(select(e).order_by(e.c.experiment_id))
        ]

    def count_runs(self) -> int:
        """Return how many runs the store holds."""
        from sqlalchemy import func, select

        return self._rows(select(func.count()).select_from(self._t("runs")))[0][0]

    def run_batches(self) -> Iterator[list[dict[str, Any]]]:
        """Yield the runs as dicts, `batch_size` at a time, ordered by start time then id
        (parents before their children, as they were started)."""
        from sqlalchemy import select

        r = self._t("runs")
        query = select(r).order_by(r.c.start_time, r.c.run_uuid)
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=self.batch_size).execute(query)
            for chunk in result.partitions():
                yield [row._asdict() for row in chunk]

    def key_values(self, table: str, run_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """Return run id -> {key: value} from `params` or `tags` for these runs."""
        from sqlalchemy import select

        t = self._t(table)
        found: dict[str, dict[str, str]] = defaultdict(dict)
        for row in self._rows(
            select(t.c.run_uuid, t.c.key, t.c.value).where(t.c.run_uuid.in_(run_ids))
        ):
            found[row.run_uuid][row.key] = row.value
        return found

    def metrics(self, run_ids: Sequence[str]) -> dict[str, MetricBatch]:
        """Return run id -> every metric point of the run as columns (NaN where MLflow has
        `is_nan`), in step, then timestamp order."""
        from sqlalchemy import select

        m = self._t("metrics")
        found: dict[str, MetricBatch] = defaultdict(MetricBatch)
        query = (
            select(m.c.run_uuid, m.c.key, m.c.value, m.c.step, m.c.timestamp, m.c.is_nan)
            .where(m.c.run_uuid.in_(run_ids))
            .order_by(m.c.run_uuid, m.c.key, m.c.step, m.c.timestamp)
        )
        for run_id, key, value, step, timestamp, is_nan in self._rows(query):
            value = float("nan") if is_nan else float(value)
            found[run_id].append(key, value, int(step or 0), int(timestamp or 0))
        return found

    def inputs(self, run_ids: Sequence[str]) -> dict[str, list[DatasetInput]]:
        """Return run id -> the dataset inputs MLflow recorded (datasets + inputs + input_tags)."""
        from sqlalchemy import select

        if not (self.has("datasets") and self.has("inputs")):
            return {}
        d, i = self._t("datasets"), self._t("inputs")
        rows = self._rows(
            select(i.c.input_uuid, i.c.destination_id, d)
            .join(d, d.c.dataset_uuid == i.c.source_id)
            .where(i.c.source_type == "DATASET", i.c.destination_type == "RUN")
            .where(i.c.destination_id.in_(run_ids))
            .order_by(i.c.destination_id, i.c.input_uuid)
        )
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        if rows and self.has("input_tags"):
            t = self._t("input_tags")
            uuids = [row.input_uuid for row in rows]
            for row in self._rows(select(t).where(t.c.input_uuid.in_(uuids))):
                tags[row.input_uuid][row.name] = row.value
        found: dict[str, list[DatasetInput]] = defaultdict(list)
        for row in rows:
            found[row.destination_id].append(dataset_input(row, dict(tags[row.input_uuid])))
        return found

    def registry(self) -> list[dict[str, Any]]:
        """Return every registered model with its tags, versions (with tags) and aliases."""
        from sqlalchemy import select

        if not self.has("registered_models"):
            return []
        grouped: dict[str, dict[str, Any]] = {}
        for row in self._rows(select(self._t("registered_models")).order_by("name")):
            grouped[row.name] = {**row._asdict(), "tags": {}, "versions": [], "aliases": {}}
        if self.has("registered_model_tags"):
            for row in self._rows(select(self._t("registered_model_tags"))):
                grouped[row.name]["tags"][row.key] = row.value
        version_tags: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
        if self.has("model_version_tags"):
            for row in self._rows(select(self._t("model_version_tags"))):
                version_tags[(row.name, int(row.version))][row.key] = row.value
        if self.has("model_versions"):
            v = self._t("model_versions")
            for row in self._rows(select(v).order_by(v.c.name, v.c.version)):
                version = {**row._asdict(), "tags": version_tags[(row.name, int(row.version))]}
                grouped[row.name]["versions"].append(version)
        if self.has("registered_model_aliases"):
            for row in self._rows(select(self._t("registered_model_aliases"))):
                grouped[row.name]["aliases"][row.alias] = int(row.version)
        return list(grouped.values())

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()


_ALL_TABLES = (
    *REQUIRED_TABLES,
    "datasets",
    "inputs",
    "input_tags",
    "registered_models",
    "registered_model_tags",
    "model_versions",
    "model_version_tags",
    "registered_model_aliases",
)


def dataset_input(row: Any, tags: dict[str, str]) -> DatasetInput:
    """Return the DatasetInput an MLflow `datasets` row and its input tags describe (the same
    translation the server's MLflow adapter applies to `log-inputs`)."""
    return from_mlflow_dataset(
        row.name,
        row.digest,
        row.dataset_source,
        row.dataset_source_type,
        _json(row.dataset_schema),
        _json(row.dataset_profile),
        tags,
    )


def _json(text: str | None) -> Any:
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return {}

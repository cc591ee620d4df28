"""A logged model's metric values, and the runs that consumed or produced it, in SQL.

Rows are checked here (the store is the authority) and read a page at a time: one query for
the metrics of every model on a page, one for the links of every run asked about.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, or_, select, true

from perennia.entities import LoggedModelMetric, ModelLink
from perennia.errors import InvalidInput, NotFound
from perennia.store.sql import schema as s
from perennia.store.sql.run_loader import chunks
from perennia.store.validation import (
    validate_int64,
    validate_key,
    validate_metric_value,
    validate_name,
    validate_run_id,
)

DIRECTIONS = ("input", "output")


def metric_rows(model_id: str, metrics: Sequence[LoggedModelMetric]) -> list[dict[str, Any]]:
    """Return the `logged_model_metrics` rows for `metrics`, once every field is checked."""
    rows = []
    for metric in metrics:
        key = validate_key(metric.key, "metric key")
        value = validate_metric_value(key, metric.value)
        digest = metric.dataset_digest
        if digest is not None and not (isinstance(digest, str) and 0 < len(digest) <= 64):
            raise InvalidInput(
                f"metric {key!r} dataset digest {digest!r:.70} is not 1-64 characters"
            )
        rows.append(
            {
                "model_id": model_id,
                "key": key,
                "value": None if math.isnan(value) else value,
                "step": validate_int64("step", metric.step),
                "timestamp": validate_int64("timestamp", metric.timestamp),
                "run_uuid": None if metric.run_id is None else validate_run_id(metric.run_id),
                "dataset_name": None
                if metric.dataset_name is None
                else validate_name(metric.dataset_name, "dataset name"),
                "dataset_digest": digest,
            }
        )
    return rows


def read_metrics(conn: Connection, model_ids: Sequence[str]) -> dict[str, list[LoggedModelMetric]]:
    """Return the metric values of each model, in the order they were recorded."""
    m = s.logged_model_metrics
    found: dict[str, list[LoggedModelMetric]] = defaultdict(list)
    for part in chunks(model_ids):
        query = select(m).where(m.c.model_id.in_(part)).order_by(m.c.id)
        for row in conn.execute(query):
            found[row.model_id].append(
                LoggedModelMetric(
                    key=row.key,
                    value=math.nan if row.value is None else row.value,
                    timestamp=row.timestamp,
                    step=row.step,
                    run_id=row.run_uuid,
                    dataset_name=row.dataset_name,
                    dataset_digest=row.dataset_digest,
                )
            )
    return found


def with_metrics_on(datasets: Sequence[tuple[str, str | None]]) -> Any:
    """Return the condition "the model has a metric on one of these datasets" (name, digest)."""
    m = s.logged_model_metrics
    matches = [
        and_(m.c.dataset_name == name, true() if digest is None else m.c.dataset_digest == digest)
        for name, digest in datasets
    ]
    return s.logged_models.c.model_id.in_(select(m.c.model_id).where(or_(*matches)))


def link_rows(conn: Connection, run_id: str, links: Sequence[ModelLink]) -> list[dict[str, Any]]:
    """Return the `run_model_links` rows for `links`, once each names an existing logged model."""
    rows = {}
    for link in links:
        if link.direction not in DIRECTIONS:
            raise InvalidInput(f"link direction {link.direction!r:.20} is not 'input' or 'output'")
        step = None if link.step is None else validate_int64("step", link.step)
        rows.setdefault(
            (link.model_id, link.direction),
            {
                "run_uuid": run_id,
                "model_id": link.model_id,
                "direction": link.direction,
                "step": step,
            },
        )
    lm = s.logged_models
    wanted = sorted({model_id for model_id, _ in rows})
    known = set(conn.execute(select(lm.c.model_id).where(lm.c.model_id.in_(wanted))).scalars())
    for model_id in wanted:
        if model_id not in known:
            raise NotFound(f"logged model {model_id!r} does not exist")
    return list(rows.values())


def read_links(conn: Connection, run_ids: Sequence[str]) -> dict[str, list[ModelLink]]:
    """Return the model links of each run that has any (inputs, then outputs, by model id)."""
    k = s.run_model_links
    found: dict[str, list[ModelLink]] = defaultdict(list)
    for part in chunks(run_ids):
        query = (
            select(k)
            .where(k.c.run_uuid.in_(part))
            .order_by(k.c.run_uuid, k.c.direction, k.c.model_id)
        )
        for row in conn.execute(query):
            found[row.run_uuid].append(ModelLink(row.model_id, row.direction, row.step))
    return dict(found)

"""The prediction log: what every served prediction saw and answered, as Parquet partitions.

The inference server writes through `PredictionLogWriter`; monitoring reads with the readers
here, or with DuckDB or Spark directly. The layout and columns below are a contract: change
them only by adding columns.

Location
    A folder path (or `file:///path`) or `s3://bucket/prefix`. S3 goes through boto3, whose own
    configuration supplies the endpoint and credentials (`AWS_ENDPOINT_URL`, profiles), as for
    artifacts. `default_location(settings)` is `<artifacts URI>/prediction-log`.

Layout (Hive partitions)
    <location>/predictions/deployment=<name>/date=<YYYY-MM-DD>/part-<first_time_ms>-<uuid4hex>.parquet
    <location>/feedback/date=<YYYY-MM-DD>/part-<first_time_ms>-<uuid4hex>.parquet

    `date` is the UTC day of each row's `time_ms`; `first_time_ms` is the smallest `time_ms` in
    the file. The writer writes one part per (deployment, date) per flush. A part appears
    atomically (locally a hidden temp file `.part-....tmp` in the same folder is synced and then
    renamed; on S3 one PUT), so readers only ever see whole files and must ignore names that do
    not match `part-*.parquet`. Deployment names are 1-128 letters, digits, '.', '_' or '-',
    starting with a letter or digit, without '..' (`check_deployment_name`), so partition
    values never need escaping. Read everything with, for example,

        duckdb.read_parquet("<location>/predictions/**/*.parquet",
                            hive_partitioning=True, union_by_name=True)
        spark.read.option("mergeSchema", "true").parquet("<location>/predictions")

    The partition columns repeat `deployment` (also stored in the file, so one file is
    self-describing) and add `date`.

Prediction columns, in this order
    prediction_id  string   one per row: `<request_id>-<row>` (`new_prediction_ids`), row from 0
    request_id     string   uuid4 hex (`new_request_id`); the rows of one request share it
    time_ms        int64    when the prediction was made, epoch milliseconds (UTC)
    deployment     string
    variant        string   e.g. "stable", "canary", "shadow"
    model_name     string
    model_version  int64    -1 when the model was not served from the registry
    latency_ms     float64  request arrival to answer
    ok             bool
    error          string   null when ok
    shadow         bool     a shadowed challenger's answer (never returned to the caller)
    input.<column>          each model input column
    output.<name>           each output, e.g. `output.prediction`; a 2-D value of k columns
                            under name n becomes `output.n.0` .. `output.n.<k-1>`

    Input and output types: every number (any integer or float width) is stored as float64,
    booleans as bool, text as string; other Arrow types (timestamps, lists) as themselves, and
    a column mixing Python types as text. One numeric type is what lets Spark merge the files
    (`mergeSchema` fails on int64 beside float64, and the same input arrives as 3 in one request
    and 3.5 in the next); integers beyond 2**53 lose precision, so send identifiers as strings.
    Files of different model versions may hold different input columns; `read_predictions`
    stacks them into one table (columns a file lacks are null, conflicting types become
    strings), as DuckDB's `union_by_name` and Spark's `mergeSchema` do. Each file carries the
    schema metadata `perennia.predlog.format = 1`.

Feedback columns
    prediction_id  string   non-empty, at most 200 characters
    time_ms        int64    when the label was recorded
    ground_truth   float64 when the call's labels were JSON numbers, bool when booleans,
                   string when strings (one kind per call; NaN and infinities are refused)
    deployment     string   optional, null when not given

    Labels can be corrected: the latest `time_ms` per prediction id wins (later rows of one
    call win ties; two calls in the same millisecond have no defined order). When files disagree on the label type, `read_feedback` returns float64 for
    numbers mixed with booleans and strings when strings are among them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perennia.data.predlog_build import batch_table
from perennia.data.predlog_feedback import join_feedback, read_feedback, record_feedback
from perennia.data.predlog_format import (
    BASE_COLUMNS,
    PredictionBatch,
    check_deployment_name,
    new_prediction_ids,
    new_request_id,
)
from perennia.data.predlog_reader import iter_predictions, read_predictions
from perennia.data.predlog_writer import PredictionLogWriter

if TYPE_CHECKING:
    from perennia.config import Settings

LOCATION_FOLDER = "prediction-log"


def default_location(settings: Settings) -> str:
    """Return the default log location: `<artifacts URI>/prediction-log` (folder or S3)."""
    # Beside `blobs/` under the artifact root, whether that is a folder or an S3 prefix: one
    # place to back up, and the blob store's garbage collection only walks `blobs/`.
    root = settings.resolved_artifacts_uri().rstrip("/")
    return f"{root}/{LOCATION_FOLDER}"


__all__ = [
    "BASE_COLUMNS",
    "PredictionBatch",
    "PredictionLogWriter",
    "batch_table",
    "check_deployment_name",
    "default_location",
    "iter_predictions",
    "join_feedback",
    "new_prediction_ids",
    "new_request_id",
    "read_feedback",
    "read_predictions",
    "record_feedback",
]

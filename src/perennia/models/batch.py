"""Batch scoring: a model over a Parquet or CSV file in fixed-size chunks, at constant memory.

The input is streamed (Parquet row batches, CSV blocks), re-cut into chunks of exactly
`chunk_rows` rows, each chunk predicted as a pandas frame, and the chunk's kept input columns
(their Arrow types untouched) plus the prediction columns appended to the output as they come,
so memory holds about two chunks whatever the file's size. The output is written to a hidden
temporary file beside the target and renamed over it at the end: a reader never sees half a
file, and a failed run leaves the previous output in place.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perennia.errors import InvalidInput, NotFound, PerenniaError

INPUT_SUFFIXES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".csv.bz2": "csv",
    ".csv.zst": "csv",
}
OUTPUT_FORMATS = ("parquet", "csv")
# Bytes per CSV block: type inference reads the first block, so a larger one sees more rows.
_CSV_BLOCK = 8 << 20


@dataclass(frozen=True)
class BatchSummary:
    """What a batch scoring run did: rows and chunks scored, seconds taken, the output file."""

    rows: int
    chunks: int
    seconds: float
    output: Path


@dataclass(frozen=True)
class _Plan:
    """Which input columns feed the model, which are copied out, and the output names."""

    features: list[str] | None
    keep: list[str]
    proba: bool
    source: str


def resolve_model(
    model: Any, *, allow_pickle: bool = False, trusted_types: list[str] | None = None
) -> Any:
    """Return `model` loaded when it is a URI or folder, or as given when it already predicts."""
    if isinstance(model, str | os.PathLike):
        from perennia.models import load

        return load(model, allow_pickle=allow_pickle, trusted_types=trusted_types)
    if not callable(getattr(model, "predict", None)):
        raise InvalidInput(
            f"model must be a model URI, a package folder or an object with predict(), "
            f"got {type(model).__name__}"
        )
    return model


def predict_frame(
    model: Any,
    data: Any,
    *,
    columns: list[str] | None = None,
    keep: list[str] | None = None,
    proba: bool = False,
    allow_pickle: bool = False,
    trusted_types: list[str] | None = None,
) -> Any:
    """Return a pandas frame: the kept columns of `data` plus the prediction column(s)."""
    import pandas as pd

    from perennia._util import tables

    loaded = resolve_model(model, allow_pickle=allow_pickle, trusted_types=trusted_types)
    frame = data if isinstance(data, pd.DataFrame) else tables.to_pandas(data, "data")
    plan = plan_columns(loaded, [str(c) for c in frame.columns], "data", columns, keep, proba)
    outputs = predict_outputs(loaded, frame, plan, "data")
    result = frame[plan.keep].copy()
    for name, values in outputs.items():
        result[name] = values
    return result


def predict_file(
    model: Any,
    input_path: str | Path,
    output_path: str | Path,
    *,
    chunk_rows: int = 50_000,
    columns: list[str] | None = None,
    keep: list[str] | None = None,
    proba: bool = False,
    output_format: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    allow_pickle: bool = False,
    trusted_types: list[str] | None = None,
) -> BatchSummary:
    """Score a Parquet or CSV file chunk by chunk into `output_path`; return a BatchSummary.

    `columns` names the input columns the model reads (default: the model's own feature names,
    else every column); `keep` the input columns copied to the output (default: all). The
    predictions are `prediction` (or `prediction_<i>` for several outputs), or `proba_<class>`
    with `proba=True`. `progress(rows_done, total_rows or None)` is called after each chunk.
    """
    started = time.perf_counter()
    if not isinstance(chunk_rows, int) or isinstance(chunk_rows, bool) or chunk_rows < 1:
        raise InvalidInput(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    source, target = Path(input_path), Path(output_path)
    in_format = input_format(source)
    out_format = output_format_of(target, output_format)
    if not source.is_file():
        raise NotFound(f"input file {str(source)!r} does not exist")
    if not target.parent.is_dir():
        raise NotFound(
            f"output folder {str(target.parent)!r} does not exist; create it first or write "
            "the output elsewhere"
        )
    if target.resolve() == source.resolve():
        raise InvalidInput(f"output {str(target)!r} would replace the input; name another file")
    loaded = resolve_model(model, allow_pickle=allow_pickle, trusted_types=trusted_types)
    stream = _Stream(source, in_format, loaded, chunk_rows)
    plan = plan_columns(loaded, stream.names, str(source), columns, keep, proba)
    rows = chunks = 0
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.part")
    writer = _Writer(temporary, out_format)
    try:
        for batch in _rechunk(stream.batches(plan), chunk_rows):
            writer.write(_score_batch(loaded, batch, plan, rows))
            rows, chunks = rows + batch.num_rows, chunks + 1
            if progress is not None:
                progress(rows, stream.total)
        if chunks == 0:
            writer.write_empty(stream.schema, plan, loaded)
        writer.close()
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(Exception):  # the original error is the one to report
            writer.close()
        temporary.unlink(missing_ok=True)
        raise
    return BatchSummary(rows, chunks, time.perf_counter() - started, target)


def input_format(path: Path) -> str:
    """Return "parquet" or "csv" from the input file's suffix, or raise naming the accepted ones."""
    name = path.name.lower()
    for suffix, kind in INPUT_SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    raise InvalidInput(
        f"input {str(path)!r}: unknown file type; expected one of {', '.join(INPUT_SUFFIXES)}"
    )


def output_format_of(path: Path, given: str | None) -> str:
    """Return "parquet" or "csv": `given`, else read from the output file's suffix."""
    if given is not None:
        if given not in OUTPUT_FORMATS:
            raise InvalidInput(f"output_format must be 'parquet' or 'csv', got {given!r}")
        return given
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".csv":
        return "csv"
    raise InvalidInput(
        f"output {str(path)!r}: unknown file type; name it .parquet, .pq or .csv, or pass "
        "output_format"
    )


def plan_columns(
    model: Any,
    names: list[str],
    source: str,
    columns: list[str] | None,
    keep: list[str] | None,
    proba: bool,
) -> _Plan:
    """Return the plan after checking that every needed column is in `names`."""
    required, features = model_columns(model, columns)
    missing = [name for name in required if name not in names]
    if missing:
        raise InvalidInput(
            f"{source}: column {missing[0]!r} the model needs is missing"
            + (f" (also {missing[1:6]})" if len(missing) > 1 else "")
            + f"; the input has {names[:20]}"
        )
    if features is not None:
        features = [name for name in features if name in names]
    kept = list(names) if keep is None else list(keep)
    absent = [name for name in kept if name not in names]
    if absent:
        raise InvalidInput(
            f"{source}: column {absent[0]!r} to keep is not in the input {names[:20]}"
        )
    if proba and not callable(getattr(_estimator(model), "predict_proba", None)):
        raise InvalidInput("proba=True needs a classifier with predict_proba; this model has none")
    return _Plan(features, kept, proba, source)


def model_columns(model: Any, columns: list[str] | None) -> tuple[list[str], list[str] | None]:
    """Return (the columns that must be present, the columns the model reads or None for all)."""
    if columns is not None:
        return list(columns), list(columns)
    signature = getattr(model, "signature", None)
    if signature is not None and signature.input_kind == "dataframe":
        # A signature may mark columns optional: they are read when present, filled when not.
        names = [spec.name for spec in signature.inputs]
        return [spec.name for spec in signature.inputs if spec.required], names
    try:
        names = [str(name) for name in model.feature_names_in_]
    except AttributeError:
        return [], None
    return names, names


def predict_outputs(model: Any, frame: Any, plan: _Plan, where: str) -> dict[str, Any]:
    """Return the prediction columns for `frame` by name, as numpy arrays."""
    import numpy as np

    features = frame if plan.features is None else frame[plan.features]
    try:
        result = model.predict_proba(features) if plan.proba else model.predict(features)
    except PerenniaError as error:
        raise type(error)(f"{where}: {error}") from None
    except (ValueError, TypeError, KeyError) as error:
        raise InvalidInput(f"{where}: the model refused the input: {error}") from error
    columns_of = getattr(result, "columns", None)
    values = np.asarray(result)
    if values.ndim == 2 and values.shape[1] == 1 and not plan.proba:
        values = values[:, 0]
    if values.shape[:1] != (len(frame),):
        raise InvalidInput(
            f"{where}: the model returned {values.shape[:1] or 'a scalar'} predictions for "
            f"{len(frame)} rows"
        )
    if values.ndim == 1:
        return {"proba_0" if plan.proba else "prediction": values}
    labels = _output_labels(model, values.shape[1], plan.proba, columns_of)
    prefix = "proba_" if plan.proba else "prediction_"
    return {f"{prefix}{label}": values[:, i] for i, label in enumerate(labels)}


def _estimator(model: Any) -> Any:
    """Return what a LoadedModel wraps (the estimator with `classes_`), or `model` itself."""
    unwrap = getattr(model, "unwrap", None)
    return unwrap() if callable(unwrap) else model


def _output_labels(model: Any, width: int, proba: bool, columns: Any) -> list[str]:
    if columns is not None and len(columns) == width:
        return [str(name) for name in columns]
    if proba:
        classes = getattr(_estimator(model), "classes_", None)
        if classes is not None and len(classes) == width:
            return [str(label) for label in classes]
    return [str(i) for i in range(width)]


def _score_batch(model: Any, batch: Any, plan: _Plan, first_row: int) -> Any:
    """Return the output record batch for one input chunk."""
    import pyarrow as pa

    where = f"{plan.source} rows {first_row}-{first_row + batch.num_rows - 1}"
    frame = batch.select(plan.features).to_pandas() if plan.features is not None else None
    if frame is None:
        frame = batch.to_pandas()
    outputs = predict_outputs(model, frame, plan, where)
    clash = [name for name in outputs if name in plan.keep]
    if clash:
        raise InvalidInput(
            f"{plan.source}: output column {clash[0]!r} is also an input column; keep only "
            "other columns (keep=[...] / --keep) or rename it in the input"
        )
    kept = batch.select(plan.keep)
    arrays = list(kept.columns) + [pa.array(values) for values in outputs.values()]
    return pa.RecordBatch.from_arrays(arrays, names=[*plan.keep, *outputs])


def _rechunk(batches: Iterator[Any], size: int) -> Iterator[Any]:
    """Yield record batches of exactly `size` rows (the last may be shorter)."""
    import pyarrow as pa

    pending: list[Any] = []
    count = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        count += batch.num_rows
        while count >= size:
            merged = pending[0] if len(pending) == 1 else pa.concat_batches(pending)
            yield merged.slice(0, size)
            rest = merged.slice(size)
            pending, count = ([rest] if rest.num_rows else []), rest.num_rows
    if count:
        yield pending[0] if len(pending) == 1 else pa.concat_batches(pending)


class _Stream:
    """An opened input: its column names, schema, row count when known, and its batches."""

    def __init__(self, path: Path, kind: str, loaded: Any, chunk_rows: int) -> None:
        self.path, self.kind, self.chunk_rows = path, kind, chunk_rows
        self._csv_types = _csv_types(loaded) if kind == "csv" else {}
        self.total: int | None = None
        try:
            if kind == "parquet":
                import pyarrow.parquet as pq

                # Pre-buffering reads column chunks of many row groups ahead (measured: most
                # of the file); without it memory is bounded by one row group.
                self._parquet = pq.ParquetFile(path, pre_buffer=False)
                self.schema = self._parquet.schema_arrow
                self.total = self._parquet.metadata.num_rows
            else:
                self._csv = self._open_csv()
                self.schema = self._csv.schema
        except PerenniaError:
            raise
        except Exception as error:  # noqa: BLE001 - any reader failure means an unreadable file
            raise InvalidInput(
                f"input {str(path)!r} is not a readable {kind} file: {error}"
            ) from None
        self.names = [str(name) for name in self.schema.names]

    def _open_csv(self) -> Any:
        import pyarrow.csv as pcsv

        return pcsv.open_csv(
            self.path,
            read_options=pcsv.ReadOptions(block_size=_CSV_BLOCK),
            convert_options=pcsv.ConvertOptions(column_types=self._csv_types),
        )

    def batches(self, plan: _Plan) -> Iterator[Any]:
        """Yield the input's record batches holding the columns the plan reads or keeps."""
        wanted = list(dict.fromkeys([*(plan.features or self.names), *plan.keep]))
        try:
            if self.kind == "parquet":
                yield from self._parquet.iter_batches(batch_size=self.chunk_rows, columns=wanted)
                return
            for batch in self._csv:
                yield batch.select(wanted)
        except PerenniaError:
            raise
        except Exception as error:  # noqa: BLE001 - name the file whatever the reader raised
            hint = ""
            if self.kind == "csv":
                hint = (
                    "; CSV column types are inferred from the first block, so a column that "
                    "changes type later fails: give the model a signature or convert to Parquet"
                )
            raise InvalidInput(f"input {str(self.path)!r}: {error}{hint}") from None


def _csv_types(model: Any) -> dict[str, Any]:
    """Return Arrow types for CSV columns the signature types as floats or strings.

    Inference from the first block alone would read `1,2,3` as integers and then fail on a
    later `2.5`, or drop a zip code's leading zero; the signature knows better.
    """
    import pyarrow as pa

    from perennia.models.columns import FLOATS

    signature = getattr(model, "signature", None)
    if signature is None or signature.input_kind != "dataframe":
        return {}
    types = {}
    for spec in signature.inputs:
        if spec.dtype in FLOATS:
            types[spec.name] = pa.float64()
        elif spec.dtype == "string":
            types[spec.name] = pa.string()
    return types


class _Writer:
    """Appends record batches to a Parquet or CSV file, opened on the first batch."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind = path, kind
        self._writer: Any = None
        self.schema: Any = None

    def write(self, batch: Any) -> None:
        """Append one batch, cast to the first batch's schema so every chunk agrees."""
        import pyarrow as pa

        table = pa.Table.from_batches([batch])
        if self._writer is None:
            self.schema = table.schema
            self._writer = self._open(table.schema)
        elif not table.schema.equals(self.schema):
            try:
                table = table.cast(self.schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as error:
                raise InvalidInput(
                    f"a later chunk's columns do not fit the first chunk's types ({error})"
                ) from None
        self._writer.write_table(table)

    def write_empty(self, schema: Any, plan: _Plan, model: Any) -> None:
        """Write the kept columns and float prediction columns, with no rows (nothing to score)."""
        import pyarrow as pa

        names = ["prediction"]
        if plan.proba:
            classes = getattr(_estimator(model), "classes_", None)
            names = [f"proba_{label}" for label in (classes if classes is not None else [0])]
        fields = [schema.field(name) for name in plan.keep]
        fields += [pa.field(name, pa.float64()) for name in names]
        self.write(pa.RecordBatch.from_pylist([], schema=pa.schema(fields)))

    def _open(self, schema: Any) -> Any:
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetWriter(self.path, schema)
        import pyarrow.csv as pcsv

        return pcsv.CSVWriter(self.path, schema)

    def close(self) -> None:
        """Finish the file (the Parquet footer); safe to call twice."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

"""Hypothesis strategies for request bodies the inference server must refuse with a 4xx."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.serving.conftest import COLUMNS

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


def json_documents(keys: list[str], *, max_size: int, max_leaves: int) -> st.SearchStrategy:
    """Return a strategy of JSON values whose objects take their keys from `keys`: documents
    near enough to a protocol's to get past its first checks."""
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(keys), inner, max_size=max_size)
        ),
        max_leaves=max_leaves,
    )


# Values the fitted model itself can take (finite numbers, its three colours): the fuzzing looks
# for requests the server fails to refuse, not for values the model was never trained on.
ELEMENT = (
    st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.integers(-(2**70), 2**70)
    | st.sampled_from(["red", "green", "blue"])
    | st.booleans()
    | st.none()
)
COLUMN = st.sampled_from([*COLUMNS, "", "extra"]) | JSON

TENSOR = st.fixed_dictionaries(
    {
        "name": COLUMN,
        "datatype": st.sampled_from(["FP64", "FP32", "FP16", "INT64", "UINT8", "BOOL", "BYTES"])
        | JSON,
        "shape": st.lists(st.integers(-1, 4), max_size=3) | JSON,
    },
    optional={
        "data": st.lists(ELEMENT | st.lists(ELEMENT, max_size=3), max_size=6) | JSON,
        "parameters": st.fixed_dictionaries({}, optional={"binary_data_size": JSON}) | JSON,
    },
)
INFER_REQUEST = st.fixed_dictionaries(
    {"inputs": st.lists(TENSOR, max_size=5) | JSON},
    optional={
        "id": JSON,
        "parameters": st.fixed_dictionaries(
            {}, optional={"content_type": st.just("pd") | JSON, "binary_data_output": JSON}
        )
        | JSON,
        "outputs": st.lists(st.fixed_dictionaries({"name": JSON}), max_size=2) | JSON,
    },
)

ROWS = st.lists(st.lists(ELEMENT | JSON, max_size=5) | JSON, max_size=4)
RECORDS = st.lists(
    st.dictionaries(COLUMN.filter(lambda c: isinstance(c, str)), ELEMENT | JSON, max_size=5),
    max_size=4,
)
SCORING_REQUEST = st.dictionaries(
    st.sampled_from(["dataframe_split", "dataframe_records", "instances", "inputs", "params"]),
    JSON
    | RECORDS
    | st.fixed_dictionaries(
        {"columns": st.lists(COLUMN, max_size=5), "data": ROWS | RECORDS},
        optional={"index": JSON},
    )
    | st.dictionaries(COLUMN.filter(lambda c: isinstance(c, str)), st.lists(ELEMENT, max_size=4)),
    max_size=2,
)

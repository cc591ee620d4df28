"""ONNX models (`onnx.ModelProto`), stored as the serialized graph and run with onnxruntime.

An ONNX graph is data, not code: onnxruntime only runs the operators it knows, so no pickle is
involved. The loaded `ONNXModel.predict` feeds the graph's input(s) and returns its first
output; when the graph has a probabilities output (skl2onnx classifiers name it
"probabilities" or "output_probability") the model is an `ONNXClassifier` with
`predict_proba` too. A ZipMap probabilities output (a list of {label: probability} dicts,
skl2onnx's default) is converted to an (n, n_classes) array in the dicts' label order;
convert with `options={id(model): {"zipmap": False}}` to get the plain float32 tensor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from perennia._util import tables
from perennia.errors import IntegrityError, InvalidInput
from perennia.models.flavors.base import distribution_version

FILE = "model.onnx"
# onnxruntime's element type names -> numpy dtypes, for casting what the caller passes.
_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int8)": "int8",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(uint8)": "uint8",
    "tensor(uint16)": "uint16",
    "tensor(uint32)": "uint32",
    "tensor(uint64)": "uint64",
    "tensor(bool)": "bool",
    "tensor(string)": "str",
}


class ONNXFlavor:
    """Saves an `onnx.ModelProto` as model.onnx; loads it into an onnxruntime session."""

    name = "onnx"
    needs_pickle = False
    # Distributions loading needs beyond the model's own modules.
    requirements: tuple[str, ...] = ("onnxruntime",)

    def handles(self, model: Any) -> bool:
        """Return True for `onnx.ModelProto` objects."""
        return any(
            cls.__name__ == "ModelProto" and cls.__module__.split(".")[0] == "onnx"
            for cls in type(model).__mro__
        )

    def framework(self, model: Any) -> tuple[str, str]:
        """Return ("onnxruntime", its version): the library that runs the model."""
        return "onnxruntime", distribution_version("onnxruntime")

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        """Write model.onnx; return its inputs, outputs, opsets and producer."""
        (folder / FILE).write_bytes(model.SerializeToString())
        graph = model.graph
        initializers = {item.name for item in graph.initializer}
        outputs = [item.name for item in graph.output]
        return {
            "file": FILE,
            "onnx_version": distribution_version("onnx"),
            "ir_version": int(model.ir_version),
            "opsets": {item.domain or "ai.onnx": int(item.version) for item in model.opset_import},
            "producer": " ".join(filter(None, [model.producer_name, model.producer_version])),
            # Older exporters list initializers among the inputs; they are not fed by callers.
            "inputs": [_describe(item) for item in graph.input if item.name not in initializers],
            "outputs": outputs,
            "probability_output": _probability_output(outputs),
        }

    def load(self, folder: Path, details: dict[str, Any], *, trusted_types: list[str]) -> Any:
        """Return an ONNXClassifier when the graph has a probabilities output, else ONNXModel."""
        import onnxruntime

        session = onnxruntime.InferenceSession(
            str(folder / details.get("file", FILE)), providers=["CPUExecutionProvider"]
        )
        probability = details.get("probability_output")
        if probability is None:
            return ONNXModel(session)
        if probability not in [item.name for item in session.get_outputs()]:
            raise IntegrityError(
                f"the manifest names output {probability!r} but the ONNX graph has none by that name"
            )
        return ONNXClassifier(session, probability)


class ONNXModel:
    """A loaded ONNX graph: `predict` feeds its inputs and returns its first output."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.inputs = session.get_inputs()
        self.outputs = session.get_outputs()

    def predict(self, data: Any) -> Any:
        """Return the graph's first output for `data` (array, DataFrame, or dict by input)."""
        return self._run(self.outputs[0].name, data)

    def _run(self, output: str, data: Any) -> Any:
        result = self.session.run([output], self._feed(data))[0]
        if isinstance(result, list) and result and isinstance(result[0], dict):
            import numpy as np

            # A ZipMap output: one {label: probability} dict per row, labels in class order.
            labels = list(result[0])
            return np.array([[row[label] for label in labels] for row in result])
        return result

    def _feed(self, data: Any) -> dict[str, Any]:
        """Return {input name: array of the input's element type} for `data`."""
        names = [item.name for item in self.inputs]
        if isinstance(data, dict):
            missing = [name for name in names if name not in data]
            if missing:
                raise InvalidInput(f"the ONNX model's inputs {missing} are missing from the data")
            return {item.name: _cast(data[item.name], item.type) for item in self.inputs}
        if tables.is_table(data) and len(names) > 1:
            # skl2onnx's per-column inputs (one input per column, shape (n, 1)).
            missing = [name for name in names if name not in tables.column_names(data)]
            if missing:
                raise InvalidInput(
                    f"the ONNX model has inputs {names}; the DataFrame lacks columns {missing}"
                )
            return {
                item.name: _cast(tables.column(data, item.name).reshape(-1, 1), item.type)
                for item in self.inputs
            }
        if len(names) != 1:
            raise InvalidInput(
                f"the ONNX model has {len(names)} inputs {names}; pass a dict of arrays by input "
                "name or a DataFrame with those columns"
            )
        return {names[0]: _cast(data, self.inputs[0].type)}

    def __repr__(self) -> str:
        names = [item.name for item in self.inputs]
        return f"{type(self).__name__}(inputs={names})"


class ONNXClassifier(ONNXModel):
    """A loaded ONNX classifier: `predict` gives labels, `predict_proba` the probabilities."""

    def __init__(self, session: Any, probability_output: str) -> None:
        super().__init__(session)
        self.probability_output = probability_output

    def predict_proba(self, data: Any) -> Any:
        """Return the graph's probabilities output as an (n, n_classes) array."""
        return self._run(self.probability_output, data)


def _describe(value: Any) -> dict[str, Any]:
    """Return name, element type and shape (ints, symbolic names or None) of a graph input."""
    import onnx

    kind = value.type.WhichOneof("value")
    if kind != "tensor_type":
        return {"name": value.name, "type": kind, "shape": None}
    tensor = value.type.tensor_type
    shape = [
        dim.dim_value if dim.HasField("dim_value") else (dim.dim_param or None)
        for dim in tensor.shape.dim
    ]
    return {
        "name": value.name,
        "type": onnx.TensorProto.DataType.Name(tensor.elem_type).lower(),
        "shape": shape,
    }


def _probability_output(outputs: list[str]) -> str | None:
    """Return the output holding class probabilities, by skl2onnx's naming, or None."""
    found = [name for name in outputs[1:] if "prob" in name.lower()]
    return found[0] if found else None


def _cast(values: Any, element_type: str) -> Any:
    """Return `values` as a numpy array of the graph input's element type."""
    try:
        array = tables.to_numpy(values, "the ONNX model's input")
    except (TypeError, ValueError) as exc:
        raise InvalidInput(str(exc)) from None
    dtype = _DTYPES.get(element_type)
    if dtype is None or array.dtype == dtype:
        return array
    if dtype == "str":
        return array.astype(str)
    return array.astype(dtype)


FLAVOR = ONNXFlavor()

"""Reads a TensorFlow Lite model (a FlatBuffer, schema tensorflow/lite/schema/schema.fbs) into plain Python objects,
without TensorFlow or the flatbuffers package: only the tables and fields a float convolutional graph needs.

FlatBuffer layout, as used here: a table starts with an int32 offset back to its vtable; the vtable lists, per field
id, the field's offset inside the table (0 = absent, the default applies). Offsets to tables, vectors and strings are
uint32, relative to where they are stored; a vector is a uint32 length followed by its elements.
"""
import struct
from dataclasses import dataclass, field

import numpy as np

# BuiltinOperator codes (schema.fbs) of the operators this reader knows how to describe.
OPS = {0: "ADD", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D", 6: "DEQUANTIZE", 14: "LOGISTIC", 22: "RESHAPE"}
# TensorType codes.
DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}
PADDINGS = {0: "SAME", 1: "VALID"}
ACTIVATIONS = {0: None, 1: "RELU", 3: "RELU6"}


class _Table:
    def __init__(self, buf, pos):
        self.buf, self.pos = buf, pos
        self.vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vtable_size = struct.unpack_from("<H", buf, self.vtable)[0]

    def _field(self, index):
        slot = 4 + 2 * index
        if slot >= self.vtable_size:
            return 0
        return struct.unpack_from("<H", self.buf, self.vtable + slot)[0]

    def scalar(self, index, fmt, default=0):
        offset = self._field(index)
        return struct.unpack_from("<" + fmt, self.buf, self.pos + offset)[0] if offset else default

    def _target(self, index):
        offset = self._field(index)
        if not offset:
            return None
        at = self.pos + offset
        return at + struct.unpack_from("<I", self.buf, at)[0]

    def table(self, index):
        at = self._target(index)
        return None if at is None else _Table(self.buf, at)

    def vector(self, index, fmt):
        """A vector of scalars, as a tuple (empty when absent)."""
        at = self._target(index)
        if at is None:
            return ()
        length = struct.unpack_from("<I", self.buf, at)[0]
        return struct.unpack_from(f"<{length}{fmt}", self.buf, at + 4)

    def bytes(self, index):
        at = self._target(index)
        if at is None:
            return b""
        length = struct.unpack_from("<I", self.buf, at)[0]
        return self.buf[at + 4 : at + 4 + length]

    def string(self, index):
        return self.bytes(index).decode("utf-8")

    def tables(self, index):
        at = self._target(index)
        if at is None:
            return []
        length = struct.unpack_from("<I", self.buf, at)[0]
        items = []
        for i in range(length):
            element = at + 4 + 4 * i
            items.append(_Table(self.buf, element + struct.unpack_from("<I", self.buf, element)[0]))
        return items


@dataclass
class Tensor:
    name: str
    shape: tuple
    dtype: type
    data: np.ndarray = None  # constant tensors only


@dataclass
class Operator:
    op: str
    inputs: tuple
    outputs: tuple
    options: dict = field(default_factory=dict)


@dataclass
class Model:
    tensors: list
    operators: list
    inputs: tuple
    outputs: tuple


def _options(op, table):
    """The builtin options of an operator, by name (None-valued defaults as in schema.fbs)."""
    if op == "CONV_2D":
        return {"padding": PADDINGS[table.scalar(0, "b")], "stride": (table.scalar(2, "i"), table.scalar(1, "i")),
                "activation": table.scalar(3, "b"), "dilation": (table.scalar(5, "i", 1), table.scalar(4, "i", 1))}
    if op == "DEPTHWISE_CONV_2D":
        return {"padding": PADDINGS[table.scalar(0, "b")], "stride": (table.scalar(2, "i"), table.scalar(1, "i")),
                "depth_multiplier": table.scalar(3, "i"), "activation": table.scalar(4, "b"),
                "dilation": (table.scalar(6, "i", 1), table.scalar(5, "i", 1))}
    if op == "CONCATENATION":
        return {"axis": table.scalar(0, "i"), "activation": table.scalar(1, "b")}
    if op == "ADD":
        return {"activation": table.scalar(0, "b")}
    if op == "RESHAPE":
        return {"new_shape": table.vector(0, "i")}
    return {}


def read_model(data):
    """Parses the first subgraph of a .tflite file's bytes. Raises ValueError on anything it does not support."""
    if data[4:8] != b"TFL3":
        raise ValueError("not a TensorFlow Lite model (no TFL3 identifier)")
    root = _Table(data, struct.unpack_from("<I", data, 0)[0])
    codes = []
    for code in root.tables(1):
        builtin = max(code.scalar(0, "b"), code.scalar(3, "i"))  # the deprecated byte, or the int32 for codes > 127
        codes.append(OPS.get(builtin, f"unsupported builtin operator {builtin}"))
    buffers = [buffer.bytes(0) for buffer in root.tables(4)]
    subgraphs = root.tables(2)
    if len(subgraphs) != 1:
        raise ValueError(f"expected one subgraph, found {len(subgraphs)}")
    graph = subgraphs[0]
    tensors = []
    for table in graph.tables(0):
        type_code = table.scalar(1, "b")
        if type_code not in DTYPES:
            raise ValueError(f"tensor type {type_code} is not supported")
        shape, dtype = tuple(table.vector(0, "i")), DTYPES[type_code]
        raw = buffers[table.scalar(2, "I")]
        constant = np.frombuffer(raw, dtype=dtype).reshape(shape).copy() if raw else None
        if table.table(4) is not None and table.table(4).vector(1, "f"):
            raise ValueError(f"tensor {table.string(3)} is quantised; only float (and fp16 constants) are supported")
        tensors.append(Tensor(table.string(3), shape, dtype, constant))
    operators = []
    for table in graph.tables(3):
        op = codes[table.scalar(0, "I")]
        if op.startswith("unsupported"):
            raise ValueError(op)
        options = _options(op, table.table(4)) if table.table(4) is not None else {}
        if options.get("activation") not in (None, *ACTIVATIONS):
            raise ValueError(f"{op}: fused activation {options['activation']} is not supported")
        if "activation" in options:
            options["activation"] = ACTIVATIONS[options["activation"]]
        if options.get("dilation", (1, 1)) != (1, 1):
            raise ValueError(f"{op}: dilated convolutions are not supported")
        operators.append(Operator(op, tuple(table.vector(1, "i")), tuple(table.vector(2, "i")), options))
    return Model(tensors, operators, tuple(graph.vector(1, "i")), tuple(graph.vector(2, "i")))

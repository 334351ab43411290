"""A small helper for building deterministic ONNX graphs with numpy weights (no timestamps, fixed names)."""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8


class Graph:
    def __init__(self, name):
        self.name = name
        self.nodes, self.initializers, self.counter = [], [], 0

    def _name(self, prefix):
        self.counter += 1
        return f"{prefix}_{self.counter}"

    def const(self, value, name=None, dtype=np.float32):
        name = name or self._name("c")
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type, inputs, prefix=None, **attrs):
        out = self._name(prefix or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def rename(self, value, name):
        """Gives the final value its public name (an Identity node)."""
        self.nodes.append(helper.make_node("Identity", [value], [name], name=f"{name}_out"))
        return name

    def model(self, input_name, input_shape, output_name, output_shape, doc):
        return self.model_with_outputs(input_name, input_shape, [(output_name, output_shape)], doc)

    def model_with_outputs(self, input_name, input_shape, outputs, doc):
        """The checked model with one float input and the float outputs given as (name, shape) pairs."""
        graph = helper.make_graph(
            self.nodes,
            self.name,
            [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, input_shape)],
            [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in outputs],
            self.initializers,
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="lookalike",
            producer_version="1",
            doc_string=doc,
        )
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model, full_check=True)
        return model

def save(model, path):
    """Serialises deterministically (same graph, same bytes)."""
    data = model.SerializeToString(deterministic=True)
    with open(path, "wb") as handle:
        handle.write(data)

"""The localizer of a built-in CNN: a copy of the ONNX graph whose input takes any height and width and that also
outputs the last convolutional feature map (the input of the global average pooling) as `feature_map`
[N, C, H/32, W/32], beside the pooled `features`. scripts/build-models.sh builds the built-in localizer
(models/builtin/localizers/efficientnet-lite0-feature-map.json) with it; core/localization finds products in photos
with its map. The embedding model's own file is read, never changed (its vectors and version stay as they are).

The graph must have exactly one GlobalAveragePool node; its input is the feature map. EfficientNet-Lite0's
convolutions use SAME padding and no layer depends on the input size except the pooling, so the copy is valid at
any input size (multiples of 32 keep the map aligned with the image).

usage: add_feature_map_output.py <model.onnx> <out.onnx>
"""
import sys

import onnx
from onnx import TensorProto, helper


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    model = onnx.load(argv[1])
    graph = model.graph
    pools = [node for node in graph.node if node.op_type == "GlobalAveragePool"]
    if len(pools) != 1:
        sys.exit(f"expected one GlobalAveragePool node, found {len(pools)}")
    feature_map = pools[0].input[0]
    dims = graph.input[0].type.tensor_type.shape.dim
    dims[2].ClearField("dim_value")
    dims[2].dim_param = "height"
    dims[3].ClearField("dim_value")
    dims[3].dim_param = "width"
    # A public name for the new output (an Identity node), so callers do not depend on generated value names.
    graph.node.append(helper.make_node("Identity", [feature_map], ["feature_map"], name="feature_map_out"))
    graph.output.append(helper.make_tensor_value_info("feature_map", TensorProto.FLOAT, ["batch", "channels", "map_height", "map_width"]))
    onnx.checker.check_model(model)
    onnx.save(model, argv[2])


if __name__ == "__main__":
    main(sys.argv)

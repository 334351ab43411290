"""Builds ssd-mobilenetv2-oidv4.onnx: MediaPipe's SSD-MobileNetV2 object detector trained on Open Images V4 (24
classes, Apache-2.0), from the npm package @mediapipe/objectron@0.4.1675468480 (its tarball, `npm pack`ed, is checked
by scripts/build-models.sh). In objectron_solution_packed_assets.data, bytes [0, 184) are the label map and bytes
[184, 9987912) the TF Lite model object_detection_ssd_mobilenetv2_oidv4_fp16.tflite; both are checked here.

The conversion needs neither TensorFlow nor a converter package: tflite_reader parses the FlatBuffer, and each TF Lite
operator becomes its ONNX equivalent. DEQUANTIZE of the fp16 weights happens here (exactly, to float32 initialisers);
feature maps run NCHW (one Transpose after the NHWC input, one before each RESHAPE of a head's output, which TF Lite
flattens in NHWC order); SAME padding is auto_pad=SAME_UPPER (TF Lite puts the odd pixel after); fused RELU6 is a Clip;
the reshapes keep the batch dimension, so the ONNX model takes any batch (the TF Lite one is fixed at 1).

Input `image` [N,300,300,3] (NHWC, RGB, x / 127.5 - 1). Outputs `box_encodings` [N,1917,4] (ty, tx, th, tw against
the SSD anchors) and `class_logits` [N,1917,24] (class 0 is the background).

usage: build_ssd_detector.py <objectron.tgz> <manifest.json> <out.onnx>
       build_ssd_detector.py --reference <objectron.tgz> <input.f32> <out.f32>
         runs tflite_reference (numpy, TF Lite semantics) on float32 NHWC inputs [N,300,300,3] (raw little-endian)
         and writes box_encodings then class_logits for each image, float32: the check of the conversion.
"""
import hashlib
import json
import sys
import tarfile

import numpy as np

import tflite_reference
from onnx_graph import Graph, save
from tflite_reader import read_model

ASSETS_MEMBER = "package/objectron_solution_packed_assets.data"
ASSETS_SIZE = 9987912
LABELS_RANGE = (0, 184)
TFLITE_RANGE = (184, 9987912)
TFLITE_SHA256 = "d0a5255bf8c4f5a0bc4240741a76c41d5e939f7655078f945f50ab53a9375da6"
SIZE = 300
ANCHORS, CLASSES = 1917, 24


def unpack(tarball):
    """The label map (a list of names) and the TF Lite model's bytes, checked."""
    with tarfile.open(tarball, "r:gz") as archive:
        assets = archive.extractfile(ASSETS_MEMBER).read()
    if len(assets) != ASSETS_SIZE:
        sys.exit(f"{ASSETS_MEMBER} is {len(assets)} bytes, expected {ASSETS_SIZE}")
    tflite = assets[TFLITE_RANGE[0] : TFLITE_RANGE[1]]
    digest = hashlib.sha256(tflite).hexdigest()
    if digest != TFLITE_SHA256:
        sys.exit(f"the TF Lite model has sha256 {digest}, expected {TFLITE_SHA256}")
    labels = assets[LABELS_RANGE[0] : LABELS_RANGE[1]].decode("utf-8").splitlines()
    return labels, tflite


def convert(model):
    g = Graph("ssd-mobilenetv2-oidv4")
    constants = {}  # tensor index -> float32 array (dequantised weights)
    values = {}  # tensor index -> (ONNX value name, "nchw" for feature maps or "plain")
    (input_index,) = model.inputs
    values[input_index] = (g.op("Transpose", ["image"], prefix="to_nchw", perm=[0, 3, 1, 2]), "nchw")
    relu6_bounds = [g.const(0.0, "relu6_min"), g.const(6.0, "relu6_max")]
    for operator in model.operators:
        out = operator.outputs[0]
        options = operator.options
        if operator.op == "DEQUANTIZE":
            constants[out] = model.tensors[operator.inputs[0]].data.astype(np.float32)
            continue
        if operator.op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            source, weight_index, bias_index = operator.inputs
            x, layout = values[source]
            assert layout == "nchw" and options["padding"] == "SAME", operator
            weight, bias = constants[weight_index], constants[bias_index]
            if operator.op == "CONV_2D":  # [O,kh,kw,I] -> [O,I,kh,kw]
                weight, group = weight.transpose(0, 3, 1, 2), 1
            else:  # [1,kh,kw,C] -> [C,1,kh,kw], one group per channel
                assert options["depth_multiplier"] == 1, operator
                weight, group = weight.transpose(3, 0, 1, 2), weight.shape[3]
            y = g.op("Conv", [x, g.const(np.ascontiguousarray(weight), f"w{weight_index}"), g.const(bias, f"b{bias_index}")],
                     prefix="conv", kernel_shape=list(weight.shape[2:]), strides=list(options["stride"]), group=group,
                     auto_pad="SAME_UPPER")
        elif operator.op == "ADD":
            (a, layout_a), (b, layout_b) = values[operator.inputs[0]], values[operator.inputs[1]]
            assert layout_a == layout_b, operator
            y, layout = g.op("Add", [a, b], prefix="add"), layout_a
        elif operator.op == "RESHAPE":
            x, layout = values[operator.inputs[0]]
            if layout == "nchw":
                x = g.op("Transpose", [x], prefix="to_nhwc", perm=[0, 2, 3, 1])
            shape = model.tensors[out].shape
            assert shape[0] == 1, operator
            # 0 copies the batch dimension: the TF Lite graph's batch of 1 becomes any batch.
            y = g.op("Reshape", [x, g.const([0, *shape[1:]], f"shape{out}", dtype=np.int64)], prefix="reshape")
            layout = "plain"
        elif operator.op == "CONCATENATION":
            inputs = [values[i] for i in operator.inputs]
            assert all(layout == "plain" for _, layout in inputs), operator
            y, layout = g.op("Concat", [name for name, _ in inputs], prefix="concat", axis=options["axis"]), "plain"
        else:
            sys.exit(f"operator {operator.op} is not supported by this converter")
        if options.get("activation") == "RELU6":
            y = g.op("Clip", [y, *relu6_bounds], prefix="relu6")
        elif options.get("activation") is not None:
            sys.exit(f"fused activation {options['activation']} is not supported by this converter")
        values[out] = (y, "nchw" if operator.op in ("CONV_2D", "DEPTHWISE_CONV_2D") else layout)
    boxes, scores = (values[i][0] for i in model.outputs)
    g.rename(boxes, "box_encodings")
    g.rename(scores, "class_logits")
    doc = ("SSD-MobileNetV2 (Open Images V4, 24 classes) from @mediapipe/objectron@0.4.1675468480 "
           "(object_detection_ssd_mobilenetv2_oidv4_fp16.tflite), converted by Lookalike.")
    return g.model_with_outputs("image", ["batch", SIZE, SIZE, 3],
                                [("box_encodings", ["batch", ANCHORS, 4]), ("class_logits", ["batch", ANCHORS, CLASSES])], doc)


def check_shapes(model):
    (input_index,) = model.inputs
    expected = [(1, SIZE, SIZE, 3)], [(1, ANCHORS, 4), (1, ANCHORS, CLASSES)]
    got = [model.tensors[input_index].shape], [model.tensors[i].shape for i in model.outputs]
    if got != expected:
        sys.exit(f"unexpected model signature {got}, expected {expected}")


def main(argv):
    if len(argv) == 5 and argv[1] == "--reference":
        _, tflite = unpack(argv[2])
        model = read_model(tflite)
        images = np.fromfile(argv[3], dtype="<f4").reshape(-1, SIZE, SIZE, 3)
        with open(argv[4], "wb") as handle:
            for image in images:
                for output in tflite_reference.run(model, image[None]):
                    handle.write(output.astype("<f4").tobytes())
        return
    if len(argv) != 4:
        sys.exit(__doc__)
    labels, tflite = unpack(argv[1])
    with open(argv[2], encoding="utf-8") as handle:
        pinned = json.load(handle)["labels"]
    if labels != pinned:
        sys.exit(f"the package's label map {labels} differs from the manifest's {pinned}")
    model = read_model(tflite)
    check_shapes(model)
    save(convert(model), argv[3])


if __name__ == "__main__":
    main(sys.argv)

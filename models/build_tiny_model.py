"""Builds tiny ONNX models with the signatures of real ones, for tests: fixed random weights, a few KB.

usage: build_tiny_model.py <out.onnx> --kind maps|tokens|flat --layout NCHW|NHWC --size S --dims D
       [--input NAME] [--output NAME] [--seed N]
  maps:   image → 1x1 conv → [N, D, S/4, S/4] feature maps (as ResNet / EfficientNet before pooling)
  tokens: image → 4x4 patches → [N, (S/4)^2 + 1, D] tokens with a class token first (as ViT / CLIP / DINOv2)
  flat:   image → [N, D] already pooled
"""
import argparse

import numpy as np

from onnx_graph import Graph, save


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--kind", choices=["maps", "tokens", "flat"], default="maps")
    parser.add_argument("--layout", choices=["NCHW", "NHWC"], default="NCHW")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--dims", type=int, default=16)
    parser.add_argument("--input", default="input")
    parser.add_argument("--output", default="output")
    parser.add_argument("--seed", type=int, default=1)
    a = parser.parse_args()
    rng = np.random.default_rng(a.seed)
    g = Graph(f"tiny-{a.kind}")
    x = a.input
    if a.layout == "NHWC":
        x = g.op("Transpose", [x], perm=[0, 3, 1, 2])
    patches = g.op("Conv", [x, g.const(rng.standard_normal((a.dims, 3, 4, 4)) * 0.1), g.const(rng.standard_normal(a.dims) * 0.1)],
                   kernel_shape=[4, 4], strides=[4, 4])
    maps = g.op("Relu", [patches])
    side = a.size // 4
    if a.kind == "maps":
        out, shape = maps, ["batch", a.dims, side, side]
    elif a.kind == "flat":
        out = g.op("Flatten", [g.op("GlobalAveragePool", [maps])], axis=1)
        shape = ["batch", a.dims]
    else:
        tokens = g.op("Transpose", [g.op("Reshape", [maps, g.const([0, a.dims, -1], dtype=np.int64)])], perm=[0, 2, 1])
        cls = g.op("Mul", [g.op("ReduceMean", [tokens], axes=[1], keepdims=1), g.const(-1.0)])
        out = g.op("Concat", [cls, tokens], axis=1)
        shape = ["batch", side * side + 1, a.dims]
    g.rename(out, a.output)
    in_shape = ["batch", 3, a.size, a.size] if a.layout == "NCHW" else ["batch", a.size, a.size, 3]
    save(g.model(a.input, in_shape, a.output, shape, "tiny test model"), a.out)


if __name__ == "__main__":
    main()

"""Builds colour-texture.onnx: a deterministic colour-and-pattern descriptor, the field's "colour/pattern model beside a
semantic one". No learned weights; every constant is written here.

Input `image` [N,3,128,128], RGB in 0..1 (sRGB levels k/255; linearised by a 256-entry lookup). Output `features` [N,288]:
- colour (160): soft histograms (on 2x2-averaged colours) over 32 CIELAB centroids (4 greys, 4 muted and 24 saturated colours at 3 lightness
  levels), softmax of -d^2 / (2 sigma^2) with sigma = 14 Lab units, averaged over the whole image and a 2x2 grid;
- texture (80): oriented gradient energy (|directional derivative| of lightness at 8 orientations, Sobel-based) at
  full and half resolution, averaged over the whole image and a 2x2 grid, divided by (total energy + 0.02) so the
  orientation mix and the amount of texture are both kept;
- layout (48): mean L, a, b on a 4x4 grid, scaled to about -1..1.
Each block is power-normalised (signed square root), L2-normalised and weighted (colour 0.65, texture 0.5, layout
0.55); the whole vector is L2-normalised.

usage: build_colour_texture.py <out.onnx>
"""
import math
import sys

import numpy as np

from onnx_graph import Graph, save

SIZE = 128
SIGMA = 14.0
WEIGHTS = {"colour": 0.65, "texture": 0.5, "layout": 0.55}


def centroids():
    points = [(L, 0.0, 0.0) for L in (12, 40, 68, 94)]
    for hue in range(4):
        angle = math.radians(45 + 90 * hue)
        points.append((60, 18 * math.cos(angle), 18 * math.sin(angle)))
    for L in (35, 60, 82):
        for hue in range(8):
            angle = math.radians(45 * hue)
            points.append((L, 48 * math.cos(angle), 48 * math.sin(angle)))
    return np.array(points, dtype=np.float64)


def srgb_table():
    """Linear-light value of each 8-bit sRGB level (the input holds k/255, so a lookup is exact and cheap)."""
    v = np.arange(256, dtype=np.float64) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linearise(g, x):
    """sRGB (0..1) to linear light, [N,3,H,W]."""
    level = g.op("Cast", [g.op("Round", [g.op("Mul", [g.op("Clip", [x, g.const(0.0), g.const(1.0)]), g.const(255.0)])])], to=7)  # int64
    return g.op("Gather", [g.const(srgb_table()), level], axis=0)


XYZ = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]) / np.array([0.95047, 1.0, 1.08883])[:, None]


def lab_f(g, t):
    delta = 6.0 / 29.0
    cube = g.op("Pow", [g.op("Max", [t, g.const(1e-6)]), g.const(1.0 / 3.0)])
    lin = g.op("Add", [g.op("Div", [t, g.const(3 * delta * delta)]), g.const(4.0 / 29.0)])
    return g.op("Where", [g.op("Greater", [t, g.const(delta**3)]), cube, lin])


def linear_to_lab(g, linear):
    """Linear RGB to CIELAB (D65), [N,3,H,W] with L in 0..100."""
    f = lab_f(g, g.op("Conv", [linear, g.const(XYZ.reshape(3, 3, 1, 1))], kernel_shape=[1, 1]))
    # L = 116 fy - 16, a = 500 (fx - fy), b = 200 (fy - fz)
    lab_m = np.array([[0, 116, 0], [500, -500, 0], [0, 200, -200]], dtype=np.float64)
    return g.op("Conv", [f, g.const(lab_m.reshape(3, 3, 1, 1)), g.const([-16.0, 0.0, 0.0])], kernel_shape=[1, 1])


def linear_to_lightness(g, linear):
    """CIELAB L / 100 only, [N,1,H,W]: what the texture block needs at full resolution."""
    f = lab_f(g, g.op("Conv", [linear, g.const(XYZ[1].reshape(1, 3, 1, 1))], kernel_shape=[1, 1]))
    return g.op("Add", [g.op("Mul", [f, g.const(1.16)]), g.const(-0.16)])


def grid_means(g, x, cells, size):
    """Means over a `cells` x `cells` grid of x ([N,C,size,size]), flattened to [N, C*cells*cells]."""
    k = size // cells
    return g.op("Flatten", [g.op("AveragePool", [x], kernel_shape=[k, k], strides=[k, k])], axis=1)


def pooled_grid(g, x, size):
    """Whole-image mean and 2x2 grid means of x ([N,C,size,size]) concatenated."""
    half = size // 2
    whole = g.op("Flatten", [g.op("GlobalAveragePool", [x])], axis=1)
    quads = g.op("Flatten", [g.op("AveragePool", [x], kernel_shape=[half, half], strides=[half, half])], axis=1)
    return g.op("Concat", [whole, quads], axis=1)


def colour_block(g, lab):
    """Soft histograms of the half-resolution Lab image (a quarter of the softmax work; the grid means barely move)."""
    mu = centroids()
    w = (mu / SIGMA**2).reshape(len(mu), 3, 1, 1)
    b = -(mu**2).sum(axis=1) / (2 * SIGMA**2)
    # logits_k = -(|c|^2 - 2 c.mu_k + |mu_k|^2) / (2 sigma^2); |c|^2 is the same for every k and cancels in softmax.
    logits = g.op("Conv", [lab, g.const(w), g.const(b)], kernel_shape=[1, 1])
    soft = g.op("Softmax", [logits], axis=1)
    return pooled_grid(g, soft, SIZE // 2)


def oriented_energy(g, lightness, size):
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64) / 8.0
    sobel_y = sobel_x.T
    kernels = np.stack([math.cos(t) * sobel_x + math.sin(t) * sobel_y for t in np.arange(8) * math.pi / 8])
    response = g.op("Conv", [lightness, g.const(kernels.reshape(8, 1, 3, 3))], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    energy = pooled_grid(g, g.op("Abs", [response]), size)  # [N, 8*5]: whole (8), then 4 quadrants (8 each)
    cells = g.op("Reshape", [energy, g.const([-1, 5, 8], dtype=np.int64)])
    total = g.op("ReduceSum", [cells, g.const([2], dtype=np.int64)], keepdims=1)
    normalised = g.op("Div", [cells, g.op("Add", [total, g.const(0.02)])])
    return g.op("Flatten", [normalised], axis=1)


def texture_block(g, lightness):
    full = oriented_energy(g, lightness, SIZE)
    half = g.op("AveragePool", [lightness], kernel_shape=[2, 2], strides=[2, 2])
    return g.op("Concat", [full, oriented_energy(g, half, SIZE // 2)], axis=1)


def layout_block(g, lab):
    scaled = g.op("Mul", [lab, g.const(np.array([1 / 50.0, 1 / 60.0, 1 / 60.0]).reshape(1, 3, 1, 1))])
    centred = g.op("Sub", [scaled, g.const(np.array([1.0, 0.0, 0.0]).reshape(1, 3, 1, 1))])
    return grid_means(g, centred, 4, SIZE // 2)


def normalise(g, x, weight):
    signed_sqrt = g.op("Mul", [g.op("Sign", [x]), g.op("Sqrt", [g.op("Abs", [x])])])
    norm = g.op("ReduceL2", [signed_sqrt], axes=[1], keepdims=1)
    return g.op("Mul", [g.op("Div", [signed_sqrt, g.op("Add", [norm, g.const(1e-8)])]), g.const(weight)])


def build():
    g = Graph("colour-texture")
    linear = linearise(g, "image")
    # Colour and layout from the half-resolution image (averaged in linear light), texture from full-resolution L.
    lab_half = linear_to_lab(g, g.op("AveragePool", [linear], kernel_shape=[2, 2], strides=[2, 2]))
    blocks = [
        normalise(g, colour_block(g, lab_half), WEIGHTS["colour"]),
        normalise(g, texture_block(g, linear_to_lightness(g, linear)), WEIGHTS["texture"]),
        normalise(g, layout_block(g, lab_half), WEIGHTS["layout"]),
    ]
    features = g.op("Concat", blocks, axis=1)
    norm = g.op("ReduceL2", [features], axes=[1], keepdims=1)
    out = g.op("Div", [features, g.op("Add", [norm, g.const(1e-8)])])
    g.rename(out, "features")
    return g.model("image", ["batch", 3, SIZE, SIZE], "features", ["batch", 288], "Lookalike colour-texture descriptor v1")


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    save(build(), argv[1])


if __name__ == "__main__":
    main(sys.argv)

"""Trains the objectness head (core/localization/objectness.ts): a small class-agnostic CenterNet-style head on the
built-in localizer's feature map (EfficientNet-Lite0's last convolutional map, [1280, H/32, W/32] at 448 px), which
says per map cell "an object's centre is here" (a heatmap) and how large that object is.

Network, per cell (all 1×1 except two fixed linear poolings, so that it runs as a few matrix products in TypeScript):
  z = P·(f / 6) + p                       1280 → 32   (f: the map's cell; the map comes out of a ReLU6)
  c = mean of z over the 3×3 cells around  (context: is this cell part of something larger?)
  g = mean of z over the whole map         (the photo's usual look, mostly background)
  h = relu(W1·[z, c, g] + b1)              96 → 32
  o = W2·h + b2                            32 → 5: heat logit, dx, dy (centre offset from the cell's centre, cells),
                                           log w, log h (box size, cells)
Loss: CenterNet's penalty-reduced focal loss on the heat (Gaussian targets, σ = a sixth of the box's side, the cell
holding the centre positive) + L1 on offset and log size at cells whose target heat is ≥ 0.3, weighted by it.

Input: the training set written by benchmarks/objectness-training-set.ts (scenes disjoint from the dev sets: see
benchmarks/lib/objectness-sources.ts). Output: a little-endian float32 file of P, p, W1, b1, W2, b2 (row-major, in
that order) and its sha256 printed. Deterministic for a given training set (seeded initialisation and batch order).

usage: train_objectness_head.py <manifest.json> <training-set dir> [<training-set dir> ...]
  writes the weights beside the manifest (its `file`) and the manifest with their sha256.
"""
import os
import hashlib
import json
import sys

import numpy as np

HIDDEN = 32
SIZE = 14  # maps are padded to 14 × 14 (448 px long side / 32)
EPOCHS = 8  # held-out heat loss is lowest around epoch 6–8; it overfits after (1,440 training scenes)
BATCH = 32
LEARNING_RATE = 2e-3
SEED = 11


def load(directories):
    maps, masks, heats, regs, regw = [], [], [], [], []
    for directory in directories:
        index = json.load(open(f"{directory}/index.json"))
        data = np.fromfile(f"{directory}/features.u8", dtype=np.uint8)
        channels = index["channels"]
        for scene in index["scenes"]:
            w, h = scene["mapWidth"], scene["mapHeight"]
            cells = data[scene["offset"]: scene["offset"] + channels * w * h].reshape(channels, h, w)
            x = np.zeros((SIZE, SIZE, channels), np.uint8)
            x[:h, :w] = cells.transpose(1, 2, 0)
            m = np.zeros((SIZE, SIZE), np.float32)
            m[:h, :w] = 1
            heat, reg, weight = targets(scene["boxes"], w, h)
            maps.append(x)
            masks.append(m)
            heats.append(heat)
            regs.append(reg)
            regw.append(weight)
    return np.stack(maps), np.stack(masks), np.stack(heats), np.stack(regs), np.stack(regw)


def targets(boxes, w, h):
    """Heat (with 1 at the cell holding each centre), regression targets and their weights, in map cells."""
    heat = np.zeros((SIZE, SIZE), np.float32)
    reg = np.zeros((SIZE, SIZE, 4), np.float32)
    weight = np.zeros((SIZE, SIZE), np.float32)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5
    for left, top, bw, bh in boxes:
        cx, cy, ww, hh = (left + bw / 2) * w, (top + bh / 2) * h, bw * w, bh * h
        sx, sy = max(0.5, ww / 6), max(0.5, hh / 6)
        g = np.exp(-((xs - cx) ** 2) / (2 * sx * sx) - ((ys - cy) ** 2) / (2 * sy * sy))
        g[min(int(cy), h - 1), min(int(cx), w - 1)] = 1
        g[h:, :] = 0
        g[:, w:] = 0
        better = g > weight  # a cell regresses the object whose centre is nearest (highest target)
        reg[better] = np.stack([cx - xs, cy - ys, np.full_like(xs, np.log(ww)), np.full_like(xs, np.log(hh))], -1)[better]
        weight = np.maximum(weight, g)
        heat = np.maximum(heat, g)
    return heat, reg, np.where(weight >= 0.3, weight, 0)


def mm_(a, w):
    """a @ w over the last axis as one 2-D product (numpy runs stacked small products one by one)."""
    return (a.reshape(-1, a.shape[-1]) @ w).reshape(a.shape[:-1] + (w.shape[1],))


def box3(a):
    """Sum over each cell's 3 × 3 neighbourhood (zero outside), over axes 1 and 2."""
    p = np.pad(a, [(0, 0), (1, 1), (1, 1)] + [(0, 0)] * (a.ndim - 3))
    return sum(p[:, dy:dy + SIZE, dx:dx + SIZE] for dy in range(3) for dx in range(3))


def forward(params, x, m):
    P, p, W1, b1, W2, b2 = params
    mask = m[..., None]
    z = (mm_(x, P) + p) * mask
    count3 = np.maximum(box3(mask), 1)
    c = box3(z) / count3
    total = m.sum((1, 2))[:, None, None, None]
    g = np.broadcast_to(z.sum((1, 2), keepdims=True) / total, z.shape)
    u = mm_(np.concatenate([z, c, g], -1), W1) + b1
    hidden = np.maximum(u, 0)
    o = mm_(hidden, W2) + b2
    return o, (x, mask, z, count3, total, u, hidden, c, g)


def loss_and_grads(params, x, m, heat, reg, regw):
    P, p, W1, b1, W2, b2 = params
    o, (x, mask, z, count3, total, u, hidden, c, g) = forward(params, x, m)
    logit = o[..., 0]
    prob = np.clip(1 / (1 + np.exp(-logit)), 1e-6, 1 - 1e-6)
    pos = (heat >= 1) * m
    neg = (1 - pos) * m
    n = max(1.0, pos.sum())
    lp = -((1 - prob) ** 2) * np.log(prob) * pos
    ln = -((1 - heat) ** 4) * prob ** 2 * np.log(1 - prob) * neg
    # d/dlogit of each term (prob' = prob (1 − prob)).
    dpos = (2 * (1 - prob) * np.log(prob) * prob * (1 - prob) - (1 - prob) ** 2 * (1 - prob)) * pos
    dneg = ((1 - heat) ** 4) * (-2 * prob * np.log(1 - prob) * prob * (1 - prob) + prob ** 2 * prob) * neg
    heat_loss = (lp.sum() + ln.sum()) / n
    rw = regw * m
    wn = max(1.0, rw.sum())
    diff = o[..., 1:] - reg
    reg_loss = (np.abs(diff).sum(-1) * rw).sum() / wn
    do = np.zeros_like(o)
    do[..., 0] = (dpos + dneg) / n
    do[..., 1:] = np.sign(diff) * rw[..., None] / wn
    flat = lambda a: a.reshape(-1, a.shape[-1])
    gW2 = flat(hidden).T @ flat(do)
    gb2 = do.sum((0, 1, 2))
    du = mm_(do, W2.T) * (u > 0)
    inputs = np.concatenate([z, c, g], -1)
    gW1 = flat(inputs).T @ flat(du)
    gb1 = du.sum((0, 1, 2))
    dinputs = mm_(du, W1.T)
    k = z.shape[-1]
    dz = dinputs[..., :k].copy()
    dz += box3(dinputs[..., k:2 * k] / count3)
    dz += dinputs[..., 2 * k:].sum((1, 2), keepdims=True) / total
    dz *= mask
    gP = flat(x).T @ flat(dz)
    gp = dz.sum((0, 1, 2))
    return heat_loss, reg_loss, [gP, gp, gW1, gb1, gW2, gb2]


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    maps, masks, heats, regs, regw = load(argv[2:])
    channels = maps.shape[-1]
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(maps))
    valid, train = order[: len(maps) // 10], order[len(maps) // 10:]
    params = [
        rng.normal(0, 1 / np.sqrt(channels), (channels, HIDDEN)).astype(np.float32) * 6,
        np.zeros(HIDDEN, np.float32),
        rng.normal(0, np.sqrt(2 / (3 * HIDDEN)), (3 * HIDDEN, HIDDEN)).astype(np.float32),
        np.zeros(HIDDEN, np.float32),
        rng.normal(0, 0.01, (HIDDEN, 5)).astype(np.float32),
        np.array([-2.2, 0, 0, 1.2, 1.2], np.float32),
    ]
    first, second = [np.zeros_like(q) for q in params], [np.zeros_like(q) for q in params]
    step = 0
    scale = np.float32(1 / 6)
    for epoch in range(EPOCHS):
        rng.shuffle(train)
        rate = LEARNING_RATE * (0.1 if epoch >= EPOCHS * 0.75 else 1)
        totals = np.zeros(2)
        for start in range(0, len(train), BATCH):
            batch = train[start: start + BATCH]
            x = maps[batch].astype(np.float32) * scale
            hl, rl, grads = loss_and_grads(params, x, masks[batch], heats[batch], regs[batch], regw[batch])
            totals += [hl * len(batch), rl * len(batch)]
            step += 1
            for q, gq, mq, vq in zip(params, grads, first, second):
                mq *= 0.9
                mq += 0.1 * gq
                vq *= 0.999
                vq += 0.001 * gq * gq
                q -= (rate * (mq / (1 - 0.9 ** step)) / (np.sqrt(vq / (1 - 0.999 ** step)) + 1e-8)).astype(np.float32)
        vh, vr, _ = loss_and_grads(params, maps[valid].astype(np.float32) * scale, masks[valid], heats[valid], regs[valid], regw[valid])
        print(f"epoch {epoch + 1}: train heat {totals[0] / len(train):.4f} reg {totals[1] / len(train):.4f}; held out heat {vh:.4f} reg {vr:.4f}", flush=True)
    blob = b"".join(np.ascontiguousarray(q, dtype="<f4").tobytes() for q in params)
    weights = os.path.join(os.path.dirname(argv[1]), "objectness-head.bin")
    open(weights, "wb").write(blob)
    sha256 = hashlib.sha256(blob).hexdigest()
    manifest = {
        "id": "objectness-head",
        "version": "1",
        "description": "A class-agnostic objectness head (CenterNet-like heatmap + box size) on the built-in localizer's feature map; proposes the boxes a localized photo search embeds (core/localization/objectness.ts).",
        "file": "objectness-head.bin",
        "sha256": sha256,
        "channels": int(channels),
        "hidden": HIDDEN,
        "inputScale": 6,
        "trainedBy": "npm run train:objectness-head (scripts/train-objectness-head.sh: benchmarks/objectness-training-set.ts, then models/train_objectness_head.py)",
    }
    open(argv[1], "w").write(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {weights}: {len(blob)} bytes, sha256 {sha256}")


if __name__ == "__main__":
    main(sys.argv)

"""Measures the activation ranges that models/quantize_int8.py quantizes a model's int8 copy with, over real photos
from Debian packages (run by a developer when the model changes; the result is committed, so the build needs no
images): tuxpaint-stamps-default's photos of objects on white (what catalog photos look like), the same objects
pasted on the photo backgrounds that scripts/install-scene-sources.sh installs with a box around them (what a
localization candidate looks like: tight, loose or off), and whole background photos. Each image is prepared as the
manifest says (short side 256, centre crop 224, (v - 127) / 128). ONNX Runtime's MinMax calibrator, seeded sampling.

usage: calibrate_int8.py <model.onnx> <out.json>
(in a virtualenv with models/requirements.txt and Pillow, which the build itself does not need)
"""
import glob
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod
from onnxruntime.quantization.calibrate import create_calibrator
from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry
from PIL import Image, ImageFilter

STAMPS = sorted(glob.glob("/usr/share/tuxpaint/stamps/**/*.png", recursive=True))
BACKGROUNDS = sorted(glob.glob("/usr/share/backgrounds/**/*.jpg", recursive=True) + glob.glob("/usr/share/wallpapers/**/*.jpg", recursive=True))
SEED = 5


def tensor(image):
    w, h = image.size
    s = 256 / min(w, h)
    image = image.resize((max(224, round(w * s)), max(224, round(h * s))), Image.BILINEAR)
    w, h = image.size
    left, top = (w - 224) // 2, (h - 224) // 2
    x = (np.asarray(image.crop((left, top, left + 224, top + 224)), dtype=np.float32) - 127) / 128
    return x.transpose(2, 0, 1)[None]


def on_white(path):
    image = Image.open(path).convert("RGBA")
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    white.alpha_composite(image)
    return white.convert("RGB")


def in_scene(rng, stamp, background):
    scene = Image.open(background).convert("RGB")
    scene.thumbnail((1024, 1024))
    thing = Image.open(stamp).convert("RGBA")
    s = rng.uniform(0.3, 0.7) * min(scene.size) / max(thing.size)
    thing = thing.resize((max(8, int(thing.width * s)), max(8, int(thing.height * s))))
    x, y = rng.randint(0, scene.width - thing.width), rng.randint(0, scene.height - thing.height)
    scene.paste(thing, (x, y), thing)
    m = rng.uniform(-0.2, 0.6)
    box = (max(0, int(x - m * thing.width)), max(0, int(y - m * thing.height)), min(scene.width, int(x + (1 + m) * thing.width)), min(scene.height, int(y + (1 + m) * thing.height)))
    if box[2] - box[0] < 16 or box[3] - box[1] < 16:
        box = (0, 0, scene.width, scene.height)
    return scene.crop(box).filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.2)))


def calibration_set():
    if not STAMPS or not BACKGROUNDS:
        sys.exit("needs tuxpaint-stamps-default and the background photos (bash scripts/install-scene-sources.sh)")
    rng = random.Random(SEED)
    images = [tensor(on_white(path)) for path in rng.sample(STAMPS, 100)]
    images += [tensor(in_scene(rng, rng.choice(STAMPS), rng.choice(BACKGROUNDS))) for _ in range(120)]
    images += [tensor(Image.open(path).convert("RGB")) for path in rng.sample(BACKGROUNDS, min(40, len(BACKGROUNDS)))]
    return images


class Reader(CalibrationDataReader):
    def __init__(self, images):
        self.images = iter(images)

    def get_next(self):
        image = next(self.images, None)
        return None if image is None else {"image": image}


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    with tempfile.TemporaryDirectory() as work:
        calibrator = create_calibrator(
            Path(argv[1]),
            sorted(set(QLinearOpsRegistry) | set(QDQRegistry)),
            augmented_model_path=str(Path(work) / "augmented.onnx"),
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"moving_average": False},
        )
        images = calibration_set()
        calibrator.collect_data(Reader(images))
        data = calibrator.compute_data()
    ranges = {name: [float(np.asarray(data[name].range_value[0], dtype=np.float32).reshape(-1)[0]), float(np.asarray(data[name].range_value[1], dtype=np.float32).reshape(-1)[0])] for name in sorted(data.data)}
    Path(argv[2]).write_text(json.dumps({"written_by": "models/calibrate_int8.py (its docstring says over which photos)", "model": Path(argv[1]).name, "images": len(images), "seed": SEED, "ranges": ranges}, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv)

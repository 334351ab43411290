"""The int8 copy of a built-in embedding model (its manifest's `quantized`): the same graph with its convolutions'
weights (per output channel, int8) and activations (uint8) quantized in ONNX's QDQ form, which ONNX Runtime runs with
int8 kernels on CPU (~2.5x faster for EfficientNet-Lite0 on 2 cores). Its vectors approximate the model's (cosine
~0.98 on photo regions): the API ranks localization candidates with them and embeds only the chosen regions with the
model itself (LOCALIZE_SCORER; benchmarks/results/localization-chooser.md measures the choice).

The activations' ranges are read from a committed JSON file that models/calibrate_int8.py measured over real photos,
so the build needs no images and writes the same bytes every time (scripts/build-models.sh checks the sha256).

usage: quantize_int8.py <model.onnx> <ranges.json> <out.onnx>
"""
import json
import sys
from pathlib import Path

import numpy as np
from onnxruntime.quantization import CalibrationMethod, QuantType
from onnxruntime.quantization.calibrate import TensorData, TensorsData
from onnxruntime.quantization.qdq_quantizer import QDQQuantizer
from onnxruntime.quantization.quant_utils import load_model_with_shape_infer
from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__)
    ranges = json.loads(Path(argv[2]).read_text())["ranges"]
    model = load_model_with_shape_infer(Path(argv[1]))
    tensors = TensorsData(
        CalibrationMethod.MinMax,
        {name: TensorData(lowest=np.array([low], dtype=np.float32), highest=np.array([high], dtype=np.float32)) for name, (low, high) in ranges.items()},
    )
    quantizer = QDQQuantizer(
        model,
        True,  # per channel
        False,  # reduce range
        QuantType.QInt8,
        QuantType.QUInt8,
        tensors,
        [],  # every node
        [],  # none excluded
        sorted(set(QLinearOpsRegistry) | set(QDQRegistry)),
        {},
    )
    quantizer.quantize_model()
    quantizer.model.save_model_to_file(argv[3], False)


if __name__ == "__main__":
    main(sys.argv)

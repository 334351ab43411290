"""A plain numpy interpreter of the float TensorFlow Lite operators read by tflite_reader, written from TF Lite's
semantics (NHWC tensors, [O,kh,kw,I] and [1,kh,kw,C] filters, SAME padding with the odd pixel after) and independent of
the ONNX converter: the converted graph is checked against it.
"""
import numpy as np


def _same_padding(size, kernel, stride):
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


def _windows(x, kernel_h, kernel_w, stride, padding):
    """Yields (ky, kx, strided slice of the padded input) for each kernel tap, and the output size first."""
    _, height, width, _ = x.shape
    if padding == "SAME":
        out_h, top, bottom = _same_padding(height, kernel_h, stride[0])
        out_w, left, right = _same_padding(width, kernel_w, stride[1])
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    else:
        out_h, out_w = (height - kernel_h) // stride[0] + 1, (width - kernel_w) // stride[1] + 1
    for ky in range(kernel_h):
        for kx in range(kernel_w):
            yield ky, kx, x[:, ky : ky + stride[0] * (out_h - 1) + 1 : stride[0], kx : kx + stride[1] * (out_w - 1) + 1 : stride[1], :]


def _activate(x, activation):
    if activation == "RELU6":
        return np.clip(x, 0.0, 6.0)
    if activation == "RELU":
        return np.maximum(x, 0.0)
    return x


def conv_2d(x, weight, bias, options):
    out_channels, kernel_h, kernel_w, _ = weight.shape
    result = None
    for ky, kx, window in _windows(x, kernel_h, kernel_w, options["stride"], options["padding"]):
        term = window @ weight[:, ky, kx, :].T
        result = term if result is None else result + term
    return _activate(result + bias, options["activation"])


def depthwise_conv_2d(x, weight, bias, options):
    _, kernel_h, kernel_w, channels = weight.shape
    if options["depth_multiplier"] != 1 or channels != x.shape[3]:
        raise ValueError("only depth_multiplier 1 is supported")
    result = None
    for ky, kx, window in _windows(x, kernel_h, kernel_w, options["stride"], options["padding"]):
        term = window * weight[0, ky, kx, :]
        result = term if result is None else result + term
    return _activate(result + bias, options["activation"])


def run(model, image):
    """Runs the model on one float32 NHWC input; returns its outputs in order."""
    values = {index: tensor.data.astype(np.float32) for index, tensor in enumerate(model.tensors) if tensor.data is not None and tensor.dtype == np.float32}
    values[model.inputs[0]] = np.asarray(image, dtype=np.float32)
    for operator in model.operators:
        args = [values.get(i) if i >= 0 else None for i in operator.inputs]
        options = operator.options
        if operator.op == "DEQUANTIZE":
            result = model.tensors[operator.inputs[0]].data.astype(np.float32)
        elif operator.op == "CONV_2D":
            result = conv_2d(*args, options)
        elif operator.op == "DEPTHWISE_CONV_2D":
            result = depthwise_conv_2d(*args, options)
        elif operator.op == "ADD":
            result = _activate(args[0] + args[1], options["activation"])
        elif operator.op == "RESHAPE":
            result = args[0].reshape(model.tensors[operator.outputs[0]].shape)
        elif operator.op == "CONCATENATION":
            result = _activate(np.concatenate(args, axis=options["axis"]), options["activation"])
        elif operator.op == "LOGISTIC":
            result = 1.0 / (1.0 + np.exp(-args[0]))
        else:
            raise ValueError(f"operator {operator.op} is not supported")
        values[operator.outputs[0]] = result.astype(np.float32)
    return [values[i] for i in model.outputs]

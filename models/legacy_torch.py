"""Reads a legacy (pre-1.6) PyTorch checkpoint into numpy arrays, without PyTorch.

The legacy format is a sequence of pickles: a magic number, the protocol version, system info, the object itself
(tensors refer to storages through persistent ids), the list of storage keys, then each storage's raw bytes, every
one preceded by its element count as a little-endian int64. Only tensors, storages and ordered dicts are understood:
nothing in the file can make this reader import or call anything else.
"""
import collections
import io
import pickle
import struct

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C
DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name):
        self.dtype = np.dtype(DTYPES[name])


class _Storage:
    def __init__(self, key, dtype):
        self.key, self.dtype, self.data = key, dtype, None


class _TensorRef:
    """A tensor waiting for its storage's bytes: storage, offset, size, stride."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def to_numpy(self):
        data = self.storage.data
        item = data.itemsize
        if not self.size:
            return np.array(data[self.offset])
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.size, strides=tuple(s * item for s in self.stride), writeable=False
        )
        return np.ascontiguousarray(view)


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    return _TensorRef(storage, offset, size, stride)


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, storages):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, _size = pid[:5]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind}")
        dtype = storage_type.dtype if isinstance(storage_type, _StorageType) else np.dtype(np.float32)
        if key not in self.storages:
            self.storages[key] = _Storage(key, dtype)
        return self.storages[key]


class _Plain(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def load_state_dict(path):
    """Returns an ordered dict of parameter name -> numpy array."""
    with open(path, "rb") as handle:
        raw = handle.read()
    stream = io.BytesIO(raw)
    if _Plain(stream).load() != MAGIC:
        raise ValueError(f"{path}: not a legacy PyTorch checkpoint")
    _Plain(stream).load()  # protocol version
    _Plain(stream).load()  # system info
    storages = {}
    obj = _Unpickler(stream, storages).load()
    keys = _Plain(stream).load()
    for key in keys:
        (count,) = struct.unpack("<q", stream.read(8))
        storage = storages[key]
        nbytes = count * storage.dtype.itemsize
        storage.data = np.frombuffer(stream.read(nbytes), dtype=storage.dtype.newbyteorder("<"), count=count)
        if storage.data.size != count:
            raise ValueError(f"{path}: storage {key} is truncated")
    return collections.OrderedDict((name, ref.to_numpy()) for name, ref in obj.items())

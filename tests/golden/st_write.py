"""A minimal, independent safetensors writer (Python standard library + numpy only).

kiln's tests read files written by this module to check that kiln loads what other tools write,
and the golden-data scripts beside it (which compute expected values with PyTorch) use it to store
their inputs, weights and outputs. It follows the published format: an 8-byte little-endian header
length N, N bytes of JSON ({name: {"dtype", "shape", "data_offsets"}, "__metadata__": {...}}), then
the raw little-endian data of each tensor, back to back.
"""
import json
import struct

import numpy as np

_DTYPES = {
    np.dtype("float32"): "F32",
    np.dtype("float64"): "F64",
    np.dtype("float16"): "F16",
    np.dtype("int64"): "I64",
    np.dtype("int32"): "I32",
    np.dtype("uint8"): "U8",
    np.dtype("bool"): "BOOL",
}


def _c_contiguous(array):
    # np.ascontiguousarray would turn a 0-d array (a scalar, shape []) into shape [1].
    array = np.asarray(array)
    return array if array.flags.c_contiguous else array.copy(order="C")


def save(path, tensors, metadata=None):
    """Writes {name: numpy array} to `path` (arrays are stored C-contiguous, little-endian).

    A value may also be a pair (safetensors dtype name, array) to store the array's raw bytes under
    that name: numpy has no bfloat16, so ("BF16", uint16 array of the bit patterns) writes one.
    """
    header = {}
    blobs = []
    offset = 0
    for name, array in tensors.items():
        if isinstance(array, tuple):
            dtype, array = array
            array = _c_contiguous(array)
        else:
            array = _c_contiguous(array)
            dtype = _DTYPES[array.dtype]
        data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)

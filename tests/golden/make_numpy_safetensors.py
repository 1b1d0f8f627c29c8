"""Writes numpy_written.safetensors: one tensor of every dtype kiln reads, with values given by simple
formulas that tests/core/test_safetensors_numpy.cpp recomputes in C++ and compares exactly (bit for bit).

Uses only the Python standard library and numpy (Debian's python3-numpy), through st_write.py, an
independent writer: kiln reading this file shows it reads what other tools write.
    /usr/bin/python3 tests/golden/make_numpy_safetensors.py

With --check FILE it instead reads FILE (written by kiln's save_safetensors with the same tensors)
with its own reader and checks every value and the metadata: kiln's files are readable by others.
"""
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402


def bits(dtype, values):
    """An array of `dtype` with the given raw bit patterns (unsigned ints of the same width)."""
    width = {np.float16: np.uint16, np.float32: np.uint32, np.float64: np.uint64}[dtype]
    return np.array(values, dtype=width).view(dtype)


def bf16_of(float32_values):
    """bfloat16 bit patterns (uint16) of float32 values that bfloat16 holds exactly (top 16 bits)."""
    u = np.array(float32_values, dtype=np.float32).view(np.uint32)
    assert np.all(u & 0xFFFF == 0), "value not exact in bfloat16"
    return (u >> 16).astype(np.uint16)


def tensors():
    """name -> numpy array, or (safetensors dtype, raw array) for BF16. Element i is the row-major index."""
    i24 = np.arange(24, dtype=np.float64)
    i15 = np.arange(15, dtype=np.float64)
    return {
        # f32[i] = float32((i − 7) / 3), rounded from the double quotient
        "f32": ((i24 - 7) / 3).astype(np.float32).reshape(2, 3, 4),
        # 0, −0, ±inf, a NaN with a payload, the smallest subnormal, the largest and smallest normal
        "f32_special": bits(np.float32, [0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00001,
                                         0x00000001, 0x7F7FFFFF, 0x00800000]),
        # C-order copy of a transposed view: element [r][c] = 3c + r
        "f32_transposed": np.arange(6, dtype=np.float32).reshape(2, 3).T,
        # f64[i] = (i − 4) / 7
        "f64": ((i15 - 4) / 7).reshape(3, 5),
        # −0, +inf, a NaN with a payload, the smallest subnormal, the largest double, 0.1
        "f64_special": bits(np.float64, [0x8000000000000000, 0x7FF0000000000000, 0x7FF8000000000123,
                                         0x0000000000000001, 0x7FEFFFFFFFFFFFFF, 0x3FB999999999999A]),
        # f16[i] = i/4 − 1 (exact in half precision)
        "f16": (np.arange(8, dtype=np.float64) / 4 - 1).astype(np.float16).reshape(2, 4),
        # 65504, −65504, the smallest subnormal 2⁻²⁴, −0, +inf, a NaN with a payload
        "f16_special": bits(np.float16, [0x7BFF, 0xFBFF, 0x0001, 0x8000, 0x7C00, 0x7E01]),
        # bf16[i] = (i − 2.5)·2^i (exact in bfloat16), as bit patterns
        "bf16": ("BF16", bf16_of([(i - 2.5) * 2.0 ** i for i in range(6)]).reshape(3, 2)),
        # +inf, −0, a NaN with a payload, the largest finite, the smallest subnormal
        "bf16_special": ("BF16", np.array([0x7F80, 0x8000, 0x7FC1, 0x7F7F, 0x0001], dtype=np.uint16)),
        # i64[i] = i·1000000007 − 3·10¹²
        "i64": (np.arange(8, dtype=np.int64) * 1000000007 - 3000000000000).reshape(2, 2, 2),
        "i64_special": np.array([-2 ** 63, 2 ** 63 - 1, -1, 0], dtype=np.int64),
        # i32[i] = (i² − 10)·12345, then the extremes
        "i32": np.array([(i * i - 10) * 12345 for i in range(7)] + [-2 ** 31, 2 ** 31 - 1], dtype=np.int32),
        # u8[i] = 37·i mod 256
        "u8": ((np.arange(16) * 37) % 256).astype(np.uint8).reshape(4, 4),
        # bool[i] = (i mod 3 == 0)
        "bool": (np.arange(9) % 3 == 0).reshape(3, 3),
        "scalar_f64": np.array(-1.0 / 3.0, dtype=np.float64),
        "scalar_i64": np.array(42, dtype=np.int64),
        "empty_f32": np.zeros((0,), dtype=np.float32),
        "empty_i64": np.zeros((2, 0, 3), dtype=np.int64),
    }


METADATA = {"writer": "numpy + st_write.py", "text": "quote \" backslash \\ newline \n tab \t \u00e9 \u2713 \U0001F600"}

_NUMPY = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4", "U8": "u1",
          "BOOL": "?"}


def read(path):
    """An independent reader: {name: (dtype name, numpy array)}, metadata."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", {})
    out = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=_NUMPY[entry["dtype"]]).reshape(entry["shape"])
        out[name] = (entry["dtype"], array)
    return out, metadata


def check(path):
    """Compares a kiln-written file with tensors() bit for bit; exits non-zero on the first difference."""
    found, metadata = read(path)
    expected = tensors()
    problems = []
    if set(found) != set(expected):
        problems.append("names differ: %s vs %s" % (sorted(found), sorted(expected)))
    for name, value in expected.items():
        if name not in found:
            continue
        dtype, want = value if isinstance(value, tuple) else (st_write._DTYPES[np.asarray(value).dtype], value)
        got_dtype, got = found[name]
        want = st_write._c_contiguous(want)
        if got_dtype != dtype or list(got.shape) != list(want.shape) or got.tobytes() != want.tobytes():
            problems.append("%s: %s %s differs from %s %s" % (name, got_dtype, got.shape, dtype, want.shape))
    if metadata != METADATA:
        problems.append("metadata %r differs from %r" % (metadata, METADATA))
    for p in problems:
        print("check_kiln_written: %s: %s" % (path, p))
    if problems:
        sys.exit(1)
    print("check_kiln_written: %s: all %d tensors and the metadata match" % (path, len(expected)))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
        return
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "numpy_written.safetensors")
    st_write.save(out, tensors(), METADATA)
    print("wrote", out, os.path.getsize(out), "bytes")


if __name__ == "__main__":
    main()

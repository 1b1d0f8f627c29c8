#!/usr/bin/env python3
"""Compares two safetensors files tensor by tensor: prints every tensor that differs with its max absolute
difference. Standard library and numpy only. Usage: compare_safetensors.py A B"""
import json, struct, sys
import numpy as np

DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
          "U8": np.uint8, "BOOL": np.bool_, "BF16": np.uint16}


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(body[a:b], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


def main():
    a, b = read(sys.argv[1]), read(sys.argv[2])
    differ = 0
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            print(f"{name}: only in {'first' if name in a else 'second'} file")
            differ += 1
        elif a[name].shape != b[name].shape or a[name].tobytes() != b[name].tobytes():
            diff = np.abs(a[name].astype(np.float64) - b[name].astype(np.float64)).max() if a[name].shape == b[name].shape else float("nan")
            print(f"{name}: differs, max |a-b| = {diff:.3g}")
            differ += 1
    print(f"{differ} of {len(set(a) | set(b))} tensors differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())

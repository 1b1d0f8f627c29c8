"""Golden data for kiln's LSTM and GRU layers (tests/layers/test_rnn.cpp), computed with PyTorch.

For each case (torch.nn.LSTM and torch.nn.GRU, 2 layers, batch_first False and True, initial states given,
float64) it stores, under the prefix "<case>.": the input x, the initial states h0 (and c0), the outputs
out, h_n (and c_n), fixed random projection weights w_out, w_h (and w_c), the gradients of
L = sum(out*w_out) + sum(h_n*w_h) [+ sum(c_n*w_c)] with respect to x, h0 (c0) and every parameter
("grad.<name>"), and the module's state_dict ("state.<name>", PyTorch's exact names).

Run with Debian's Python (which has python3-torch): /usr/bin/python3 tests/golden/make_rnn.py
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402

torch.set_default_dtype(torch.float64)
torch.manual_seed(20261122)

INPUT, HIDDEN, LAYERS, T, N = 3, 5, 2, 4, 3


def case(name, cls, batch_first, tensors):
    module = cls(INPUT, HIDDEN, num_layers=LAYERS, batch_first=batch_first)
    lstm = cls is torch.nn.LSTM
    x = torch.randn((N, T, INPUT) if batch_first else (T, N, INPUT), requires_grad=True)
    h0 = torch.randn(LAYERS, N, HIDDEN, requires_grad=True)
    c0 = torch.randn(LAYERS, N, HIDDEN, requires_grad=True) if lstm else None
    if lstm:
        out, (h_n, c_n) = module(x, (h0, c0))
    else:
        out, h_n = module(x, h0)
    w_out, w_h = torch.randn(out.shape), torch.randn(h_n.shape)
    loss = (out * w_out).sum() + (h_n * w_h).sum()
    if lstm:
        w_c = torch.randn(c_n.shape)
        loss = loss + (c_n * w_c).sum()
    loss.backward()

    p = name + "."
    put = {"x": x, "h0": h0, "out": out, "h_n": h_n, "w_out": w_out, "w_h": w_h, "grad_x": x.grad, "grad_h0": h0.grad}
    if lstm:
        put.update({"c0": c0, "c_n": c_n, "w_c": w_c, "grad_c0": c0.grad})
    for key, value in put.items():
        tensors[p + key] = value.detach().numpy().copy()
    for key, value in module.state_dict().items():
        tensors[p + "state." + key] = value.detach().numpy().copy()
    for key, param in module.named_parameters():
        tensors[p + "grad." + key] = param.grad.detach().numpy().copy()


def main():
    tensors = {}
    case("lstm", torch.nn.LSTM, False, tensors)
    case("lstm_batch_first", torch.nn.LSTM, True, tensors)
    case("gru", torch.nn.GRU, False, tensors)
    case("gru_batch_first", torch.nn.GRU, True, tensors)
    for key, value in tensors.items():
        assert value.dtype == np.float64, key
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rnn.safetensors")
    st_write.save(path, tensors, metadata={"generator": "tests/golden/make_rnn.py", "torch": torch.__version__})
    print("wrote", path, os.path.getsize(path), "bytes,", len(tensors), "tensors")


if __name__ == "__main__":
    main()

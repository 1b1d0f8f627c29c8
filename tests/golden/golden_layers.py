"""Golden data for every kind of kiln layer (tests/layers/test_golden_layers.cpp), from PyTorch 1.13 in float64.

Writes tests/golden/layers.safetensors. For each case, under the prefix "<case>.":
  <name>            the module's state_dict BEFORE the forward (PyTorch's exact names = kiln's names)
  <input>           the inputs (x, or the int64 indices of an embedding)
  output            the output of the forward (in the mode the case names: train or eval)
  w                 a random projection weight: loss = sum(output * w)
  grad.<input>      the gradient of the loss with respect to each floating input
  grad.<param>      the gradient of the loss with respect to each parameter
  updated.<buffer>  the buffers AFTER the forward (BatchNorm's running_mean, running_var, num_batches_tracked)

Biases and norm affine parameters are re-drawn at random (PyTorch starts them at 0 and 1, which would leave
their use untested); BatchNorm's running statistics start at random values and num_batches_tracked at 3;
the embedding's padding row is re-drawn too (its forward value is the row itself, its gradient zero).
The cases and their hyperparameters are written out again in tests/layers/test_golden_layers.cpp.

Run: /usr/bin/python3 tests/golden/golden_layers.py
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402

FILE_NAME = "layers.safetensors"


def randomize(module):
    """Non-trivial biases, affine weights and running statistics."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name == "bias":
                p.uniform_(-0.5, 0.5)
            elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)) and name == "weight":
                p.uniform_(0.5, 1.5)
            elif isinstance(module, nn.Embedding):
                p.normal_()  # the padding row included
        for name, b in module.named_buffers():
            if name == "running_mean":
                b.normal_(0.0, 0.5)
            elif name == "running_var":
                b.uniform_(0.5, 2.0)
            elif name == "num_batches_tracked":
                b.fill_(3)


def record(out, case, module, inputs, forward=None, train=True):
    """Runs forward(*inputs) (default: the module), backpropagates sum(output * w), stores everything."""
    if module is not None:
        randomize(module)
        module.train(train)
        for name, t in module.state_dict().items():
            out[f"{case}.{name}"] = t.detach().numpy().copy()
    for name, x in inputs.items():
        if x.is_floating_point():
            x.requires_grad_(True)
        out[f"{case}.{name}"] = x.detach().numpy().copy()
    y = (forward or module)(*inputs.values())
    w = torch.randn(y.shape)
    (y * w).sum().backward()
    out[f"{case}.output"] = y.detach().numpy().copy()
    out[f"{case}.w"] = w.numpy()
    for name, x in inputs.items():
        if x.is_floating_point():
            out[f"{case}.grad.{name}"] = x.grad.numpy().copy()
    if module is not None:
        for name, p in module.named_parameters():
            out[f"{case}.grad.{name}"] = p.grad.numpy().copy()
        for name, b in module.named_buffers():
            out[f"{case}.updated.{name}"] = b.detach().numpy().copy()


def main():
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(20261123)
    out = {}
    r = torch.randn

    # ---- Linear
    record(out, "linear", nn.Linear(5, 4), {"x": r(3, 5)})
    record(out, "linear_3d", nn.Linear(5, 4), {"x": r(2, 3, 5)})
    record(out, "linear_1d", nn.Linear(5, 4), {"x": r(5)})
    record(out, "linear_nobias", nn.Linear(5, 4, bias=False), {"x": r(3, 5)})

    # ---- Conv2d
    record(out, "conv2d", nn.Conv2d(3, 4, 3), {"x": r(2, 3, 6, 5)})
    record(out, "conv2d_stride_pad", nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(1, 2)), {"x": r(2, 3, 7, 6)})
    record(out, "conv2d_dilation", nn.Conv2d(2, 3, 3, padding=2, dilation=(2, 1)), {"x": r(2, 2, 7, 6)})
    record(out, "conv2d_groups", nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), {"x": r(2, 4, 7, 7)})
    record(out, "conv2d_depthwise", nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False), {"x": r(2, 4, 5, 5)})

    # ---- ConvTranspose2d
    record(out, "conv_transpose2d", nn.ConvTranspose2d(3, 2, 3, stride=2), {"x": r(2, 3, 4, 3)})
    record(out, "conv_transpose2d_pad", nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
           {"x": r(2, 3, 4, 3)})
    record(out, "conv_transpose2d_groups",
           nn.ConvTranspose2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), output_padding=(1, 0), groups=2,
                              dilation=(1, 2)),
           {"x": r(2, 4, 3, 4)})

    # ---- BatchNorm (train: batch statistics, running statistics updated; eval: running statistics)
    record(out, "batchnorm1d_train", nn.BatchNorm1d(4), {"x": r(6, 4)})
    record(out, "batchnorm1d_train_3d", nn.BatchNorm1d(3, momentum=0.3), {"x": r(4, 3, 5)})
    record(out, "batchnorm1d_eval", nn.BatchNorm1d(4), {"x": r(6, 4)}, train=False)
    record(out, "batchnorm2d_train", nn.BatchNorm2d(3), {"x": r(2, 3, 4, 5)})
    record(out, "batchnorm2d_eval", nn.BatchNorm2d(3, eps=1e-3), {"x": r(2, 3, 4, 5)}, train=False)
    record(out, "batchnorm2d_train_cumulative", nn.BatchNorm2d(3, momentum=None), {"x": r(2, 3, 4, 5)})
    record(out, "batchnorm2d_no_affine", nn.BatchNorm2d(3, affine=False), {"x": r(2, 3, 4, 5)})
    record(out, "batchnorm2d_untracked_eval", nn.BatchNorm2d(3, track_running_stats=False), {"x": r(2, 3, 4, 5)},
           train=False)

    # ---- LayerNorm, GroupNorm
    record(out, "layernorm", nn.LayerNorm(6), {"x": r(2, 3, 6)})
    record(out, "layernorm_2d", nn.LayerNorm((3, 4), eps=1e-3), {"x": r(2, 3, 4)})
    record(out, "layernorm_no_affine", nn.LayerNorm(6, elementwise_affine=False), {"x": r(4, 6)})
    record(out, "groupnorm", nn.GroupNorm(2, 6), {"x": r(2, 6, 3, 3)})
    record(out, "groupnorm_3d", nn.GroupNorm(3, 6, eps=1e-3), {"x": r(3, 6, 5)})
    record(out, "groupnorm_no_affine", nn.GroupNorm(1, 4, affine=False), {"x": r(2, 4, 3, 2)})

    # ---- Embedding: repeated indices accumulate gradients; padding_idx rows get none
    idx = torch.tensor([[1, 2, 6, 1, 2], [0, 2, 2, 5, 1], [6, 6, 3, 2, 0]])
    record(out, "embedding", nn.Embedding(7, 4), {"indices": idx.clone()})
    record(out, "embedding_padding", nn.Embedding(7, 4, padding_idx=2), {"indices": idx.clone()})
    record(out, "embedding_padding_negative", nn.Embedding(7, 4, padding_idx=-1), {"indices": idx.clone()})

    # ---- Pooling
    record(out, "maxpool2d", nn.MaxPool2d(3, stride=2, padding=1), {"x": r(2, 3, 7, 6)})
    record(out, "maxpool2d_dilation", nn.MaxPool2d((2, 3), stride=1, dilation=(2, 1)), {"x": r(1, 2, 6, 6)})
    # ties (small integers, exact in float32): the first maximum in scan order takes the gradient
    record(out, "maxpool2d_ties", nn.MaxPool2d(2, stride=1), {"x": torch.randint(0, 3, (1, 2, 5, 5)).double()})
    record(out, "avgpool2d", nn.AvgPool2d(2), {"x": r(2, 3, 6, 5)})
    record(out, "avgpool2d_pad_include", nn.AvgPool2d(3, stride=2, padding=1), {"x": r(2, 2, 7, 6)})
    record(out, "avgpool2d_pad_exclude", nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
           {"x": r(2, 2, 7, 6)})
    record(out, "avgpool2d_rect", nn.AvgPool2d((3, 2), stride=(1, 2), padding=(1, 1), count_include_pad=False),
           {"x": r(1, 2, 5, 6)})
    # kiln has the functional op adaptive_avg_pool2d (no module): uneven, overlapping windows
    record(out, "adaptive_avgpool2d", None, {"x": r(2, 3, 7, 5)}, lambda x: F.adaptive_avg_pool2d(x, (3, 2)))
    record(out, "adaptive_avgpool2d_global", None, {"x": r(2, 3, 4, 5)}, lambda x: F.adaptive_avg_pool2d(x, 1))

    # ---- Upsample (nearest)
    record(out, "upsample_scale2", nn.Upsample(scale_factor=2, mode="nearest"), {"x": r(1, 2, 3, 4)})
    record(out, "upsample_scale_2x3", nn.Upsample(scale_factor=(2, 3), mode="nearest"), {"x": r(1, 2, 3, 2)})
    record(out, "upsample_size", nn.Upsample(size=(5, 7), mode="nearest"), {"x": r(1, 2, 3, 4)})
    # a non-integer factor: PyTorch's source index is floor(dst / scale_factor), not floor(dst * in / out)
    record(out, "upsample_scale_1p7", nn.Upsample(scale_factor=1.7, mode="nearest"), {"x": r(1, 2, 5, 3)})

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), FILE_NAME)
    st_write.save(path, out, metadata={"generator": "golden_layers.py", "torch": torch.__version__})
    print(f"wrote {path}: {len(out)} tensors, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()

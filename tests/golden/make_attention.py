"""Golden data for kiln's attention layers, computed with PyTorch 1.13 (Debian's python3-torch) in float64.

Writes tests/golden/attention.safetensors with, for each case, the module's state_dict (its exact names,
prefixed with the case name), the inputs, a projection weight w, the output and the gradients of
loss = sum(output * w) with respect to every input and parameter ("<case>.grad.<name>").

  mha_cross      torch.nn.MultiheadAttention(8, 2), batch_first=False, query [5, 2, 8], key/value [7, 2, 8]
  mha_cross_bf   the same with batch_first=True: query [2, 5, 8], key/value [2, 7, 8]
  mha_causal     self-attention (query = key = value = x [6, 2, 8]) with attn_mask = triu(ones(6, 6), 1)
  mha_causal_bf  the same with batch_first=True, x [2, 6, 8]
  block          a pre-LayerNorm transformer block with kiln's submodule names (ln1, attn.qkv, attn.proj,
                 ln2, mlp.fc, mlp.fc2), E = 16, 4 heads, x [2, 7, 16]; PyTorch 1.13 has no
                 F.scaled_dot_product_attention, so the causal attention is written out.

Biases and LayerNorm affine parameters are re-drawn at random (PyTorch starts them at 0 and 1, which
would leave their use untested). Run: /usr/bin/python3 tests/golden/make_attention.py
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402

torch.set_default_dtype(torch.float64)
torch.manual_seed(20261122)


class CausalSelfAttention(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super().__init__()
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim)
        self.proj = nn.Linear(embed_dim, embed_dim)
        self.num_heads = num_heads

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = [t.view(B, T, self.num_heads, C // self.num_heads).transpose(1, 2) for t in (q, k, v)]
        scores = q @ k.transpose(-2, -1) / math.sqrt(C // self.num_heads)
        hidden = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        scores = scores.masked_fill(hidden, float("-inf"))
        y = torch.softmax(scores, dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, embed_dim, hidden_dim):
        super().__init__()
        self.fc = nn.Linear(embed_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, embed_dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc(x)))


class Block(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(embed_dim)
        self.attn = CausalSelfAttention(embed_dim, num_heads)
        self.ln2 = nn.LayerNorm(embed_dim)
        self.mlp = MLP(embed_dim, 4 * embed_dim)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


def randomize_biases_and_norms(module):
    with torch.no_grad():
        for name, p in module.named_parameters():
            leaf = name.split(".")[-1]
            if "bias" in leaf:
                p.uniform_(-0.5, 0.5)
            elif name.startswith("ln") and leaf == "weight":
                p.uniform_(0.5, 1.5)


def record(out, case, module, inputs, forward):
    """Runs forward(*inputs), backpropagates sum(output * w) and stores everything under `case.`."""
    randomize_biases_and_norms(module)
    for name, x in inputs.items():
        x.requires_grad_(True)
    y = forward(*inputs.values())
    w = torch.randn(y.shape)
    (y * w).sum().backward()
    for name, p in module.state_dict().items():
        out[f"{case}.{name}"] = p.detach().numpy().copy()
    for name, x in inputs.items():
        out[f"{case}.{name}"] = x.detach().numpy().copy()
        out[f"{case}.grad.{name}"] = x.grad.numpy().copy()
    for name, p in module.named_parameters():
        out[f"{case}.grad.{name}"] = p.grad.numpy().copy()
    out[f"{case}.w"] = w.numpy()
    out[f"{case}.output"] = y.detach().numpy().copy()


def main():
    out = {}
    E, H = 8, 2
    for case, batch_first in (("mha_cross", False), ("mha_cross_bf", True)):
        mha = nn.MultiheadAttention(E, H, batch_first=batch_first)
        shape_q, shape_kv = ((2, 5, E), (2, 7, E)) if batch_first else ((5, 2, E), (7, 2, E))
        inputs = {"query": torch.randn(shape_q), "key": torch.randn(shape_kv), "value": torch.randn(shape_kv)}
        record(out, case, mha, inputs, lambda q, k, v, m=mha: m(q, k, v, need_weights=False)[0])
    for case, batch_first in (("mha_causal", False), ("mha_causal_bf", True)):
        mha = nn.MultiheadAttention(E, H, batch_first=batch_first)
        T = 6
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        inputs = {"x": torch.randn((2, T, E) if batch_first else (T, 2, E))}
        record(out, case, mha, inputs, lambda x, m=mha: m(x, x, x, need_weights=False, attn_mask=mask)[0])
    block = Block(16, 4)
    record(out, "block", block, {"x": torch.randn(2, 7, 16)}, block)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "attention.safetensors")
    st_write.save(path, out, metadata={"generator": "make_attention.py", "torch": torch.__version__})
    print(f"wrote {path}: {len(out)} tensors, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()

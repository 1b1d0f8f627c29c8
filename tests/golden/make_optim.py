"""Golden data for kiln's optimizers: torch.optim (PyTorch 1.13, CPU, float64, its single-tensor paths)
run for 6 steps over three parameters (one of them a 0-d scalar) with a changing learning rate, each
parameter skipped (no gradient) on some steps. Stores the initial values, every gradient, and for each
optimizer the final parameters and state buffers. Run with Debian's /usr/bin/python3."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)

SHAPES = [(3, 4), (5,), ()]
STEPS = 6
# The same configurations are written out in tests/optim/test_optim_golden.cpp.
CONFIGS = {
    "sgd": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
    "sgd_nesterov": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.8, weight_decay=0.05, nesterov=True),
    "adam": lambda ps: torch.optim.Adam(ps, lr=0.02),
    "adam_wd_amsgrad": lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1,
                                                   amsgrad=True),
    "adamw_amsgrad": lambda ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.5, 0.7), weight_decay=0.2, amsgrad=True),
}


def has_grad(step, k):
    return (step + k) % 4 != 3


def lr_at(base, step):
    return base * (1.0 - 0.05 * step)


init = [torch.randn(s) for s in SHAPES]
grads = {(s, k): torch.randn(SHAPES[k]) for s in range(STEPS) for k in range(len(SHAPES)) if has_grad(s, k)}

out = {}
for k, p in enumerate(init):
    out[f"init.{k}"] = p.numpy()
for (s, k), g in grads.items():
    out[f"grad.{s}.{k}"] = g.numpy()

for name, make in CONFIGS.items():
    params = [p.clone().requires_grad_() for p in init]
    opt = make(params)
    base = opt.param_groups[0]["lr"]
    for s in range(STEPS):
        opt.param_groups[0]["lr"] = lr_at(base, s)
        for k, p in enumerate(params):
            p.grad = grads[(s, k)].clone() if has_grad(s, k) else None
        opt.step()
    for k, p in enumerate(params):
        out[f"{name}.param.{k}"] = p.detach().numpy()
        for buf, t in opt.state[p].items():
            if buf != "step" and t is not None:
                out[f"{name}.state.{k}.{buf}"] = t.numpy()

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim.safetensors")
st_write.save(path, out, {"generator": "tests/golden/make_optim.py", "torch": torch.__version__})
print(f"wrote {path}: {len(out)} tensors")

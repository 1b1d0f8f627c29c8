"""The conv VAE of shared/anchors/torch_anchors.py trained in PyTorch exactly as `kiln train vae` trains
it (Adam 1e-3, batch 128, loss = BCE-with-logits summed over pixels + KL, summed over the batch; the test
loss per image after every epoch), for docs/results.md's side-by-side table.

    /usr/bin/python3 benchmarks/quality/torch_vae.py --epochs 2 [--data DIR] [--threads N]

Needs Debian's python3-torch and python3-numpy; runs on the CPU (or CUDA when available).
"""
import argparse, gzip, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def idx(path):
    b = gzip.open(path).read()
    nd = b[3]
    dims = np.frombuffer(b[4:4 + 4 * nd], ">u4")
    return np.frombuffer(b[4 + 4 * nd:], np.uint8).reshape(dims)


class VAE(nn.Module):
    def __init__(s, zd=32):
        super().__init__()
        s.enc = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(), nn.Flatten(),
                              nn.Linear(64 * 7 * 7, 256), nn.ReLU())
        s.mu = nn.Linear(256, zd)
        s.lv = nn.Linear(256, zd)
        s.dec = nn.Sequential(nn.Linear(zd, 256), nn.ReLU(), nn.Linear(256, 64 * 7 * 7), nn.ReLU(),
                              nn.Unflatten(1, (64, 7, 7)), nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
                              nn.ConvTranspose2d(32, 1, 4, 2, 1))

    def forward(s, x):
        h = s.enc(x)
        mu, lv = s.mu(h), s.lv(h)
        z = mu + torch.randn_like(mu) * (0.5 * lv).exp()
        return s.dec(z), mu, lv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    xtr = torch.tensor(idx(f"{a.data}/train-images-idx3-ubyte.gz"), dtype=torch.float32, device=dev).unsqueeze(1) / 255
    xte = torch.tensor(idx(f"{a.data}/t10k-images-idx3-ubyte.gz"), dtype=torch.float32, device=dev).unsqueeze(1) / 255
    vae = VAE().to(dev)
    opt = torch.optim.Adam(vae.parameters(), 1e-3)

    def loss_of(x):
        r, mu, lv = vae(x)
        return F.binary_cross_entropy_with_logits(r, x, reduction="sum") - 0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())

    t0 = time.time()
    for ep in range(1, a.epochs + 1):
        vae.train()
        perm = torch.randperm(len(xtr), device=dev)
        for i in range(0, len(xtr) - 127, 128):
            opt.zero_grad()
            loss_of(xtr[perm[i:i + 128]]).backward()
            opt.step()
        vae.eval()
        with torch.no_grad():
            test = sum(loss_of(xte[i:i + 1000]).item() for i in range(0, len(xte), 1000)) / len(xte)
        print(f"epoch {ep}: test loss per image {test:.2f}  ({time.time() - t0:.0f} s, PyTorch {torch.__version__}, {dev})",
              flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# PyTorch counterparts of `kiln bench models` and `kiln bench overhead` (docs/benchmarks.md).
# The models, batches, losses and optimizers are those of shared/anchors/torch_anchors.py (the
# definitions the H100 anchors were timed with); on the CPU every workload runs at the scaled-down size
# of SIZES["cpu"], which kiln's apps/bench/workloads.cpp uses too (kiln refuses a size that differs).
# kiln runs this script and reads the lines it prints:
#   RESULT workload=NAME mode=eager|graph ms=MEDIAN steps=N peak_mib=X peak_kind=K peak_rss_mib=R params=P size=S
#   OVERHEAD device=D op=OP mode=grad|nograd host_us=X synced_us=Y
#   SKIP workload=NAME mode=M reason=TEXT
# and a JSON file with the same numbers (--json).
#   bench_models.py models --device cpu --workloads dcgan28,gpt --steps 30 --warmup 5 --threads 1 --graph off
#   bench_models.py overhead --device cpu --ops 1000 --threads 1
#   bench_models.py params          (parameter counts at both sizes)
import argparse, ctypes, gc, json, os, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

# Scaled CPU sizes and the reference (GPU) sizes: keep in step with apps/bench/workloads.cpp.
SIZES = {
    "cpu": {"dcgan28": {"batch": 16}, "convvae28": {"batch": 16},
            "charlstm": {"batch": 8, "steps": 32}, "gpt": {"batch": 8, "context": 64, "layers": 2}},
    "cuda": {"dcgan28": {"batch": 128}, "convvae28": {"batch": 128},
             "charlstm": {"batch": 64, "steps": 128}, "gpt": {"batch": 64, "context": 256, "layers": 6}},
}
WORKLOADS = ["dcgan28", "convvae28", "charlstm", "gpt"]


def size_text(name, s):
    # The same words kiln prints (apps/bench/workloads.cpp, size_text): compared to catch a drift.
    if name == "charlstm": return "batch %d x %d steps" % (s["batch"], s["steps"])
    if name == "gpt": return "batch %d x %d, %d layers" % (s["batch"], s["context"], s["layers"])
    return "batch %d" % s["batch"]


# ---------------- the models of torch_anchors.py ----------------
class G(nn.Module):
    def __init__(s, nz=100, ngf=64):
        super().__init__()
        s.net = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 7, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, 1, 4, 2, 1, bias=False), nn.Tanh())
    def forward(s, z): return s.net(z)

class D(nn.Module):
    def __init__(s, ndf=64):
        super().__init__()
        s.net = nn.Sequential(
            nn.Conv2d(1, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, 7, 1, 0, bias=False))
    def forward(s, x): return s.net(x).view(-1)

class VAE(nn.Module):
    def __init__(s, zd=32):
        super().__init__()
        s.enc = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(), nn.Flatten(),
                              nn.Linear(64 * 7 * 7, 256), nn.ReLU())
        s.mu = nn.Linear(256, zd); s.lv = nn.Linear(256, zd)
        s.dec = nn.Sequential(nn.Linear(zd, 256), nn.ReLU(), nn.Linear(256, 64 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
                              nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1))
    def forward(s, x):
        h = s.enc(x); mu, lv = s.mu(h), s.lv(h)
        z = mu + torch.randn_like(mu) * (0.5 * lv).exp()
        return s.dec(z), mu, lv

class CharLSTM(nn.Module):
    def __init__(s, V=96, E=128, H=512, L=2):
        super().__init__()
        s.emb = nn.Embedding(V, E); s.rnn = nn.LSTM(E, H, L, batch_first=True); s.head = nn.Linear(H, V)
    def forward(s, x): return s.head(s.rnn(s.emb(x))[0])

class Block(nn.Module):
    def __init__(s, C, nh):
        super().__init__()
        s.ln1 = nn.LayerNorm(C); s.qkv = nn.Linear(C, 3 * C); s.proj = nn.Linear(C, C)
        s.ln2 = nn.LayerNorm(C); s.fc = nn.Linear(C, 4 * C); s.fc2 = nn.Linear(4 * C, C); s.nh = nh
    def forward(s, x):
        B, T, C = x.shape
        q, k, v = s.qkv(s.ln1(x)).split(C, dim=2)
        q, k, v = [t.view(B, T, s.nh, C // s.nh).transpose(1, 2) for t in (q, k, v)]
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True) if hasattr(F, "scaled_dot_product_attention") \
            else causal_attention(q, k, v)
        y = y.transpose(1, 2).reshape(B, T, C)
        x = x + s.proj(y)
        return x + s.fc2(F.gelu(s.fc(s.ln2(x))))

def causal_attention(q, k, v):
    # PyTorch 1.13 has no scaled_dot_product_attention: the same math, materialized.
    T = q.shape[-2]
    att = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)
    return att.masked_fill(mask, float("-inf")).softmax(-1) @ v

class GPT(nn.Module):
    def __init__(s, V=65, T=256, C=384, L=6, nh=6):
        super().__init__()
        s.wte = nn.Embedding(V, C); s.wpe = nn.Embedding(T, C)
        s.blocks = nn.ModuleList([Block(C, nh) for _ in range(L)]); s.lnf = nn.LayerNorm(C); s.head = nn.Linear(C, V, bias=False)
    def forward(s, idx):
        x = s.wte(idx) + s.wpe(torch.arange(idx.shape[1], device=idx.device))
        for b in s.blocks: x = b(x)
        return s.head(s.lnf(x))


# ---------------- one training step of each workload ----------------
# graph=True: the optimizer is capturable and gradients are zeroed in place (torch_graphs*.py).
def adam(params, lr, graph, **kw):
    if graph: kw["capturable"] = True
    return torch.optim.Adam(params, lr, **kw)

def make_dcgan28(dev, s, graph):
    bs = s["batch"]
    g, d = G().to(dev), D().to(dev)
    og = adam(g.parameters(), 2e-4, graph, betas=(0.5, 0.999))
    od = adam(d.parameters(), 2e-4, graph, betas=(0.5, 0.999))
    real = torch.randn(bs, 1, 28, 28, device=dev).tanh()
    ones = torch.ones(bs, device=dev); zeros = torch.zeros(bs, device=dev)
    def step():
        z = torch.randn(bs, 100, 1, 1, device=dev)
        fake = g(z)
        od.zero_grad(set_to_none=not graph)
        ld = F.binary_cross_entropy_with_logits(d(real), ones) + F.binary_cross_entropy_with_logits(d(fake.detach()), zeros)
        ld.backward(); od.step()
        og.zero_grad(set_to_none=not graph)
        lg = F.binary_cross_entropy_with_logits(d(fake), ones)
        lg.backward(); og.step()
    return step, [g, d]

def make_convvae28(dev, s, graph):
    bs = s["batch"]
    m = VAE().to(dev); o = adam(m.parameters(), 1e-3, graph)
    x = torch.rand(bs, 1, 28, 28, device=dev)
    def step():
        o.zero_grad(set_to_none=not graph)
        r, mu, lv = m(x)
        loss = F.binary_cross_entropy_with_logits(r, x, reduction="sum") - 0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())
        loss.backward(); o.step()
    return step, [m]

def make_charlstm(dev, s, graph, V=96):
    bs, T = s["batch"], s["steps"]
    m = CharLSTM(V).to(dev); o = adam(m.parameters(), 2e-3, graph)
    x = torch.randint(0, V, (bs, T), device=dev); y = torch.randint(0, V, (bs, T), device=dev)
    def step():
        o.zero_grad(set_to_none=not graph)
        loss = F.cross_entropy(m(x).reshape(-1, V), y.reshape(-1))
        loss.backward(); nn.utils.clip_grad_norm_(m.parameters(), 1.0); o.step()
    return step, [m]

def make_gpt(dev, s, graph, V=65):
    bs, T = s["batch"], s["context"]
    m = GPT(V, T, L=s["layers"]).to(dev)
    kw = {"capturable": True} if graph else {}
    try:  # fused AdamW as in the anchors where this PyTorch has it (CUDA only)
        o = torch.optim.AdamW(m.parameters(), 1e-3, fused=(dev == "cuda"), **kw)
    except (TypeError, RuntimeError):
        o = torch.optim.AdamW(m.parameters(), 1e-3, **kw)
    x = torch.randint(0, V, (bs, T), device=dev); y = torch.randint(0, V, (bs, T), device=dev)
    def step():
        o.zero_grad(set_to_none=not graph)
        loss = F.cross_entropy(m(x).reshape(-1, V), y.reshape(-1))
        loss.backward(); o.step()
    return step, [m]

MAKERS = {"dcgan28": make_dcgan28, "convvae28": make_convvae28, "charlstm": make_charlstm, "gpt": make_gpt}


def graphed(step):
    # Whole-step capture as shared/anchors/torch_graphs.py: warm up on a side stream, capture, replay.
    s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3): step()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g): step()
    return lambda: g.replay()


# ---------------- timing and peak memory ----------------
def median(v):
    v = sorted(v); n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])

def time_steps(step, dev, warmup, steps):
    # Median per-step time: CUDA events around each step on a GPU, the wall clock on the CPU.
    for _ in range(warmup): step()
    ts = []
    if dev == "cuda":
        torch.cuda.synchronize()
        for _ in range(steps):
            a = torch.cuda.Event(enable_timing=True); b = torch.cuda.Event(enable_timing=True)
            a.record(); step(); b.record(); b.synchronize()
            ts.append(a.elapsed_time(b))
    else:
        for _ in range(steps):
            t = time.perf_counter(); step(); ts.append((time.perf_counter() - t) * 1e3)
    return median(ts)

def proc_status_mib(name):
    try:
        for line in open("/proc/self/status"):
            if line.startswith(name): return int(line.split()[1]) / 1024
    except OSError:
        pass
    return -1.0

def reset_peak(dev):
    # Returns the baseline: the resident set now (CPU). Linux: writing 5 to clear_refs resets the
    # process's peak resident set (VmHWM) to the current one.
    if dev == "cuda":
        torch.cuda.synchronize(); torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
        return 0.0
    gc.collect()
    try:  # free heap pages back to the system first, as kiln does (apps/bench/bench_report.cpp)
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f: f.write("5")
    except OSError:
        pass
    return proc_status_mib("VmRSS:")

def read_peak(dev, baseline):
    # CUDA: the caching allocator's peak of allocated bytes. CPU: how far the process's resident set grew
    # above the baseline (the libraries' code, e.g. libtorch's, is not counted), and the absolute peak.
    if dev == "cuda":
        return torch.cuda.max_memory_allocated() / 2 ** 20, "cuda_allocated", -1.0
    peak = proc_status_mib("VmHWM:")
    return peak - baseline, "process_rss_growth", peak


def run_models(a):
    dev = a.device
    names = a.workloads.split(",")
    modes = {"off": ["eager"], "on": ["graph"], "both": ["eager", "graph"]}[a.graph]
    out = {"torch": torch.__version__, "device": dev, "threads": torch.get_num_threads(), "results": []}
    if dev == "cuda":
        out["gpu"] = torch.cuda.get_device_name(0); out["cudnn"] = torch.backends.cudnn.version()
        torch.backends.cuda.matmul.allow_tf32 = False; torch.backends.cudnn.allow_tf32 = False
    print("INFO torch=%s threads=%d" % (torch.__version__, torch.get_num_threads()), flush=True)
    for name in names:
        s = SIZES[dev][name]
        for mode in modes:
            if mode == "graph" and dev != "cuda":
                print("SKIP workload=%s mode=graph reason=CUDA graphs need a GPU" % name, flush=True); continue
            try:
                torch.manual_seed(0)
                baseline = reset_peak(dev)
                step, modules = MAKERS[name](dev, s, mode == "graph")
                params = sum(p.numel() for m in modules for p in m.parameters())
                if mode == "graph": step = graphed(step)
                ms = time_steps(step, dev, a.warmup, a.steps)
                peak, kind, peak_rss = read_peak(dev, baseline)
            except Exception as e:  # e.g. a capture this PyTorch refuses: reported, the others still run
                reason = (type(e).__name__ + ": " + str(e)).replace("\n", " ")[:200]
                print("SKIP workload=%s mode=%s reason=%s" % (name, mode, reason), flush=True); continue
            r = {"workload": name, "mode": mode, "ms": ms, "steps": a.steps, "peak_mib": peak, "peak_kind": kind, "peak_rss_mib": peak_rss,
                 "params": params, "size": size_text(name, s)}
            out["results"].append(r)
            print("RESULT workload=%s mode=%s ms=%.6f steps=%d peak_mib=%.3f peak_kind=%s peak_rss_mib=%.3f params=%d size=%s"
                  % (name, mode, ms, a.steps, peak, kind, peak_rss, params, r["size"]), flush=True)
            del step, modules
    return out


def run_overhead(a):
    # Host time per op on a 4-element tensor: N ops in a row (add, mul, relu chain on their result; sum
    # reduces the same tensor), timed on the host before and after the one sync at the end, µs per op;
    # median of 5 repetitions after one. grad: the input requires grad (the graph is recorded); nograd:
    # the same under torch.no_grad().
    dev = a.device
    out = {"torch": torch.__version__, "device": dev, "threads": torch.get_num_threads(), "ops": a.ops, "results": []}
    print("INFO torch=%s threads=%d" % (torch.__version__, torch.get_num_threads()), flush=True)
    w = (torch.rand(4, device=dev) + 0.5).requires_grad_(True)
    ops = {"add": lambda z: z + w, "mul": lambda z: z * w, "relu": lambda z: torch.relu(z), "sum": lambda z: torch.sum(w)}
    for op, f in ops.items():
        for mode in ("grad", "nograd"):
            def run():
                z = (torch.rand(4, device=dev) + 0.5).requires_grad_(True)
                with torch.set_grad_enabled(mode == "grad"):
                    t = time.perf_counter()
                    if op == "sum":
                        for _ in range(a.ops): f(z)
                    else:
                        for _ in range(a.ops): z = f(z)
                    host = time.perf_counter()
                    if dev == "cuda": torch.cuda.synchronize()
                    done = time.perf_counter()
                return (host - t) * 1e6 / a.ops, (done - t) * 1e6 / a.ops
            run()
            reps = [run() for _ in range(5)]
            host, synced = median([r[0] for r in reps]), median([r[1] for r in reps])
            out["results"].append({"op": op, "mode": mode, "host_us_per_op": host, "synced_us_per_op": synced})
            print("OVERHEAD device=%s op=%s mode=%s host_us=%.4f synced_us=%.4f" % (dev, op, mode, host, synced), flush=True)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("what", choices=["models", "overhead", "params"])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--graph", default="off", choices=["off", "on", "both"])
    p.add_argument("--ops", type=int, default=1000)
    p.add_argument("--json", default="")
    a = p.parse_args()
    if a.threads > 0: torch.set_num_threads(a.threads)
    for n in a.workloads.split(","):
        if n not in MAKERS: sys.exit("bench_models.py: unknown workload %r (%s)" % (n, ", ".join(WORKLOADS)))
    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("bench_models.py: this PyTorch (%s) sees no CUDA device" % torch.__version__)
    if a.what == "params":
        for dev in ("cpu", "cuda"):
            for n in WORKLOADS:
                _, modules = MAKERS[n]("cpu", SIZES[dev][n], False)
                print("PARAMS size=%s workload=%s params=%d" % (dev, n, sum(p.numel() for m in modules for p in m.parameters())))
        return
    out = run_models(a) if a.what == "models" else run_overhead(a)
    if a.json:
        with open(a.json, "w") as f: json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()

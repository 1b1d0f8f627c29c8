"""PyTorch's CPU time on the cases of bench_cpu_rowwise (cpu_rowwise.cpp), float32, forward and
backward (the backward through autograd.grad from a kept graph): median process CPU time and best
wall time.
Run with /usr/bin/python3 (Debian's PyTorch 1.13): torch_rowwise.py [threads] [runs] [case] (cases as
bench_cpu_rowwise names them; all when left out)."""
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def timing_ms(fn, runs):
    """Median process CPU time (all threads) and best wall time of `runs` calls, in ms."""
    fn()
    cpu, wall = [], []
    for _ in range(runs):
        cpu0, start = time.process_time(), time.perf_counter()
        fn()
        wall.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.process_time() - cpu0) * 1e3)
    return statistics.median(cpu), min(wall)


def report(what, fwd, bwd, runs):
    for name, fn in (("forward", fwd), ("backward", bwd)):
        cpu, wall = timing_ms(fn, runs)
        print(f"{what + ' ' + name:44s} torch     cpu {cpu:9.3f} wall {wall:9.3f} ms", flush=True)


def case(what, make_input, op, runs):
    x = make_input().requires_grad_(True)
    y = op(x)
    dy = torch.randn_like(y)

    def forward():
        with torch.no_grad():
            op(x)

    def backward():
        torch.autograd.grad(y, x, dy, retain_graph=True)

    report(what, forward, backward, runs)


def softmax_case(what, make_input, log, runs):
    """softmax / log_softmax through ATen's out= kernels, so that PyTorch, like bench_cpu_rowwise,
    writes into preallocated outputs (a fresh 16-100 MB output costs page faults, not kernel time)."""
    aten = torch.ops.aten
    fwd_op = aten._log_softmax.out if log else aten._softmax.out
    bwd_op = aten._log_softmax_backward_data.out if log else aten._softmax_backward_data.out
    x = make_input()
    y, dy, dx = torch.empty_like(x), torch.randn_like(x), torch.empty_like(x)
    fwd_op(x, -1, False, out=y)
    out_name = "out" if log else "grad_input"  # the two backward kernels name their output differently
    report(what, lambda: fwd_op(x, -1, False, out=y),
           lambda: bwd_op(dy, y, -1, torch.float32, **{out_name: dx}), runs)


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    only = sys.argv[3] if len(sys.argv) > 3 else None

    def wanted(name):
        return only is None or only == name
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    print(f"PyTorch {torch.__version__} CPU row-wise kernels, float32, {threads} thread(s), {runs} runs")
    if wanted("softmax"):
        softmax_case("softmax 4096x1024", lambda: torch.randn(4096, 1024) * 2, False, runs)
    if wanted("log_softmax"):
        softmax_case("log_softmax 4096x1024", lambda: torch.randn(4096, 1024) * 2, True, runs)
    if wanted("attention"):
        softmax_case("softmax (GPT attention) 98304x256", lambda: torch.randn(64 * 6 * 256, 256) * 2, False, runs)
    target = torch.randint(0, 114, (16384,))
    if wanted("cross_entropy"):
        case("cross_entropy 16384x114", lambda: torch.randn(16384, 114) * 2, lambda x: F.cross_entropy(x, target), runs)
    w, b = torch.randn(384, requires_grad=True), torch.randn(384, requires_grad=True)
    if wanted("layer_norm"):
        case("layer_norm 16384x384", lambda: torch.randn(16384, 384) * 2, lambda x: F.layer_norm(x, (384,), w, b), runs)
    bw, bb = torch.randn(128, requires_grad=True), torch.randn(128, requires_grad=True)
    if wanted("batch_norm"):
        case("batch_norm [128,128,14,14]", lambda: torch.randn(128, 128, 14, 14) * 2,
             lambda x: F.batch_norm(x, None, None, bw, bb, training=True), runs)


if __name__ == "__main__":
    main()

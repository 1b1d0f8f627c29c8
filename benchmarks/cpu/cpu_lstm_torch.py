# PyTorch's figures for benchmarks/cpu/cpu_lstm.cpp: the same LSTM forward+backward (2 layers, hidden 512,
# input 128, batch 16, float32) at T = 16, 32, 64, 128 and the same q/k/v split backward, one thread.
# Run with Debian's PyTorch: /usr/bin/python3 benchmarks/cpu/cpu_lstm_torch.py [runs [max_T]]
import sys
import time

import torch


def median_seconds(runs, fn):
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    max_T = int(sys.argv[2]) if len(sys.argv) > 2 else 128
    torch.set_num_threads(1)
    torch.manual_seed(1234)
    N, inp, H, layers = 16, 128, 512, 2
    lstm = torch.nn.LSTM(inp, H, layers)
    print(f"PyTorch {torch.__version__} LSTM forward+backward, {layers} layers, hidden {H}, input {inp}, "
          f"batch {N}, float32, {torch.get_num_threads()} thread")
    for T in (t for t in (16, 32, 64, 128) if t <= max_T):
        x = torch.randn(T, N, inp, requires_grad=True)

        def step():
            out, _ = lstm(x)
            out.sum().backward()
            lstm.zero_grad(set_to_none=True)
            x.grad = None

        s = median_seconds(runs, step)
        print(f"T = {T:3d}  median {s * 1e3:8.2f} ms  ({s * 1e3 / T:6.3f} ms per time step)  ({runs} runs)")
    B, T, C = 8, 64, 256
    qkv = torch.randn(B, T, 3 * C, requires_grad=True)

    def split_step():
        q, k, v = qkv.split(C, 2)
        (q * k * v).sum().backward()
        qkv.grad = None

    s = median_seconds(runs * 4, split_step)
    print(f"q/k/v split of [{B}, {T}, {3 * C}], forward+backward  median {s * 1e3:8.3f} ms")


if __name__ == "__main__":
    main()

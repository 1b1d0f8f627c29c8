#!/usr/bin/python3
"""PyTorch's time for the layers that bench_cpu_conv_pool_layers times (same shapes, same gradients):
forward + backward of each conv/convT layer (input gradient unless the layer reads the data) and of the
classifier's max pools, float32, median of several runs.
Usage: /usr/bin/python3 benchmarks/cpu/torch_conv_pool_layers.py [threads] [runs] [batch] [cpu|wall]"""
import sys
import time

import torch
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 9
batch = int(sys.argv[3]) if len(sys.argv) > 3 else 128
# "cpu": the process's CPU time (robust on a shared machine, meaningful for one thread), else wall clock.
clock = time.process_time if len(sys.argv) > 4 and sys.argv[4] == "cpu" else time.perf_counter
torch.set_num_threads(threads)
torch.manual_seed(0)

# name, transposed, c_in, c_out, input size, kernel, stride, padding, input gradient
LAYERS = [
    ("classifier conv1 1→32 k3 p1 28", False, 1, 32, 28, 3, 1, 1, False),
    ("classifier conv2 32→64 k3 p1 14", False, 32, 64, 14, 3, 1, 1, True),
    ("dcgan G convT 100→256 k7 1", True, 100, 256, 1, 7, 1, 0, False),
    ("dcgan G convT 256→128 k4s2p1 7", True, 256, 128, 7, 4, 2, 1, True),
    ("dcgan G convT 128→1 k4s2p1 14", True, 128, 1, 14, 4, 2, 1, True),
    ("dcgan D conv 1→64 k4s2p1 28", False, 1, 64, 28, 4, 2, 1, False),
    ("dcgan D conv 64→128 k4s2p1 14", False, 64, 128, 14, 4, 2, 1, True),
    ("dcgan D conv 128→1 k7 7", False, 128, 1, 7, 7, 1, 0, True),
    ("vae conv 1→32 k4s2p1 28", False, 1, 32, 28, 4, 2, 1, False),
    ("vae conv 32→64 k4s2p1 14", False, 32, 64, 14, 4, 2, 1, True),
    ("vae convT 64→32 k4s2p1 7", True, 64, 32, 7, 4, 2, 1, True),
    ("vae convT 32→1 k4s2p1 14", True, 32, 1, 14, 4, 2, 1, True),
]


def median_ms(fn):
    fn()
    times = []
    for _ in range(runs):
        start = clock()
        fn()
        times.append(clock() - start)
    times.sort()
    return times[len(times) // 2] * 1e3


print(f"PyTorch {torch.__version__} CPU conv/pool layers, batch {batch}, float32, {threads} thread(s), median of {runs}, "
      f"{'process CPU time' if clock is time.process_time else 'wall clock'}")
total = 0.0
for name, transposed, c_in, c_out, size, k, s, p, input_grad in LAYERS:
    layer = (torch.nn.ConvTranspose2d if transposed else torch.nn.Conv2d)(c_in, c_out, k, s, p)
    x = torch.randn(batch, c_in, size, size, requires_grad=input_grad)
    with torch.no_grad():
        dy = torch.randn_like(layer(x))

    def step():
        layer.zero_grad(set_to_none=True)
        x.grad = None
        layer(x).backward(dy)

    ms = median_ms(step)
    total += ms
    print(f"{name:34s} {ms:12.3f}")
for channels, size in ((32, 28), (64, 14)):
    x = torch.randn(batch, channels, size, size, requires_grad=True)
    dy = torch.randn(batch, channels, size // 2, size // 2)

    def max_step():
        x.grad = None
        F.max_pool2d(x, 2).backward(dy)

    def avg_step():
        x.grad = None
        F.avg_pool2d(x, 2).backward(dy)

    ms = median_ms(max_step)
    total += ms
    print(f"{'classifier maxpool2 %d×%d' % (channels, size):34s} {ms:12.3f}")
    print(f"{'avgpool2 %d×%d' % (channels, size):34s} {median_ms(avg_step):12.3f}")
print(f"{'total (conv layers + max pools)':34s} {total:12.3f}")

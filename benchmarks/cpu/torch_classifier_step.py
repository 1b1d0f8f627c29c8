#!/usr/bin/python3
"""PyTorch's time for the classifier training step that bench_cpu_classifier_step times (batch 128, float32,
random data, cross-entropy, Adam 1e-3): median of several steps after warm-up.
Usage: /usr/bin/python3 benchmarks/cpu/torch_classifier_step.py [threads] [steps] [batch] [cpu|wall]"""
import sys
import time

import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
batch = int(sys.argv[3]) if len(sys.argv) > 3 else 128
clock = time.process_time if len(sys.argv) > 4 and sys.argv[4] == "cpu" else time.perf_counter
torch.set_num_threads(threads)
torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
    torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
    torch.nn.Flatten(), torch.nn.Linear(3136, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
adam = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.randn(batch, 1, 28, 28)
target = torch.randint(0, 10, (batch,))


def step():
    adam.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(model(x), target).backward()
    adam.step()


for _ in range(3):
    step()
times = []
for _ in range(steps):
    start = clock()
    step()
    times.append(clock() - start)
times.sort()
print(f"PyTorch {torch.__version__} classifier training step, batch {batch}, float32, {threads} thread(s): median "
      f"{times[len(times) // 2] * 1e3:.3f} ms ({'process CPU time' if clock is time.process_time else 'wall clock'}, "
      f"{steps} steps)")

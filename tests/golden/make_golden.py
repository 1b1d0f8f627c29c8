"""Regenerates every golden fixture of tests/golden/ — the one command of the golden-equivalence tests:

    /usr/bin/python3 tests/golden/make_golden.py

It needs Debian's python3-torch and python3-numpy (CPU only). Each make_*.py / golden_*.py script
writes one .safetensors file with tests/golden/st_write.py; this runs them all in turn, then checks that
the fixtures together stay under the 5 MB budget. Runs are deterministic: a script run twice writes the
same bytes (fixed seeds, float64 on the CPU), so `git diff` after a regeneration shows what changed.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = [
    "make_numpy_safetensors.py",  # numpy only: a file of every dtype kiln reads
    "make_rnn.py",                # LSTM, GRU
    "make_attention.py",          # MultiheadAttention, the pre-LayerNorm Transformer block
    "make_optim.py",              # SGD, Adam, AdamW steps
    "golden_layers.py",           # Linear, convolutions, norms, embedding, pooling, upsampling
    "golden_models.py",           # classifier, DCGAN, VAE, char-RNN, RNN-VAE, GPT with 5 optimizer steps
]
BUDGET = 5 * 1024 * 1024


def main():
    for script in SCRIPTS:
        path = os.path.join(HERE, script)
        if not os.path.exists(path):
            sys.exit(f"make_golden: {path} is missing")
        print(f"== {script}", flush=True)
        subprocess.run([sys.executable, path], check=True, cwd=HERE)
    total = sum(os.path.getsize(os.path.join(HERE, f)) for f in os.listdir(HERE) if f.endswith(".safetensors"))
    print(f"golden fixtures: {total / 1024:.0f} KiB in all (budget {BUDGET // 1024} KiB)")
    if total > BUDGET:
        sys.exit("make_golden: the fixtures exceed the 5 MB budget: make the cases smaller")


if __name__ == "__main__":
    main()

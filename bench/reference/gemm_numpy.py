#!/usr/bin/env python3
"""Reference figures for `chatforge bench gemm --reference`: the same shapes with numpy float32 `@` (OpenBLAS).

Prints one JSON object. Thread count is fixed through OPENBLAS_NUM_THREADS before numpy is imported.
Usage: gemm_numpy.py [--threads 2] [--reps 10] [--warmup 3]
"""
import argparse
import json
import os
import statistics
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--reps", type=int, default=10)
parser.add_argument("--warmup", type=int, default=3)
args = parser.parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
os.environ["OMP_NUM_THREADS"] = str(args.threads)

import numpy as np  # noqa: E402  (after the thread variables on purpose)

# (name, m, n, k): C[m×n] = A[m×k] @ B[k×n], as in BenchGemmCommand.
SHAPES = [
    ("4096x256@256x768", 4096, 768, 256),
    ("4096x256@256x1024", 4096, 1024, 256),
    ("4096x1024@1024x256", 4096, 256, 1024),
    ("4096x256@256x8192", 4096, 8192, 256),
    ("1x512@512x512", 1, 512, 512),
]

rng = np.random.default_rng(0)
results = []
for name, m, n, k in SHAPES:
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    c = np.empty((m, n), dtype=np.float32)
    flops = 2.0 * m * n * k
    # Tiny shapes are timed over a batch of calls so the clock's resolution does not dominate.
    inner = max(1, int(2e8 // flops))
    for _ in range(args.warmup):
        np.matmul(a, b, out=c)
    seconds, cpu_seconds = [], []
    for _ in range(args.reps):
        cpu_start = time.process_time()
        start = time.perf_counter()
        for _ in range(inner):
            np.matmul(a, b, out=c)
        seconds.append((time.perf_counter() - start) / inner)
        cpu_seconds.append((time.process_time() - cpu_start) / inner)
    results.append({
        "name": name, "m": m, "n": n, "k": k,
        "best_gflops": round(flops / min(seconds) / 1e9, 2),
        "median_gflops": round(flops / statistics.median(seconds) / 1e9, 2),
        # CPU time excludes time the scheduler gave to other processes (but includes OpenBLAS workers spin-waiting).
        "gflops_per_cpu_second": round(flops / max(min(cpu_seconds), 1e-12) / 1e9, 2),
    })

print(json.dumps({
    "numpy": np.__version__,
    "python": sys.version.split()[0],
    "threads": args.threads,
    "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
    "openblas_l2_size": os.environ.get("OPENBLAS_L2_SIZE"),
    "shapes": results,
}))

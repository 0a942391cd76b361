#!/usr/bin/env python3
"""OpenCV side of bench/data.ts: the original TuneVLSeg data pipeline on the same files.

Per sample, as the original's dataset class does it: cv2.imread (BGR) -> RGB, cubic resize to
size x size, /255, ImageNet mean/std, HWC -> CHW float32; the mask read as grayscale, nearest
resize, /255. A multiprocessing pool of `--workers` processes (one OpenCV thread each, as a
torch DataLoader worker) maps the samples; only a checksum and the worker's CPU seconds for the sample travel back (no IPC cost counted).

  --list files.json --size 352 --workers 2 --epochs 2 [--dump out.f32 --dump-count K]
prints one JSON line: {"images", "seconds", "images_per_s", "cpu_ms_per_image"}. --dump writes
the first K samples' inputs as float32 (K images [3,S,S], then K masks [S,S]) so that the
caller can compare its pixels with OpenCV's.
Needs Debian's python3-opencv (scripts/bootstrap.sh --bench); run with /usr/bin/python3.
"""
import argparse
import json
import os
import time
from multiprocessing import Pool

import cv2
import numpy as np

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
SIZE = 352


def init(size):
    global SIZE
    SIZE = size
    cv2.setNumThreads(1)


def decode(pair):
    img_path, mask_path = pair
    img = cv2.imread(img_path, cv2.IMREAD_COLOR)
    if img is None:
        raise RuntimeError(f"{img_path}: cannot decode")
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    img = cv2.resize(img, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
    x = ((img.astype(np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1)
    x = np.ascontiguousarray(x)
    m = cv2.imread(mask_path, cv2.IMREAD_GRAYSCALE)
    if m is None:
        raise RuntimeError(f"{mask_path}: cannot decode")
    m = cv2.resize(m, (SIZE, SIZE), interpolation=cv2.INTER_NEAREST).astype(np.float32) / 255.0
    return x, m


def load(pair):
    c0 = time.process_time()
    x, m = decode(pair)
    return float(x[0, 0, 0] + m[-1, -1]), time.process_time() - c0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--list", required=True)
    ap.add_argument("--size", type=int, default=352)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--dump")
    ap.add_argument("--dump-count", type=int, default=8)
    a = ap.parse_args()
    with open(a.list) as f:
        pairs = [tuple(p) for p in json.load(f)]
    if a.dump:
        init(a.size)
        done = [decode(p) for p in pairs[: a.dump_count]]
        with open(a.dump, "wb") as f:
            for x, _ in done:
                f.write(np.ascontiguousarray(x, dtype=np.float32).tobytes())
            for _, m in done:
                f.write(np.ascontiguousarray(m, dtype=np.float32).tobytes())
    with Pool(a.workers, initializer=init, initargs=(a.size,)) as pool:
        pool.map(load, pairs[: a.workers * 2])  # warm-up: workers started, libraries loaded
        t0 = time.perf_counter()
        checksum = 0.0
        cpu = 0.0
        n = 0
        for _ in range(a.epochs):
            for v, c in pool.imap(load, pairs, chunksize=4):
                checksum += v
                cpu += c  # the workers' own CPU time per sample (decode, resize, normalise)
                n += 1
        seconds = time.perf_counter() - t0
    print(json.dumps({"images": n, "seconds": seconds, "images_per_s": n / seconds, "cpu_ms_per_image": 1000 * cpu / n,
                      "checksum": checksum, "workers": a.workers, "opencv": cv2.__version__}))


if __name__ == "__main__":
    main()

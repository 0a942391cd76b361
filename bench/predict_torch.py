#!/usr/bin/env python3
"""Python side of bench/predict.ts: what a Python user runs to predict masks with HF transformers.

HF transformers 4.38 cannot be installed from an allowed source here (it is not a Debian
package, CI has no pip), so this file runs the same pipeline with plain PyTorch (Debian
python3-torch 1.13) and Pillow (Debian python3-pil), op for op:

  - CLIPSegProcessor's image side (ViTImageProcessor of CIDAS/clipseg-rd64-refined): PIL decode,
    resize to 352x352 with PIL BILINEAR (reducing_gap None), rescale by 1/255 (float64, then
    float32), normalise with the ImageNet mean/std, channels first, one float32 batch tensor;
  - the text side: the token ids (and mask) CLIPTokenizer gives the prompt, passed in by
    bench/predict.ts (our tokenizer reproduces the slow HF CLIPTokenizer's ids: docs/tokenizer.md);
  - CLIPSegForImageSegmentation.forward: bench/clipseg_torch.py, HF 4.38.2's forward re-stated in
    plain torch (all 12 vision layers, eager attention), with the weights of the same
    model.safetensors our side uses, loaded strictly;
  - torch.sigmoid, then per image a bicubic resize back to its size (align_corners False), 8-bit
    quantisation as torchvision's save_image (x * 255 + 0.5, clamped) and two PNGs written with
    PIL: the binary mask (probability > threshold) and the probability map, as `predict` writes.

  --serve --list files.txt --ids '[[...]]' --mask '[[...]]' --weights model.safetensors
        read "run <out-dir> [limit] [batch]" lines (limit 0 = every file; batch defaults to --batch);
        answer {"seconds": wall, "images": n} per pass over the list
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clipseg_torch import CLIPSegForImageSegmentation, RD64_REFINED, read_safetensors, resolve  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)  # CIDAS/clipseg-rd64-refined preprocessor_config.json
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def preprocess(images, size):
    """ViTImageProcessor.preprocess(images, return_tensors="pt") for CLIPSeg's config."""
    out = []
    for im in images:
        a = np.array(im.resize((size, size), resample=Image.BILINEAR, reducing_gap=None))
        a = (a.astype(np.float64) * (1 / 255)).astype(np.float32)
        a = (a - MEAN) / STD
        out.append(a.transpose(2, 0, 1))
    return torch.tensor(np.array(out))


def save_outputs(prob, w, h, stem, out_dir, threshold):
    p = F.interpolate(prob[None, None], size=(h, w), mode="bicubic", align_corners=False)[0, 0]
    p8 = p.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).numpy()
    Image.fromarray(np.where(p8 > threshold * 255, 255, 0).astype(np.uint8), mode="L").save(os.path.join(out_dir, f"{stem}.png"))
    Image.fromarray(p8, mode="L").save(os.path.join(out_dir, f"{stem}_prob.png"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--list", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--mask", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=352)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--threshold", type=float, default=0.5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    files = [l.strip() for l in open(a.list) if l.strip()]
    model = CLIPSegForImageSegmentation(resolve(RD64_REFINED)).eval()
    model.load_state_dict(read_safetensors(a.weights), strict=True)
    ids1, mask1 = torch.tensor(json.loads(a.ids)), torch.tensor(json.loads(a.mask))

    def run(out_dir, limit=None, batch=None):
        os.makedirs(out_dir, exist_ok=True)
        todo = files[:limit] if limit else files
        step = batch or a.batch
        t0 = time.perf_counter()
        for s in range(0, len(todo), step):
            chunk = todo[s:s + step]
            images = [Image.open(f).convert("RGB") for f in chunk]
            px = preprocess(images, a.size)
            n = len(chunk)
            with torch.no_grad():
                logits = model(px, ids1.expand(n, -1), mask1.expand(n, -1))
                probs = torch.sigmoid(logits)
            for i, f in enumerate(chunk):
                w, h = images[i].size
                save_outputs(probs[i], w, h, os.path.splitext(os.path.basename(f))[0], out_dir, a.threshold)
        return time.perf_counter() - t0, len(todo)

    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(), "files": len(files)}), flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "run":
            limit = int(parts[2]) if len(parts) > 2 and int(parts[2]) > 0 else None
            secs, n = run(parts[1], limit, int(parts[3]) if len(parts) > 3 else None)
            print(json.dumps({"seconds": secs, "images": n}), flush=True)
        elif parts[0] == "quit":
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())

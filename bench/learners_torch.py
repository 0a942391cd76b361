#!/usr/bin/env python3
"""PyTorch side of bench/learners.ts: the reference wrappers' training step in plain torch.

transformers is not installable here, so the CLIPSeg forward comes from bench/clipseg_torch.py
(HF 4.38.2's CLIPSeg re-stated in plain torch) and this file re-states what the TuneVLSeg
reference wrappers (7956bcd, src/models/core_models/coop/*.py) add on top: VPTCLIPSeg,
MapleCLIPSeg, COOPCLIPSeg (CoOp) and SharedAttnCLIPSeg with their in-place prompt overwrites,
the vision tower stopped after max(extract_layers) + 1 layers for prompted vision, the full HF
vision tower for CoOp, the additive upsampler (Upsample x16 bilinear -> Conv5x5 replicate) and
DiceCE, then backward and AdamW(lr 2e-4, wd 0.01) in train() mode: bench_reference.json's step.

  --serve --case vpt_d1    read "run" lines, answer {"seconds": wall, "cpu": cpu} per train step
  --case vpt_d1 --runs 5   time and print one JSON line
  --precision bf16-mixed   the step under torch.autocast (bf16-mixed: bfloat16; 16-mixed: float16 with
                           torch.cuda.amp.GradScaler), as Lightning's precision plugin runs training_step
  --device cuda --batch 32 on a GPU (torch >= 2.0: factories default to that device)
"""
import argparse
import contextlib
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from clipseg_torch import CLIPSegForImageSegmentation, resolve, RD64_REFINED, FLOAT_MIN  # noqa: E402

CASES = {
    "vpt_d1": ("vpt", 1), "vpt_d9": ("vpt", 9), "maple_d9": ("maple", 9),
    "coop_d1": ("coop", 1), "shared_attn_d9": ("shared_attn", 9),
}
N_CTX = 4
INIT_IDS = [320, 1125, 539, 320]  # "a photo of a"


def mlp_proj(i, o, inter=64):
    layers = nn.Sequential(nn.Linear(i, inter), nn.ReLU(inplace=True))
    nn.init.kaiming_normal_(layers[0].weight, nonlinearity="relu")
    layers.append(nn.Linear(inter, o, bias=False))
    layers.append(nn.LayerNorm(o))
    return layers


class Learner(nn.Module):
    def __init__(self, kind, depth, model):
        super().__init__()
        self.kind, self.depth = kind, depth
        t = model.clip.text_model.embeddings.token_embedding
        dt, dv = t.weight.shape[1], model.clip.vision_model.pre_layrnorm.weight.shape[0]
        self.dt = dt
        if kind == "vpt":
            self.ctx = nn.Parameter(torch.randn(depth, N_CTX, dv) * 0.02)
        elif kind in ("coop", "maple"):
            with torch.no_grad():
                init = t(torch.tensor([INIT_IDS]))
            self.ctx = nn.Parameter(torch.cat([init, torch.randn(depth - 1, N_CTX, dt) * 0.02]))
            if kind == "maple":
                self.proj = nn.ModuleList([mlp_proj(dt, dv) for _ in range(depth)])
        elif kind == "shared_attn":
            self.ctx = nn.Parameter(torch.randn(depth, N_CTX, dt + dv) * 0.02)
            self.proj = nn.ModuleList([nn.TransformerEncoderLayer(dt + dv, 16, 1536, 0.25, norm_first=True) for _ in range(depth)])
        self.cache = {}

    def text(self, i):
        if self.kind in ("coop", "maple"):
            return self.ctx[i]
        if i in self.cache:  # SharedAttn: computed on the vision branch, cached
            return self.cache.pop(i)
        out = self.proj[i](self.ctx[i].unsqueeze(0)).squeeze(0)
        self.cache[("v", i)] = out[:, self.dt:]
        return out[:, : self.dt]

    def vision(self, i):
        if self.kind == "vpt":
            return self.ctx[i]
        if self.kind == "maple":
            return self.proj[i](self.ctx[i])
        out = self.proj[i](self.ctx[i].unsqueeze(0)).squeeze(0)
        self.cache[i] = out[:, : self.dt]
        return out[:, self.dt:]


class Wrapper(nn.Module):
    def __init__(self, kind, depth):
        super().__init__()
        self.model = CLIPSegForImageSegmentation(resolve(RD64_REFINED))
        self.model.requires_grad_(False)
        self.learner = Learner(kind, depth, self.model)
        self.additive = nn.Sequential(nn.Upsample(scale_factor=16.0, mode="bilinear"),
                                      nn.Conv2d(64, 1, 5, padding="same", padding_mode="replicate"))
        self.r = nn.Parameter(torch.tensor(0.5))
        self.kind = kind

    def prompted_text(self, ids, mask):
        tm = self.model.clip.text_model
        L = self.learner
        b, s = ids.shape
        emb = tm.embeddings.token_embedding(ids)
        end = min(77 - N_CTX, s) - 1
        x = torch.cat([emb[:, :1], L.text(0).expand(b, -1, -1), emb[:, 1:end], emb[:, -1:]], 1)
        x = x + tm.embeddings.position_embedding(tm.embeddings.position_ids[:, : x.shape[1]])
        m2 = torch.cat([torch.ones(b, N_CTX, dtype=mask.dtype), mask], 1)[:, :77]
        n = x.shape[1]
        causal = torch.full((n, n), FLOAT_MIN).triu(1)[None, None].expand(b, 1, n, n)
        inv = 1.0 - m2[:, None, None, :].expand(b, 1, n, n).to(x.dtype)
        pad = inv.masked_fill(inv.to(torch.bool), FLOAT_MIN)
        for idx, layer in enumerate(tm.encoder.layers, 1):
            x = layer(x, causal, pad)
            if idx < L.depth:
                x[:, 1: N_CTX + 1] = L.text(idx)
        x = tm.final_layer_norm(x)
        pooled = x[torch.arange(b), torch.clamp(ids.argmax(-1) + N_CTX, max=76)]
        return self.model.clip.text_projection(pooled)

    def prompted_vision(self, px):
        vm = self.model.clip.vision_model
        L = self.learner
        h = vm.embeddings(px)
        h = torch.cat([h, L.vision(0).expand(h.shape[0], -1, -1)], 1)
        h = vm.pre_layrnorm(h)
        states = [h]
        for idx, layer in enumerate(vm.encoder.layers, 1):
            h = layer(h)
            if idx < L.depth:
                h[:, -N_CTX:] = L.vision(idx)
            states.append(h)
            if idx > max(self.model.extract_layers):
                break
        return [states[i + 1] for i in self.model.extract_layers]

    def forward(self, px, ids, mask):
        m = self.model
        d = m.decoder
        if self.kind == "coop":  # COOPCLIPSeg: HF vision tower (12 layers + pooled), prompted text, HF decoder
            pooled, states = m.clip.vision_model(px)
            _ = m.clip.visual_projection(pooled)
            acts = [states[i + 1] for i in m.extract_layers]
            cond = self.prompted_text(ids, mask)
            logits, _ = d(acts, cond)
            return logits.unsqueeze(1)
        acts = self.prompted_vision(px)
        if self.kind == "vpt":
            _, tp = m.clip.text_model(ids, mask)
            cond = m.clip.text_projection(tp)
        else:
            cond = self.prompted_text(ids, mask)
        out = None
        for i, (act, layer, reduce) in enumerate(zip(acts[::-1], d.layers, d.reduces)):
            out = reduce(act) if out is None else reduce(act) + out
            if i == d.conditional_layer:
                out = (d.film_mul(cond) * out.permute(1, 0, 2) + d.film_add(cond)).permute(1, 0, 2)
            out = layer(out)
        out = out[:, 1:-N_CTX, :].permute(0, 2, 1)
        feats = out.reshape(out.shape[0], out.shape[1], 22, 22)
        logits = d.transposed_convolution(feats)
        if self.kind == "vpt":
            return logits + self.additive(feats)
        return (1 - self.r) * logits + self.r * self.additive(feats)


def dicece(logits, t):
    p = torch.sigmoid(logits)
    dice = (1 - (2 * (p * t).sum((2, 3)) + 1e-5) / (p.sum((2, 3)) + t.sum((2, 3)) + 1e-5)).mean()
    return dice + 0.2 * F.binary_cross_entropy_with_logits(logits, t)


def float32_norms():
    """The rule src/torch/functional.ts applies: a 16-bit input meeting float32 layer/group-norm
    parameters is normalised in float32 (CUDA autocast's fp32 list). torch 1.13's CPU kernels
    raise on the mix, so the bf16 CPU row of the original needs the same rule to run at all."""
    ln, gn = F.layer_norm, F.group_norm

    def up(x, w):
        return x.float() if w is not None and x.dtype in (torch.bfloat16, torch.float16) and w.dtype == torch.float32 else x

    F.layer_norm = lambda x, shape, weight=None, bias=None, eps=1e-5: ln(up(x, weight), shape, weight, bias, eps)
    F.group_norm = lambda x, groups, weight=None, bias=None, eps=1e-5: gn(up(x, weight), groups, weight, bias, eps)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--precision", default="32", choices=["32", "16-mixed", "bf16-mixed"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=2)
    a = ap.parse_args()
    cuda = a.device.startswith("cuda")
    if cuda:
        torch.set_default_device(a.device)
        torch.backends.cudnn.benchmark = True  # the original's run scripts: benchmark=true
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    kind, depth = CASES[a.case]
    net = Wrapper(kind, depth).train()
    trainable = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(net.parameters(), lr=2e-4, weight_decay=0.01)
    B = a.batch
    px = torch.randn(B, 3, 352, 352)
    labels = (torch.rand(B, 1, 352, 352) > 0.5).float()
    ids = torch.tensor([[49406, 320, 1125, 539, 320, 6833, 335, 269, 49407], [49406, 3575, 534, 1015, 49407, 49407, 49407, 49407, 49407]] * (B // 2) +
                       [[49406, 320, 1125, 539, 320, 6833, 335, 269, 49407]] * (B % 2))
    mask = torch.tensor([[1] * 9, [1] * 5 + [0] * 4] * (B // 2) + [[1] * 9] * (B % 2))
    amp_dtype = {"16-mixed": torch.float16, "bf16-mixed": torch.bfloat16}.get(a.precision)
    scaler = torch.cuda.amp.GradScaler() if a.precision == "16-mixed" else None
    device_type = "cuda" if cuda else "cpu"
    if amp_dtype is not None and not cuda:
        float32_norms()

    def step():
        if cuda:
            torch.cuda.synchronize()
        c0, t0 = time.process_time(), time.perf_counter()
        opt.zero_grad()
        with torch.autocast(device_type, dtype=amp_dtype) if amp_dtype else contextlib.nullcontext():
            loss = dicece(net(px, ids, mask), labels)
        if scaler:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - t0, time.process_time() - c0

    if a.serve:
        print(json.dumps({"ready": True, "trainable": sum(p.numel() for p in trainable)}), flush=True)
        first = True
        for line in sys.stdin:
            if line.strip() == "run":
                w, c = step()
                if first and cuda:
                    torch.cuda.reset_peak_memory_stats()
                first = False
                print(json.dumps({"seconds": w, "cpu": c}), flush=True)
            elif line.strip() == "stats":
                print(json.dumps({"peakCudaMb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None}), flush=True)
            elif line.strip() == "quit":
                break
        return 0
    step()
    runs = [step() for _ in range(a.runs)]
    print(json.dumps({"case": a.case, "median_s": statistics.median(r[0] for r in runs), "runs_s": [r[0] for r in runs],
                      "trainable": sum(p.numel() for p in trainable)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

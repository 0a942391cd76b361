#!/usr/bin/env python3
"""PyTorch side of bench/clipseg.ts: CLIPSeg's no-grad forward in plain torch.

transformers is not installable here, so this file re-states what HF transformers 4.38.2
`CLIPSegForImageSegmentation.forward` computes, in plain torch (1.13, Debian python3-torch):
eager attention (q scaled by head_dim**-0.5, bmm over [B*H, S, Dh], additive finfo.min
masks), pre-LN CLIP encoder layers with quick_gelu, position embeddings resized bicubically
for 352 inputs, **all** vision layers with every hidden state kept, post_layernorm + visual
projection of CLS, the text tower with legacy argmax pooling, and the decoder (FiLM, post-LN
ReLU layers, complex transposed convolution). Module names are HF's, so `--check-fixture`
loads the clipseg-tiny weights strictly and compares the logits with the fixture.

Modes:
  --serve           read "run" lines on stdin, answer one JSON line {"seconds": t} per forward
                    (bench/clipseg.ts interleaves its runs with ours this way)
  (default)         --warmup W then --runs N timed forwards; a table, then one JSON line
  --check-fixture D load D/config.json + model.safetensors, compare logits with D/outputs.safetensors
"""
import argparse
import json
import math
import statistics
import struct
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F

FLOAT_MIN = torch.finfo(torch.float32).min


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.scale = self.head_dim ** -0.5
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.q_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def split(self, t, b, s):
        return t.view(b, s, self.heads, self.head_dim).transpose(1, 2).contiguous().view(b * self.heads, s, self.head_dim)

    def forward(self, x, causal=None, pad=None):
        b, s, d = x.shape
        q = self.split(self.q_proj(x) * self.scale, b, s)
        k = self.split(self.k_proj(x), b, s)
        v = self.split(self.v_proj(x), b, s)
        w = torch.bmm(q, k.transpose(1, 2))
        if causal is not None:
            w = (w.view(b, self.heads, s, s) + causal).view(b * self.heads, s, s)
        if pad is not None:
            w = (w.view(b, self.heads, s, s) + pad).view(b * self.heads, s, s)
        w = F.softmax(w, dim=-1)
        o = torch.bmm(w, v).view(b, self.heads, s, self.head_dim).transpose(1, 2).reshape(b, s, d)
        return self.out_proj(o)


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


class MLP(nn.Module):
    def __init__(self, dim, inter, act):
        super().__init__()
        self.act = act
        self.fc1 = nn.Linear(dim, inter)
        self.fc2 = nn.Linear(inter, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class EncoderLayer(nn.Module):  # pre-LN
    def __init__(self, dim, heads, inter, eps):
        super().__init__()
        self.self_attn = Attention(dim, heads)
        self.layer_norm1 = nn.LayerNorm(dim, eps=eps)
        self.mlp = MLP(dim, inter, quick_gelu)
        self.layer_norm2 = nn.LayerNorm(dim, eps=eps)

    def forward(self, x, causal=None, pad=None):
        x = x + self.self_attn(self.layer_norm1(x), causal, pad)
        return x + self.mlp(self.layer_norm2(x))


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layers = nn.ModuleList(
            [EncoderLayer(c["hidden_size"], c["num_attention_heads"], c["intermediate_size"], c["layer_norm_eps"])
             for _ in range(c["num_hidden_layers"])])

    def forward(self, x, causal=None, pad=None):
        states = [x]
        for layer in self.layers:
            x = layer(x, causal, pad)
            states.append(x)
        return x, states


class TextEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.token_embedding = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.position_embedding = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.register_buffer("position_ids", torch.arange(c["max_position_embeddings"]).expand((1, -1)), persistent=False)

    def forward(self, ids):
        return self.token_embedding(ids) + self.position_embedding(self.position_ids[:, : ids.shape[-1]])


class TextTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.eos_token_id = c["eos_token_id"]
        self.embeddings = TextEmbeddings(c)
        self.encoder = Encoder(c)
        self.final_layer_norm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, ids, mask):
        b, s = ids.shape
        h = self.embeddings(ids)
        causal = torch.full((s, s), FLOAT_MIN).triu(1)[None, None].expand(b, 1, s, s)
        pad = None
        if mask is not None:  # HF _prepare_4d_attention_mask
            inv = 1.0 - mask[:, None, None, :].expand(b, 1, s, s).to(h.dtype)
            pad = inv.masked_fill(inv.to(torch.bool), FLOAT_MIN)
        h, _ = self.encoder(h, causal, pad)
        h = self.final_layer_norm(h)
        if self.eos_token_id == 2:
            idx = ids.to(torch.int).argmax(dim=-1)
        else:
            idx = (ids.to(torch.int) == self.eos_token_id).int().argmax(dim=-1)
        return h, h[torch.arange(b), idx]


class VisionEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, p = c["hidden_size"], c["patch_size"]
        self.hidden = d
        self.class_embedding = nn.Parameter(torch.randn(d))
        self.patch_embedding = nn.Conv2d(c["num_channels"], d, kernel_size=p, stride=p, bias=False)
        self.num_patches = (c["image_size"] // p) ** 2
        self.num_positions = self.num_patches + 1
        self.position_embedding = nn.Embedding(self.num_positions, d)
        self.register_buffer("position_ids", torch.arange(self.num_positions).expand((1, -1)), persistent=False)

    def interpolated(self, side):
        n0 = int(self.num_patches ** 0.5)
        grid = self.position_embedding.weight[1:].T.view(1, self.hidden, n0, n0)
        grid = F.interpolate(grid, (side, side), mode="bicubic", align_corners=False)
        grid = grid.squeeze(0).view(self.hidden, side * side).T
        return torch.cat([self.position_embedding.weight[:1], grid])

    def forward(self, px):
        b = px.shape[0]
        patches = self.patch_embedding(px).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_embedding.expand(b, 1, -1), patches], dim=1)
        if x.shape[1] != self.num_positions:
            return x + self.interpolated(int(math.sqrt(x.shape[1] - 1)))
        return x + self.position_embedding(self.position_ids)


class VisionTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = VisionEmbeddings(c)
        self.pre_layrnorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.encoder = Encoder(c)
        self.post_layernorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, px):
        last, states = self.encoder(self.pre_layrnorm(self.embeddings(px)))
        return self.post_layernorm(last[:, 0, :]), states


class CLIPSegModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        t, v = c["text_config"], c["vision_config"]
        self.text_model = TextTransformer(t)
        self.vision_model = VisionTransformer(v)
        self.visual_projection = nn.Linear(v["hidden_size"], c["projection_dim"], bias=False)
        self.text_projection = nn.Linear(t["hidden_size"], c["projection_dim"], bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(c["logit_scale_init_value"]))


class DecoderLayer(nn.Module):  # post-LN, ReLU MLP
    def __init__(self, dim, heads, inter, eps):
        super().__init__()
        self.self_attn = Attention(dim, heads)
        self.layer_norm1 = nn.LayerNorm(dim, eps=eps)
        self.mlp = MLP(dim, inter, torch.relu)
        self.layer_norm2 = nn.LayerNorm(dim, eps=eps)

    def forward(self, x):
        x = self.layer_norm1(x + self.self_attn(x))
        return self.layer_norm2(x + self.mlp(x))


class Decoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        r, v = c["reduce_dim"], c["vision_config"]
        p = v["patch_size"]
        self.conditional_layer = c["conditional_layer"]
        self.film_mul = nn.Linear(c["projection_dim"], r)
        self.film_add = nn.Linear(c["projection_dim"], r)
        if c["use_complex_transposed_convolution"]:
            k = p // 4
            self.transposed_convolution = nn.Sequential(
                nn.Conv2d(r, r, kernel_size=3, padding=1), nn.ReLU(),
                nn.ConvTranspose2d(r, r // 2, kernel_size=k, stride=k), nn.ReLU(),
                nn.ConvTranspose2d(r // 2, 1, kernel_size=k, stride=k))
        else:
            self.transposed_convolution = nn.ConvTranspose2d(r, 1, p, stride=p)
        n = len(c["extract_layers"])
        self.reduces = nn.ModuleList([nn.Linear(v["hidden_size"], r) for _ in range(n)])
        self.layers = nn.ModuleList([DecoderLayer(r, c["decoder_num_attention_heads"], c["decoder_intermediate_size"],
                                                  v["layer_norm_eps"]) for _ in range(n)])

    def forward(self, activations, cond):
        out = None
        for i, (act, layer, reduce) in enumerate(zip(activations[::-1], self.layers, self.reduces)):
            out = reduce(act) if out is None else reduce(act) + out
            if i == self.conditional_layer:
                out = (self.film_mul(cond) * out.permute(1, 0, 2) + self.film_add(cond)).permute(1, 0, 2)
            out = layer(out)
        out = out[:, 1:, :].permute(0, 2, 1)
        size = int(math.sqrt(out.shape[2]))
        feats = out.reshape(cond.shape[0], out.shape[1], size, size)
        return self.transposed_convolution(feats).squeeze(1), feats


class CLIPSegForImageSegmentation(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.extract_layers = c["extract_layers"]
        self.clip = CLIPSegModel(c)
        self.decoder = Decoder(c)

    def forward(self, px, ids, mask):
        # HF: the full vision tower (all layers, hidden states, post-LN + projection), then text, then decoder.
        pooled, states = self.clip.vision_model(px)
        _ = self.clip.visual_projection(pooled)
        activations = [states[i + 1] for i in self.extract_layers]
        _, text_pooled = self.clip.text_model(ids, mask)
        cond = self.clip.text_projection(text_pooled)
        logits, _ = self.decoder(activations, cond)
        return logits


# ---------------------------------------------------------------- configs

TEXT_DEFAULTS = dict(vocab_size=49408, hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
                     num_attention_heads=8, max_position_embeddings=77, layer_norm_eps=1e-5, eos_token_id=49407)
VISION_DEFAULTS = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                       num_channels=3, image_size=224, patch_size=32, layer_norm_eps=1e-5)
CLIPSEG_DEFAULTS = dict(projection_dim=512, logit_scale_init_value=2.6592, extract_layers=[3, 6, 9], reduce_dim=64,
                        decoder_num_attention_heads=4, decoder_intermediate_size=2048, conditional_layer=0,
                        use_complex_transposed_convolution=False)


def resolve(cfg):
    c = dict(CLIPSEG_DEFAULTS, **{k: v for k, v in cfg.items() if k in CLIPSEG_DEFAULTS})
    c["text_config"] = dict(TEXT_DEFAULTS, **{k: v for k, v in cfg.get("text_config", {}).items() if k in TEXT_DEFAULTS})
    c["vision_config"] = dict(VISION_DEFAULTS, **{k: v for k, v in cfg.get("vision_config", {}).items() if k in VISION_DEFAULTS})
    for k in ("text_config", "vision_config"):
        if cfg.get(k, {}).get("hidden_act", "quick_gelu") != "quick_gelu":
            raise SystemExit(f"{k}.hidden_act other than quick_gelu is not implemented here")
    return c


RD64_REFINED = {"text_config": {"bos_token_id": 0, "eos_token_id": 2}, "vision_config": {"patch_size": 16},
                "use_complex_transposed_convolution": True}


# ---------------------------------------------------------------- fixture check

def read_safetensors(path):
    dt = {"F32": torch.float32, "I64": torch.int64}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = torch.frombuffer(bytearray(data[a:b]), dtype=dt[v["dtype"]]).reshape(v["shape"]).clone()
    return out


def check_fixture(d):
    cfg = json.load(open(f"{d}/config.json"))
    model = CLIPSegForImageSegmentation(resolve(cfg)).eval()
    model.load_state_dict(read_safetensors(f"{d}/model.safetensors"), strict=True)
    inp, out = read_safetensors(f"{d}/inputs.safetensors"), read_safetensors(f"{d}/outputs.safetensors")
    with torch.no_grad():
        logits = model(inp["pixel_values"], inp["input_ids"], inp["attention_mask"])
    diff = (logits - out["logits"]).abs().max().item()
    print(json.dumps({"check": "clipseg-tiny logits", "max_abs_diff": diff}))
    return 0 if diff < 1e-4 else 1


# ---------------------------------------------------------------- timing

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--size", type=int, default=352)
    ap.add_argument("--ids", type=str, default=None, help="JSON [[...], ...] token ids (default: fixed prompts)")
    ap.add_argument("--mask", type=str, default=None)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--check-fixture", type=str, default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.check_fixture:
        return check_fixture(a.check_fixture)

    torch.manual_seed(0)
    model = CLIPSegForImageSegmentation(resolve(RD64_REFINED)).eval()
    # bench/clipseg.ts passes the tokenized prompts; the fallback is any two BOS..EOS rows padded with EOS
    ids = torch.tensor(json.loads(a.ids) if a.ids else [[49406, 320, 1125, 539, 320, 1000, 269, 49407],
                                                       [49406, 2000, 3000, 49407, 49407, 49407, 49407, 49407]])
    mask = torch.tensor(json.loads(a.mask)) if a.mask else (torch.arange(ids.shape[1])[None] <= ids.argmax(-1)[:, None]).long()
    if ids.shape[0] != a.batch:
        raise SystemExit(f"{ids.shape[0]} prompts for batch {a.batch}")
    px = torch.randn(a.batch, 3, a.size, a.size)

    def once():
        t0 = time.perf_counter()
        with torch.no_grad():
            logits = model(px, ids, mask)
        dt = time.perf_counter() - t0
        assert tuple(logits.shape) == (a.batch, a.size, a.size), logits.shape
        return dt

    if a.serve:
        print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "run":
                print(json.dumps({"seconds": once()}), flush=True)
            elif cmd == "quit":
                break
        return 0

    for _ in range(a.warmup):
        once()
    times = [once() for _ in range(a.runs)]
    med = statistics.median(times)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {a.batch}, {a.size}x{a.size}")
    print("runs (s): " + " ".join(f"{t:.3f}" for t in times))
    print(json.dumps({"bench": "clipseg_torch", "torch_forward_median_s": med, "runs_s": times}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

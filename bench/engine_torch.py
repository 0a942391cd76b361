# PyTorch baseline for bench/engine.ts: the same CLIP ViT-B/16 encoder layer, same op order.
import json, sys, time, statistics
import torch
import torch.nn as nn

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 7
torch.set_num_threads(threads)
torch.manual_seed(0)
W, H, MLP, L = 768, 12, 3072, 485
D = W // H

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(W)
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(W, W) for _ in range(4))
        self.layer_norm2 = nn.LayerNorm(W)
        self.fc1, self.fc2 = nn.Linear(W, MLP), nn.Linear(MLP, W)
    def attn(self, x):
        B = x.shape[0]
        q = self.q_proj(x) * D ** -0.5
        k, v = self.k_proj(x), self.v_proj(x)
        sh = lambda t: t.view(B, L, H, D).transpose(1, 2).reshape(B * H, L, D)
        w = torch.bmm(sh(q), sh(k).transpose(1, 2)).softmax(-1)
        o = torch.bmm(w, sh(v)).view(B, H, L, D).transpose(1, 2).reshape(B, L, W)
        return self.out_proj(o)
    def forward(self, x):
        x = x + self.attn(self.layer_norm1(x))
        h = self.fc1(self.layer_norm2(x))
        h = h * torch.sigmoid(1.702 * h)
        return x + self.fc2(h)

blk = Block().eval()
for p in blk.parameters():
    p.requires_grad_(False)
res = {}
for B in (1, 4):
    x = torch.randn(B, L, W)
    def fwd():
        with torch.no_grad():
            blk(x)
    def fwdbwd():
        xi = x.clone().requires_grad_(True)
        blk(xi).sum().backward()
    for name, fn in (("forward", fwd), ("forward_backward", fwdbwd)):
        fn()
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
        res[f"{name}_b{B}"] = statistics.median(ts)
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "medians_s": res}))

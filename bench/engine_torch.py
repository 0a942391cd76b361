# PyTorch baseline for bench/engine.ts: the same CLIP ViT-B/16 encoder layer, same op order.
# Serves timing requests on stdin ("forward_b1" ...) so the TypeScript side can interleave runs.
import json, sys, time
import torch
import torch.nn as nn

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
device = sys.argv[2] if len(sys.argv) > 2 else 'cpu'
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

blk = Block().eval().to(device)
for p in blk.parameters():
    p.requires_grad_(False)
inputs = {B: torch.randn(B, L, W, device=device) for B in (1, 4)}
sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)

def fwd(B):
    with torch.no_grad():
        blk(inputs[B])

def fwdbwd(B):
    xi = inputs[B].clone().requires_grad_(True)
    blk(xi).sum().backward()

first = True
for line in sys.stdin:
    name = line.strip()
    if first or not name:
        first = False
        print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
        continue
    kind, b = name.rsplit("_b", 1)
    fn = fwd if kind == "forward" else fwdbwd
    t0 = time.perf_counter(); fn(int(b)); sync(); dt = time.perf_counter() - t0
    print(json.dumps({"s": dt}), flush=True)

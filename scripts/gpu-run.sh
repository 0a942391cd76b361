#!/usr/bin/env bash
# The GPU machine's check script (see ../shared/notes/gpu-machine.md): that machine has a CUDA
# PyTorch but no Node.js, so gpu-kit/ (git-ignored) carries a Node binary and the Node-API
# headers; dist/ and node_modules/node-addon-api travel too. Builds the addon against the
# Python torch, runs the CPU engine tests on that libtorch, the CUDA checks and the CUDA bench.
# Mixed precision (docs/gpu.md): gpu-kit/fixtures must hold ../shared/fixtures' clipseg-tiny,
# cris-tiny and tokenizer; learners_cuda checks parity in float32 with TF32 off and in 16-mixed,
# then times batch 32 in 32 and 16-mixed against the PyTorch wrappers (torch.autocast + GradScaler).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
mkdir -p /tmp/nodebin && xz -dc gpu-kit/node.xz > /tmp/nodebin/node && chmod +x /tmp/nodebin/node
export PATH=/tmp/nodebin:$PATH TUNEVLSEG_TORCH_PYTHON=$(command -v python3)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import torch;print('torch', torch.__version__, 'cuda', torch.version.cuda, 'abi', torch._C._GLIBCXX_USE_CXX11_ABI)" | tee -a "$OUT/gpu.txt"
g++ --version | head -1 | tee -a "$OUT/gpu.txt"
export NAPI_INCLUDE=gpu-kit/napi
( time bash scripts/build-addon-gxx.sh ) > "$OUT/build.log" 2>&1 || { echo "c++17 build failed, retrying with c++20"; ( time CXXSTD=c++20 bash scripts/build-addon-gxx.sh ) >> "$OUT/build.log" 2>&1; }
grep -E "error|built|real" "$OUT/build.log" | head -40
node bin/tunevlseg.js doctor 2>&1 | tee "$OUT/doctor.txt"
node --test dist/test/torch-ops.test.js dist/test/torch-autograd.test.js dist/test/torch-errors.test.js dist/test/torch-nn.test.js dist/test/torch-memory.test.js 2>&1 | tail -12 | tee "$OUT/tests.txt"
CLIPSEG_FIXTURE=gpu-kit/clipseg-tiny node dist/bench/cuda_check.js 2>&1 | tee "$OUT/cuda_check.jsonl"
BENCH_DEVICE=cuda BENCH_RUNS=20 node dist/bench/engine.js 2>&1 | tee "$OUT/engine_cuda.txt"
node --test dist/test/precision.test.js 2>&1 | grep -E "^# (pass|fail)|^not ok" | tee "$OUT/precision_tests.txt"
timeout 420 node dist/bench/learners_cuda.js gpu-kit/fixtures --runs 5 2>&1 | tee "$OUT/learners_cuda.jsonl"

#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks for tunevlseg, then builds it:
#   - Debian: libtorch-dev (libtorch 1.13 headers + libs), libopenblas0-pthread (without it
#     Debian's torch falls back to reference BLAS, ~12x slower), python3-torch (PyTorch
#     baselines for the benchmarks and the `convert` test), postgresql (sweep storage tests),
#     chromium (the report's browser test, driven by playwright-core);
#   - npm ci (runtime + dev dependencies), the native addon, the TypeScript build.
# Options: --bench also installs python3-optuna (the TPE benchmark's baseline) and python3-opencv
# (bench/data's baseline: the original's OpenCV pipeline).
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(libtorch-dev libopenblas0-pthread python3-torch postgresql chromium)
[[ " $* " == *" --bench "* ]] && pkgs+=(python3-optuna python3-opencv)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "bootstrap: npm ci"
npm ci --no-audit --no-fund
echo "bootstrap: building the libtorch addon"
npm run build:native --silent >/tmp/tunevlseg-native-build.log 2>&1 || { tail -50 /tmp/tunevlseg-native-build.log; exit 1; }
echo "bootstrap: compiling TypeScript"
npm run build --silent
node bin/tunevlseg.js doctor --brief

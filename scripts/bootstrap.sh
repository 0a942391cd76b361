#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks for tunevlseg, then builds it:
#   - Debian: libtorch-dev (libtorch 1.13 headers + libs), libopenblas0-pthread (without it
#     Debian's torch falls back to reference BLAS, ~12x slower), libjpeg62-turbo-dev (the image
#     addon decodes JPEGs with the libjpeg OpenCV uses), python3-torch (PyTorch
#     baselines for the benchmarks and the `convert` test), postgresql (sweep storage tests),
#     chromium (the report's browser test, driven by playwright-core);
#   - npm ci (runtime + dev dependencies), the native addon, the TypeScript build.
# Options: --bench also installs python3-optuna (the TPE benchmark's baseline) and python3-opencv
#          (bench/data's baseline: the original's OpenCV pipeline);
#          --export also installs onnxruntime-node + onnxruntime-web (package.json's
#          "exportDependencies", ~290 MB + ~140 MB: `tunevlseg export`'s verification, `predict --onnx`
#          and the export web page) from npm only: onnxruntime-node's postinstall, which would
#          fetch CUDA binaries from outside the registry, is skipped; its CPU binding ships in the package.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(libtorch-dev libopenblas0-pthread libjpeg62-turbo-dev python3-torch postgresql chromium)
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
if [[ " $* " == *" --export "* ]]; then
  ort=$(node -p "Object.entries(require('./package.json').exportDependencies).map(([k, v]) => k + '@' + v).join(' ')")
  echo "bootstrap: npm install --no-save $ort (export)"
  # shellcheck disable=SC2086
  ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save --no-audit --no-fund --ignore-scripts $ort
fi
echo "bootstrap: building the native addons (libtorch, image)"
npm run build:native --silent >/tmp/tunevlseg-native-build.log 2>&1 || { tail -50 /tmp/tunevlseg-native-build.log; exit 1; }
echo "bootstrap: compiling TypeScript"
npm run build --silent
node bin/tunevlseg.js doctor --brief

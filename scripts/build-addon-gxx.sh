#!/usr/bin/env bash
# Builds the native addon with g++ directly (no node-gyp), for machines that have a C++
# toolchain and libtorch but no Node build tooling (e.g. a GPU box with only a Python torch).
# NAPI_INCLUDE: folder with node_api.h (default: Node's own include/node).
set -euo pipefail
cd "$(dirname "$0")/.."
NAPI_INCLUDE=${NAPI_INCLUDE:-$(dirname "$(dirname "$(command -v node)")")/include/node}
ADDON_API=$(node -p "require('node-addon-api').include_dir")
read -r -a TORCH_INC <<<"$(node native/find-libtorch.cjs --include | tr -d '"')"
read -r -a TORCH_LIBS <<<"$(node native/find-libtorch.cjs --libs)"
ABI=$(node native/find-libtorch.cjs --abi)
INC=(-I"$NAPI_INCLUDE" -I"$ADDON_API")
for d in "${TORCH_INC[@]}"; do INC+=(-I"$d"); done
# NDEBUG as libtorch's release builds: some ATen headers (RecordFunction) add members without it.
# -fno-math-errno: nothing reads errno, and it lets the fused kernels' square roots vectorise.
# -fopenmp: at::parallel_for is a header template; without OpenMP it runs on one thread.
FLAGS=(-std=${CXXSTD:-c++17} -O2 -fno-math-errno -fopenmp -fPIC -fexceptions -frtti -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED -DNDEBUG
  -D_GLIBCXX_USE_CXX11_ABI="$ABI" -D"$(node native/find-libtorch.cjs --defines)" -Wno-deprecated-declarations -Wno-unused-parameter)
mkdir -p native/build/obj native/build/Release
pids=()
for f in native/src/*.cc; do
  g++ "${FLAGS[@]}" "${INC[@]}" -c "$f" -o "native/build/obj/$(basename "$f" .cc).o" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
g++ -shared -fopenmp -o native/build/Release/tunevlseg_native.node native/build/obj/*.o "${TORCH_LIBS[@]}"
echo "built native/build/Release/tunevlseg_native.node against $(node native/find-libtorch.cjs --libdir)"

# The image addon (no libtorch). Without the libjpeg headers it is built without JPEG decoding:
# JPEGs then go through libvips (sharp), resized the same way.
DEFS=(-DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED)
LINK=(-ljpeg)
if ! printf '#include <stdio.h>\n#include <jpeglib.h>\n' | gcc -E -x c - >/dev/null 2>&1; then
  echo "jpeglib.h not found: the image addon is built without libjpeg"
  DEFS+=(-DTVS_NO_LIBJPEG)
  LINK=()
fi
mkdir -p native/build/obj-image
gcc -O2 -fPIC -ffp-contract=off "${DEFS[@]}" -c native/src/image/jpeg_decode.c -o native/build/obj-image/jpeg_decode.o
for f in native/src/image/*.cc; do
  g++ -std=c++17 -O2 -fPIC -fexceptions -ffp-contract=off "${DEFS[@]}" -I"$NAPI_INCLUDE" -I"$ADDON_API" -c "$f" -o "native/build/obj-image/$(basename "$f" .cc).o"
done
g++ -shared -o native/build/Release/tunevlseg_image.node native/build/obj-image/*.o "${LINK[@]}"
echo "built native/build/Release/tunevlseg_image.node ($([[ ${#LINK[@]} -gt 0 ]] && echo with || echo without) libjpeg)"

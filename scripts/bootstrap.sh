#!/usr/bin/env bash
# Installs everything tunevlseg and `npm test` need on a fresh Debian 12 machine, builds it, and
# puts `tunevlseg` on PATH. Idempotent: a step with nothing to do says so and takes no time.
#   1. Debian: libtorch-dev (libtorch 1.13 headers + libs), libopenblas0-pthread (without it
#      Debian's torch falls back to reference BLAS, ~12x slower), libjpeg62-turbo-dev (the image
#      addon decodes JPEGs with the libjpeg OpenCV uses), python3-torch (PyTorch baselines for the
#      benchmarks and the `convert` test), postgresql (sweep storage tests), chromium (the report's
#      and the export page's browser tests, driven by playwright-core);
#   2. npm ci: runtime, dev and optional dependencies, the export runtime included
#      (onnxruntime-node ~290 MB, onnxruntime-web ~140 MB: package.json "optionalDependencies",
#      so `npm ci` keeps them; onnxruntime-node's install script, which would fetch CUDA binaries
#      from outside the npm registry, is denied in package.json "allowScripts" and by
#      ONNXRUNTIME_NODE_INSTALL=skip: its CPU binding ships in the package; "allowScripts" lets
#      better-sqlite3 build its binding and denies protobufjs's version-scheme check). Skipped
#      when node_modules was installed from this very package-lock.json;
#   3. the native addons (libtorch, image), skipped when newer than their sources;
#   4. the TypeScript build;
#   5. `tunevlseg` on PATH: a link in $TUNEVLSEG_BIN_DIR, else /usr/local/bin when writable, else
#      ~/.local/bin;
#   6. `tunevlseg doctor --brief`.
# Options: --bench   also python3-optuna (the TPE benchmark's baseline), python3-opencv
#                    (bench/data's baseline: the original's OpenCV pipeline) and python3-pil
#                    (bench/predict's baseline: the image side of HF's CLIPSegProcessor);
#          --rebuild reinstall node_modules and rebuild the addons even when up to date;
#          --export  accepted for older scripts (.ci/run): the export runtime is always installed now.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bench=0 rebuild=0
for a in "$@"; do
  case "$a" in
    --bench) bench=1 ;;
    --rebuild) rebuild=1 ;;
    --export) ;;
    *) echo "bootstrap: unknown option $a (expected --bench, --rebuild, --export)" >&2; exit 2 ;;
  esac
done

total=6 n=0 t_all=$SECONDS t_step=0
begin() { n=$((n + 1)); t_step=$SECONDS; echo "bootstrap: [$n/$total] $1 ..."; }
done_() { echo "bootstrap: [$n/$total] $1 ($((SECONDS - t_step)) s)"; }

# 1. Debian packages
begin "Debian packages"
pkgs=(libtorch-dev libopenblas0-pthread libjpeg62-turbo-dev python3-torch postgresql chromium)
((bench)) && pkgs+=(python3-optuna python3-opencv python3-pil)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  done_ "Debian packages: installed ${missing[*]}"
else
  done_ "Debian packages: all ${#pkgs[@]} present"
fi

# 2. npm packages
begin "npm packages (npm ci; about 3 minutes the first time)"
stamp=node_modules/.tunevlseg-installed
want="$(sha256sum package-lock.json | cut -d' ' -f1) node $(node -p process.version)"
if ((rebuild)) || [[ ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
  # Optional dependencies are dropped silently when they fail: the tests need them.
  node -e "for (const m of ['onnxruntime-node', 'onnxruntime-web']) require.resolve(m)" 2>/dev/null || {
    echo "bootstrap: onnxruntime-node/onnxruntime-web did not install (npm skips a failed optional dependency): see npm's log above" >&2
    exit 1
  }
  echo "$want" >"$stamp"
  done_ "npm packages: installed from package-lock.json"
else
  done_ "npm packages: node_modules matches package-lock.json"
fi

# 3. native addons
begin "native addons (libtorch, image)"
addons=(native/build/Release/tunevlseg_native.node native/build/Release/tunevlseg_image.node)
stale=$((rebuild))
for a in "${addons[@]}"; do
  if [[ ! -f $a ]] || [[ -n $(find native/src native/binding.gyp native/find-libtorch.cjs -newer "$a" -print -quit) ]]; then stale=1; fi
done
if ((stale)); then
  log=$(mktemp /tmp/tunevlseg-native-build.XXXXXX.log)
  npm run build:native --silent >"$log" 2>&1 || { tail -50 "$log"; echo "bootstrap: native build failed (log: $log)" >&2; exit 1; }
  done_ "native addons: built (log: $log)"
else
  done_ "native addons: up to date"
fi

# 4. TypeScript
begin "TypeScript build"
npm run build --silent
done_ "TypeScript build: dist/"

# 5. tunevlseg on PATH
begin "tunevlseg on PATH"
bin_dir=${TUNEVLSEG_BIN_DIR:-}
if [[ -z $bin_dir ]]; then
  if [[ -w /usr/local/bin ]]; then bin_dir=/usr/local/bin; else bin_dir=$HOME/.local/bin; fi
fi
mkdir -p "$bin_dir"
chmod +x bin/tunevlseg.js
ln -sfn "$root/bin/tunevlseg.js" "$bin_dir/tunevlseg"
if [[ "$(command -v tunevlseg || true)" == "$bin_dir/tunevlseg" ]]; then
  done_ "tunevlseg on PATH: $bin_dir/tunevlseg -> $root/bin/tunevlseg.js"
else
  done_ "tunevlseg: linked as $bin_dir/tunevlseg, which is not first on PATH: add $bin_dir to PATH (or run node bin/tunevlseg.js)"
fi

# 6. check
begin "doctor"
node bin/tunevlseg.js doctor --brief
done_ "doctor"
echo "bootstrap: done in $((SECONDS - t_all)) s; next: tunevlseg demo, npm test"

#!/usr/bin/env node
// Locates libtorch for the addon build (and for `tunevlseg doctor`).
// Order (DESIGN.md): $LIBTORCH, then the `torch` package of python3 (CUDA builds come this
// way), then the system's (Debian libtorch-dev). Every path tried is recorded so that a
// failure can say exactly where we looked.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

function candidateFromRoot(root, source) {
  const inc = path.join(root, 'include');
  const api = path.join(inc, 'torch', 'csrc', 'api', 'include');
  const lib = path.join(root, 'lib');
  return { source, root, include: [inc, api], lib, abi: null };
}

function hasHeaders(c) {
  return fs.existsSync(path.join(c.include[0], 'ATen', 'ATen.h')) && fs.existsSync(path.join(c.include[1], 'torch', 'version.h'));
}
function hasLibs(c) {
  return fs.existsSync(path.join(c.lib, 'libtorch_cpu.so')) && fs.existsSync(path.join(c.lib, 'libc10.so'));
}

// Where python's torch package is, without importing it (importing torch takes seconds):
// enough for `tunevlseg doctor`, which reads the ABI and CUDA from the loaded addon instead.
function pythonTorchQuick(python) {
  try {
    const out = execFileSync(
      python,
      [
        '-c',
        'import importlib.util,os,json;s=importlib.util.find_spec("torch");print(json.dumps({"dir":os.path.dirname(s.origin) if s and s.origin else None}))',
      ],
      { stdio: ['ignore', 'pipe', 'ignore'], timeout: 20000 },
    )
      .toString()
      .trim()
      .split('\n')
      .pop();
    const info = JSON.parse(out);
    return info.dir ? candidateFromRoot(info.dir, `python torch (${python})`) : null;
  } catch {
    return null;
  }
}

function pythonTorch(python) {
  try {
    const out = execFileSync(
      python,
      [
        '-c',
        'import torch,os,json;print(json.dumps({"dir":os.path.dirname(torch.__file__),"abi":int(torch._C._GLIBCXX_USE_CXX11_ABI),"cuda":torch.version.cuda}))',
      ],
      { stdio: ['ignore', 'pipe', 'ignore'], timeout: 60000 },
    )
      .toString()
      .trim()
      .split('\n')
      .pop();
    const info = JSON.parse(out);
    const c = candidateFromRoot(info.dir, `python torch (${python})`);
    c.abi = info.abi;
    c.cuda = info.cuda;
    return c;
  } catch {
    return null;
  }
}

function systemCandidate() {
  const libdirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
  const lib = libdirs.find((d) => fs.existsSync(path.join(d, 'libtorch_cpu.so'))) || libdirs[0];
  return { source: 'system', root: '/usr', include: ['/usr/include', '/usr/include/torch/csrc/api/include'], lib, abi: 1 };
}

// The CUDA runtime headers (cuda_runtime_api.h) that c10/cuda's allocator header includes:
// $CUDA_HOME, the usual toolkit folder, or the nvidia-cuda-runtime wheel next to a pip torch.
// Without them the addon still builds for CUDA, only without allocator statistics.
function cudaRuntimeInclude(c) {
  const dirs = [];
  if (process.env.CUDA_HOME) dirs.push(path.join(process.env.CUDA_HOME, 'include'));
  if (process.env.CUDA_PATH) dirs.push(path.join(process.env.CUDA_PATH, 'include'));
  dirs.push('/usr/local/cuda/include');
  const site = path.dirname(c.root);
  for (const sub of ['cuda_runtime', 'cu13', 'cu12']) dirs.push(path.join(site, 'nvidia', sub, 'include'));
  dirs.push('/usr/include');
  return dirs.find((d) => fs.existsSync(path.join(d, 'cuda_runtime_api.h'))) || null;
}

/** The libtorch the build uses. `quick`: find python's torch without importing it (ABI then assumed 1). */
function locate({ quick = false } = {}) {
  const tried = [];
  const consider = (c) => {
    if (!c) return null;
    const ok = hasHeaders(c) && hasLibs(c);
    tried.push(`${c.source}: ${c.root} (${ok ? 'ok' : !hasHeaders(c) ? 'no headers' : 'no libtorch_cpu.so'})`);
    return ok ? c : null;
  };
  let found = null;
  if (process.env.LIBTORCH) {
    found = consider(candidateFromRoot(process.env.LIBTORCH, '$LIBTORCH'));
    if (!found) {
      throw new Error(`$LIBTORCH=${process.env.LIBTORCH} is not a libtorch folder (need include/ATen/ATen.h and lib/libtorch_cpu.so)`);
    }
  }
  if (!found) {
    for (const py of [process.env.PYTHON || 'python3', '/usr/bin/python3']) {
      found = consider(quick ? pythonTorchQuick(py) : pythonTorch(py));
      if (found) break;
      tried.push(`python torch (${py}): not found or without headers`);
    }
  }
  if (!found) found = consider(systemCandidate());
  if (!found) {
    throw new Error(
      'libtorch not found. Tried:\n  ' +
        tried.join('\n  ') +
        "\nInstall Debian's libtorch-dev and libopenblas0-pthread (scripts/bootstrap.sh), or set LIBTORCH to a libtorch folder.",
    );
  }
  if (found.abi === null) found.abi = 1;
  found.cudaLib = fs.existsSync(path.join(found.lib, 'libtorch_cuda.so'));
  found.cudaInclude = found.cudaLib ? cudaRuntimeInclude(found) : null;
  found.tried = tried;
  return found;
}

module.exports = { locate };

if (require.main === module) {
  const what = process.argv[2] || '--json';
  const c = locate();
  if (what === '--include') console.log([...c.include, ...(c.cudaInclude ? [c.cudaInclude] : [])].map((p) => JSON.stringify(p)).join(' '));
  else if (what === '--defines') console.log(`TVS_CUDA=${c.cudaInclude ? 1 : 0}`);
  else if (what === '--libdir') console.log(c.lib);
  else if (what === '--abi') console.log(String(c.abi));
  else if (what === '--libs') {
    const libs = ['-L' + c.lib, '-Wl,-rpath,' + c.lib, '-Wl,--no-as-needed', '-ltorch_cpu', '-lc10', '-ltorch'];
    if (c.cudaLib) libs.push('-ltorch_cuda', '-lc10_cuda');
    libs.push('-Wl,--as-needed');
    console.log(libs.join(' '));
  } else console.log(JSON.stringify(c, null, 2));
}

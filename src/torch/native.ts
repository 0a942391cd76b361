// Loads the libtorch addon. The build lives in native/build/Release; a failure to load says
// what to run (most often: libtorch not installed, or the addon not built yet).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../util/package-root.js';
import { cpus } from 'node:os';

/** Opaque handle to a native at::Tensor. */
export interface NativeHandle {
  readonly __nativeTensor: unique symbol;
}

// The addon's functions are typed loosely here; `Tensor` and the functional modules give
// them their typed faces.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NativeModule = Record<string, (...args: any[]) => any>;

export { packageRoot };
export const addonPath = process.env.TUNEVLSEG_ADDON ?? join(packageRoot, 'native', 'build', 'Release', 'tunevlseg_native.node');

function load(): NativeModule {
  // libtorch's OpenMP workers spin between elementwise ops by default while OpenBLAS's own
  // threads run the GEMMs; on few cores the spinning steals a core from the GEMM (measured in
  // docs/learners.md: a VPT step's CPU time ~13 s -> ~7 s). libgomp reads this when libtorch
  // loads, i.e. below; a value the user set wins.
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  // The converse: after each multi-threaded GEMM, OpenBLAS's own worker threads spin (2^28
  // cycles, ~0.1 s, by default) waiting for the next one, taking a core from whatever libtorch
  // runs next on its OpenMP threads (the fused attention, elementwise ops). 2^4 cycles lets them
  // sleep at once; waking them costs microseconds per GEMM. Measured on one ViT-B layer at 485
  // tokens, 2 cores: attention 14-15 ms -> 7.5 ms, GEMMs unchanged. A value the user set wins.
  process.env.OPENBLAS_THREAD_TIMEOUT ??= '4';
  const require = createRequire(import.meta.url);
  if (!existsSync(addonPath)) {
    throw new Error(
      `tunevlseg: the libtorch addon is not built (${addonPath} missing). Run \`npm run build:native\` ` +
        '(needs Debian libtorch-dev; see scripts/bootstrap.sh), then `tunevlseg doctor`.',
    );
  }
  try {
    return require(addonPath) as NativeModule;
  } catch (e) {
    throw new Error(
      `tunevlseg: failed to load ${addonPath}: ${(e as Error).message}\n` +
        'If libtorch_cpu.so / libc10.so cannot be found, rebuild the addon (`npm run build:native`) so its rpath points at the ' +
        'libtorch in use, or set LD_LIBRARY_PATH; `node native/find-libtorch.cjs` prints the libtorch the build picks.',
    );
  }
}

export const N: NativeModule = load();

// libtorch's default thread count differs between builds (Debian's starts at 1); use every
// core unless the user chose (TUNEVLSEG_THREADS, or OMP_NUM_THREADS as PyTorch honours it).
const threadEnv = process.env.TUNEVLSEG_THREADS ?? process.env.OMP_NUM_THREADS;
const wanted = threadEnv ? Number.parseInt(threadEnv, 10) : cpus().length;
if (Number.isFinite(wanted) && wanted > 0) N.setNumThreads(wanted);

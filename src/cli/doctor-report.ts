// What `tunevlseg doctor` finds: the libtorch addon (version, BLAS actually mapped, threads, CUDA,
// TF32 flags, CPU bf16 autocast), where the build's locator finds libtorch and every path it tried,
// and whether the image addon loads. Each part is imported only here, inside try, so a missing
// addon is a finding, not a crash.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

interface Located {
  source: string;
  root: string;
  lib: string;
  include: string[];
  abi: number;
  tried: string[];
  cudaLib: boolean;
}

/** The shared libraries this process has mapped whose file name matches `re` (Linux: /proc/self/maps), real paths. */
function loadedLibraries(re: RegExp): string[] {
  let maps: string;
  try {
    maps = readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return [];
  }
  const out = new Set<string>();
  for (const line of maps.split('\n')) {
    const file = line.slice(line.indexOf('/'));
    if (line.includes('/') && re.test(file.split('/').pop() ?? '')) out.add(file.trim());
  }
  return [...out];
}

/**
 * The BLAS doing libtorch's matrix products, named by what is loaded in this process: libtorch's
 * build config only says which interface it was linked against ("generic" for Debian's, i.e.
 * whatever libblas.so.3 the system's alternatives point at), which alone says nothing of speed.
 */
function blasInUse(buildBlas: string): { name: string; library: string | null; build: string; line: string } {
  const libs = loadedLibraries(/^lib(openblas|blas|mkl_|blis|flexiblas)/);
  const pick = (re: RegExp): string | undefined => libs.find((l) => re.test(l.split('/').pop()!));
  const openblas = pick(/^libopenblas/) ?? (libs.some((l) => /openblas/.test(l)) ? libs.find((l) => /openblas/.test(l)) : undefined);
  const mkl = pick(/^libmkl_/),
    blis = pick(/^libblis/),
    flexi = pick(/^libflexiblas/),
    ref = pick(/^libblas\.so/);
  const [name, library] = openblas
    ? ['OpenBLAS', openblas]
    : mkl
      ? ['MKL', mkl]
      : blis
        ? ['BLIS', blis]
        : flexi
          ? ['FlexiBLAS', flexi]
          : ref
            ? ['reference BLAS (slow)', ref]
            : buildBlas === 'mkl'
              ? ['MKL (linked into libtorch)', null]
              : ['unknown (no BLAS library loaded)', null];
  const how =
    buildBlas === 'generic'
      ? "libtorch uses the generic BLAS interface, so the system's libblas.so.3 decides"
      : `libtorch's build: BLAS_INFO=${buildBlas}`;
  return { name, library, build: buildBlas, line: `${name}${library ? ` (${library})` : ''}; ${how}` };
}

/** What doctor prints, gathered: `ok` is false when either addon cannot be used. */
export async function doctorReport(): Promise<{ report: Record<string, unknown>; ok: boolean }> {
  const require = createRequire(import.meta.url);
  const report: Record<string, unknown> = { node: process.version, platform: `${process.platform}-${process.arch}` };
  let ok = true;
  try {
    const { runtimeInfo } = await import('../torch/index.js');
    const r = runtimeInfo();
    report.addon = r.addonPath;
    report.libtorchVersion = r.libtorchVersion;
    report.libtorchLoaded = loadedLibraries(/^libtorch_cpu\.so/)[0] ?? null;
    report.threads = r.threads;
    const blas = blasInUse(r.blas);
    report.blas = blas.line;
    report.blasLibrary = blas.library;
    report.cudaAvailable = r.cudaAvailable;
    report.cudaDeviceCount = r.cudaDeviceCount;
    // What a run on this process would start from; a run's `tf32` setting sets both flags explicitly.
    const { cudaFlags, cudaAllocatorBuilt } = await import('../torch/index.js');
    const f = cudaFlags();
    report.tf32 = {
      matmul: f.tf32Matmul,
      cudnn: f.tf32Cudnn,
      cudnnBenchmark: f.cudnnBenchmark,
      note: 'libtorch defaults in force; train --tf32 on|off|auto sets them per run',
    };
    report.cudaAllocatorStats = cudaAllocatorBuilt();
    const { cpuBf16Autocast } = await import('../inference/precision.js');
    const bf = cpuBf16Autocast();
    report.cpuBf16Autocast = { available: bf.available, nativeHardware: bf.nativeHardware, detail: bf.detail };
    if (/reference BLAS/.test(blas.name))
      report.warning = `${blas.library} is reference BLAS (~12x slower): apt-get install libopenblas0-pthread`;
  } catch (e) {
    ok = false;
    report.addonError = (e as Error).message;
  }
  // Where the build's locator finds libtorch, and every path it tried (the first thing to read when
  // "libtorch_cpu.so not found"). Quick: python's torch is found, not imported.
  try {
    const { packageRoot } = await import('../util/package-root.js');
    const finder = require(`${packageRoot}/native/find-libtorch.cjs`) as { locate(o: { quick: boolean }): Located };
    const loc = finder.locate({ quick: true });
    report.libtorchFound = { source: loc.source, root: loc.root, lib: loc.lib, cudaLibrary: loc.cudaLib };
    report.pathsTried = loc.tried;
  } catch (e) {
    report.libtorchFound = null;
    report.locateError = (e as Error).message;
  }
  const { imageAddonPath, imageAddonError } = await import('../data/native-image.js');
  report.imageAddon = imageAddonPath;
  const imageError = imageAddonError();
  if (imageError !== null) {
    ok = false;
    report.imageAddonError = imageError;
  }
  return { report, ok };
}

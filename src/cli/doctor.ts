// `tunevlseg doctor`: which libtorch the addon uses, BLAS, threads, CUDA, whether the image addon
// loads, and every path the build's locator tried (the first thing to read when
// "libtorch_cpu.so not found").
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { examples, flag, option } from './flags.js';

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

export async function doctor(opts: { brief?: boolean; json?: boolean }): Promise<number> {
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
  if (opts.json) console.log(JSON.stringify(report, null, 2));
  else if (opts.brief) {
    console.log(
      ok
        ? `tunevlseg: libtorch ${String(report.libtorchVersion)} (${String(report.libtorchLoaded ?? (report.libtorchFound as { source?: string } | null)?.source ?? '?')}), BLAS ${String(report.blas)}, ${String(report.threads)} threads, CUDA ${report.cudaAvailable ? `yes (${String(report.cudaDeviceCount)} devices)` : 'no'}, ${precisionLine(report)}`
        : `tunevlseg: addon not usable: ${String(report.addonError ?? report.imageAddonError)}`,
    );
    if (report.warning) console.log(`warning: ${String(report.warning)}`);
  } else {
    for (const [k, v] of Object.entries(report)) {
      if (Array.isArray(v)) {
        console.log(`${k}:`);
        for (const x of v) console.log(`  ${String(x)}`);
      } else console.log(`${k}: ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`);
    }
  }
  return ok ? 0 : 1;
}

function precisionLine(report: Record<string, unknown>): string {
  const t = report.tf32 as { matmul: boolean; cudnn: boolean } | undefined;
  const bf = report.cpuBf16Autocast as { available: boolean; nativeHardware: boolean } | undefined;
  const onOff = (b: boolean | undefined): string => (b ? 'on' : 'off');
  return `TF32 matmul ${onOff(t?.matmul)} / cuDNN ${onOff(t?.cudnn)}, CPU bf16 autocast ${bf?.available ? (bf.nativeHardware ? 'yes (native)' : 'yes (emulated)') : 'no'}`;
}

export function registerDoctorCommand(program: Command): void {
  const cmd = program
    .command('doctor')
    .description('show the libtorch in use (version, BLAS, threads, CUDA, TF32 flags, CPU bf16 autocast) and every path the locator tried');
  option(cmd, '--brief', 'one line');
  flag(cmd, 'json', { help: 'machine-readable output' });
  examples(cmd, ['tunevlseg doctor', 'tunevlseg doctor --brief']);
  cmd.action(async (o: { brief?: boolean; json?: boolean }) => {
    process.exitCode = await doctor(o);
  });
}

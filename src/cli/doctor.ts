// `tunevlseg doctor`: which libtorch the addon uses, BLAS, threads, CUDA, whether the image addon
// loads, and every path the build's locator tried (the first thing to read when
// "libtorch_cpu.so not found").
import { createRequire } from 'node:module';
import { existsSync, realpathSync } from 'node:fs';
import type { Command } from 'commander';

interface Located { source: string; root: string; lib: string; include: string[]; abi: number; tried: string[]; cudaLib: boolean }

export async function doctor(opts: { brief?: boolean; json?: boolean }): Promise<number> {
  const require = createRequire(import.meta.url);
  const report: Record<string, unknown> = { node: process.version, platform: `${process.platform}-${process.arch}` };
  let ok = true;
  try {
    const { packageRoot } = await import('../torch/package-root.js');
    const finder = require(`${packageRoot}/native/find-libtorch.cjs`) as { locate(): Located };
    const loc = finder.locate();
    report.libtorchFound = { source: loc.source, root: loc.root, lib: loc.lib, cxx11Abi: loc.abi, cudaLibrary: loc.cudaLib };
    report.pathsTried = loc.tried;
  } catch (e) {
    report.libtorchFound = null;
    report.locateError = (e as Error).message;
  }
  try {
    const { runtimeInfo } = await import('../torch/index.js');
    const r = runtimeInfo();
    report.addon = r.addonPath;
    report.libtorchVersion = r.libtorchVersion;
    report.threads = r.threads;
    report.blas = r.blas;
    report.cudaAvailable = r.cudaAvailable;
    report.cudaDeviceCount = r.cudaDeviceCount;
    // What a run on this process would start from; a run's `tf32` setting sets both flags explicitly.
    const { cudaFlags, cudaAllocatorBuilt } = await import('../torch/index.js');
    const f = cudaFlags();
    report.tf32 = { matmul: f.tf32Matmul, cudnn: f.tf32Cudnn, cudnnBenchmark: f.cudnnBenchmark, note: 'libtorch defaults in force; train --tf32 on|off|auto sets them per run' };
    report.cudaAllocatorStats = cudaAllocatorBuilt();
    const { cpuBf16Autocast } = await import('../train/precision.js');
    const bf = cpuBf16Autocast();
    report.cpuBf16Autocast = { available: bf.available, nativeHardware: bf.nativeHardware, detail: bf.detail };
  } catch (e) {
    ok = false;
    report.addonError = (e as Error).message;
  }
  const { imageAddonPath, imageAddonError } = await import('../data/native-image.js');
  report.imageAddon = imageAddonPath;
  const imageError = imageAddonError();
  if (imageError !== null) {
    ok = false;
    report.imageAddonError = imageError;
  }
  // Debian resolves libblas.so.3 through alternatives: reference BLAS is ~12x slower.
  const blasLink = '/usr/lib/x86_64-linux-gnu/libblas.so.3';
  if (existsSync(blasLink)) {
    const target = realpathSync(blasLink);
    report.systemBlas = target;
    if (!/openblas|mkl|blis/i.test(target)) {
      report.warning = `libblas.so.3 resolves to ${target} (reference BLAS, ~12x slower): apt-get install libopenblas0-pthread`;
    }
  }
  if (opts.json) console.log(JSON.stringify(report, null, 2));
  else if (opts.brief) {
    console.log(ok
      ? `tunevlseg: libtorch ${String(report.libtorchVersion)} (${String((report.libtorchFound as { source?: string } | null)?.source ?? '?')}), BLAS ${String(report.systemBlas ?? report.blas)}, ${String(report.threads)} threads, CUDA ${report.cudaAvailable ? `yes (${String(report.cudaDeviceCount)} devices)` : 'no'}, ${precisionLine(report)}`
      : `tunevlseg: addon not usable: ${String(report.addonError ?? report.imageAddonError)}`);
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
  program.command('doctor')
    .description('show the libtorch in use (version, BLAS, threads, CUDA, TF32 flags, CPU bf16 autocast) and every path the locator tried')
    .option('--brief', 'one line')
    .option('--json', 'machine-readable output')
    .action(async (o: { brief?: boolean; json?: boolean }) => {
      process.exitCode = await doctor(o);
    });
}

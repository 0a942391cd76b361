// `tunevlseg doctor`: which libtorch the addon uses, BLAS, threads, CUDA, whether the image addon
// loads, and every path the build's locator tried (the first thing to read when
// "libtorch_cpu.so not found").
import type { Command } from 'commander';
import { examples, flag, option } from './flags.js';
import { doctorReport } from './doctor-report.js';

export async function doctor(opts: { brief?: boolean; json?: boolean }): Promise<number> {
  const { report, ok } = await doctorReport();
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

// The `tunevlseg` program: every command, each registered by its own module. Only the module of
// the command being run is loaded (a command's imports can take a second: libtorch), so
// `tunevlseg doctor` stays fast; `--help`, no command or an unknown one loads them all (the
// command list, and "did you mean" for a mistyped name).
import { Command } from 'commander';
import { examples } from './flags.js';
import { tunevlsegVersion } from '../util/package-root.js';

type Register = (program: Command) => unknown;

/** Command names -> the module that registers them, in help order. */
const COMMANDS: { names: readonly string[]; load: () => Promise<Register> }[] = [
  { names: ['demo'], load: async () => (await import('./demo.js')).registerDemoCommand },
  { names: ['doctor'], load: async () => (await import('./doctor.js')).registerDoctorCommand },
  { names: ['data'], load: async () => (await import('./data.js')).registerDataCommands },
  { names: ['train'], load: async () => (await import('./train.js')).registerTrainCommand },
  { names: ['pretrain'], load: async () => (await import('./pretrain.js')).registerPretrainCommand },
  { names: ['eval'], load: async () => (await import('./eval.js')).registerEvalCommand },
  { names: ['predict'], load: async () => (await import('./predict.js')).registerPredictCommand },
  { names: ['export'], load: async () => (await import('./export.js')).registerExportCommand },
  { names: ['serve'], load: async () => (await import('./serve.js')).registerServeCommand },
  { names: ['inspect'], load: async () => (await import('./inspect.js')).registerInspectCommand },
  { names: ['download'], load: async () => (await import('./download.js')).registerDownloadCommand },
  { names: ['convert'], load: async () => (await import('./convert.js')).registerConvertCommand },
  { names: ['report'], load: async () => (await import('./report.js')).registerReportCommand },
  { names: ['sweep'], load: async () => (await import('./sweep.js')).registerSweepCommand },
  { names: ['worker'], load: async () => (await import('./worker.js')).registerWorkerCommand },
  { names: ['study'], load: async () => (await import('./study.js')).registerStudyCommand },
  { names: ['bench'], load: async () => (await import('./bench.js')).registerBenchCommand },
];

/** Every command name, in help order. */
export const COMMAND_NAMES: readonly string[] = COMMANDS.flatMap((c) => c.names);

/**
 * The program with the commands `argv` (the arguments after `tunevlseg`) needs: the one it
 * names, or all of them (default, and for help or an unknown name).
 */
export async function buildProgram(argv: readonly string[] | null = null): Promise<Command> {
  const program = new Command();
  program
    .name('tunevlseg')
    .description('Prompt tuning of frozen vision-language segmentation models (CLIPSeg, CRIS) on new domains')
    .version(tunevlsegVersion());
  examples(program, ['tunevlseg demo', 'tunevlseg train --dataset data/kvasir --model learner=maple', 'tunevlseg doctor']);
  const first = argv?.find((a) => !a.startsWith('-'));
  const wanted = first === undefined ? undefined : COMMANDS.find((c) => c.names.includes(first));
  for (const c of wanted ? [wanted] : COMMANDS) (await c.load())(program);
  return program;
}

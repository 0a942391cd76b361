// The `tunevlseg` command line: one module per subcommand, each thin over the library.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { registerDoctorCommand } from './doctor.js';
import { registerConvertCommand } from './convert.js';
import { registerTrainCommand } from './train.js';
import { registerEvalCommand } from './eval.js';
import { registerInspectCommand } from './inspect.js';
import { registerReportCommand } from './report.js';
import { registerSweepCommands } from './sweep.js';
import { registerPredictCommand } from './predict.js';
import { registerDownloadCommand } from './download.js';
import { registerBenchCommand } from './bench.js';
import { registerDataCommands } from './data.js';
import { registerDemoCommand } from './demo.js';
import { registerPretrainCommand } from './pretrain.js';
import { redactText } from '../hub/redact.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command();
program
  .name('tunevlseg')
  .description('Prompt tuning of frozen vision-language segmentation models (CLIPSeg, CRIS) on new domains')
  .version(pkg.version);

registerDemoCommand(program);
registerDoctorCommand(program);
registerDataCommands(program);
registerTrainCommand(program);
registerPretrainCommand(program);
registerEvalCommand(program);
registerPredictCommand(program);
registerInspectCommand(program);
registerDownloadCommand(program);
registerConvertCommand(program);
registerReportCommand(program);
registerSweepCommands(program);
registerBenchCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  console.error(`tunevlseg: ${redactText((e as Error).message)}`);
  process.exitCode = 1;
}

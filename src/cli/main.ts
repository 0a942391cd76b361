// The `tunevlseg` command line: one module per subcommand, each thin over the library
// (src/cli/program.ts registers them, loading only the one being run).
import { redactText } from '../util/redact.js';
import { buildProgram } from './program.js';

try {
  const program = await buildProgram(process.argv.slice(2));
  await program.parseAsync(process.argv);
} catch (e) {
  console.error(`tunevlseg: ${redactText((e as Error).message)}`);
  process.exitCode = 1;
}

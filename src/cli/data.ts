// `tunevlseg data check <dir>`: every problem of a dataset folder, with counts (src/data/check).
import type { Command } from 'commander';
import { checkDataset, formatCheckReport } from '../data/index.js';

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('dataset tools');
  data.command('check <dir>')
    .description('report missing/unreadable files, size mismatches, non-binary masks, empty prompts, duplicates and paths escaping the folder (exit 1 on errors)')
    .option('--json', 'the full report as JSON')
    .option('--max-per-code <n>', 'examples listed per kind of problem', '10')
    .action(async (dir: string, o: { json?: boolean; maxPerCode: string }) => {
      const report = await checkDataset(dir);
      if (o.json) console.log(JSON.stringify(report, null, 2));
      else console.log(formatCheckReport(report, { maxPerCode: Number.parseInt(o.maxPerCode, 10) }));
      if (!report.ok) process.exitCode = 1;
    });
}

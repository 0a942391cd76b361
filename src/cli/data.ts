// `tunevlseg data check|convert|import`: dataset tools (src/data/check, src/data/convert, src/data/import).
import { Presets, SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { type BuildResult, CONVERTERS, checkDataset, convertDataset, formatCheckReport, importDataset } from '../data/index.js';

function progress(label: string): { onProgress: (done: number, total: number) => void; stop: () => void } {
  let bar: SingleBar | null = null;
  return {
    onProgress: (done, total) => {
      if (!process.stderr.isTTY) return;
      if (bar === null) {
        bar = new SingleBar({ format: `${label} |{bar}| {value}/{total} images | ETA {eta}s`, stream: process.stderr }, Presets.shades_classic);
        bar.start(total, 0);
      }
      bar.update(done);
    },
    stop: () => bar?.stop(),
  };
}

function printResult(r: BuildResult): void {
  if (r.skipped.length > 0) {
    console.log(`Left out ${r.skipped.length} raw file(s):`);
    for (const s of r.skipped.slice(0, 20)) console.log(`  - ${s}`);
    if (r.skipped.length > 20) console.log(`  ... and ${r.skipped.length - 20} more`);
  }
  const c = r.counts;
  console.log(`Wrote ${r.out}: train ${c.train.images} images / ${c.train.entries} entries, val ${c.val.images} / ${c.val.entries}, test ${c.test.images} / ${c.test.entries}`);
  console.log('');
  console.log(formatCheckReport(r.check));
  if (!r.check.ok) process.exitCode = 1;
}

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

  data.command('convert <name> <raw-dir>')
    .description(`turn a paper dataset's public download into the benchmark layout, then check it (exit 1 on errors); <name>: ${CONVERTERS.map((c) => c.name).join(', ')} (docs/datasets.md)`)
    .requiredOption('--out <dir>', 'output dataset folder (must not exist or be empty)')
    .option('--anns <dir>', "published prompt files (medvlsm's data/<dataset>/anns): keep their splits, names and prompts")
    .option('--seed <n>', 'seed of the splits drawn without --anns', '0')
    .action(async (name: string, rawDir: string, o: { out: string; anns?: string; seed: string }) => {
      const bar = progress(`convert ${name}`);
      try {
        printResult(
          await convertDataset(name, rawDir, {
            out: o.out,
            seed: Number.parseInt(o.seed, 10),
            ...(o.anns !== undefined ? { anns: o.anns } : {}),
            onProgress: bar.onProgress,
          }),
        );
      } finally {
        bar.stop();
      }
    });

  data.command('import')
    .description('build a dataset from a folder of images and a folder of masks matched by stem (0/1, 0/255, grayscale, palette masks), then check it')
    .requiredOption('--images <dir>', 'image folder')
    .requiredOption('--masks <dir>', 'mask folder (a mask may add _mask, _gt, _segmentation to the image stem)')
    .requiredOption('--out <dir>', 'output dataset folder (must not exist or be empty)')
    .option('--class <name>', 'class of binary masks (the prompt)')
    .option('--classes <labels.txt>', 'label maps: lines "<value> <name>" (or one name per line, value = line number); one entry per label present')
    .option('--split <ratios>', 'train,val,test ratios', '0.8,0.1,0.1')
    .option('--seed <n>', 'seed of the split', '0')
    .option('--attributes', 'prompts p0..p6 (shape, colour, size, count, position) from the masks, as medvlsm\'s (docs/datasets.md)')
    .action(async (o: { images: string; masks: string; out: string; class?: string; classes?: string; split: string; seed: string; attributes?: boolean }) => {
      const split = o.split.split(',').map(Number);
      if (split.length !== 3 || split.some((x) => !Number.isFinite(x))) throw new Error(`--split expects three numbers train,val,test, got ${JSON.stringify(o.split)}`);
      const bar = progress('import');
      try {
        printResult(
          await importDataset({
            images: o.images,
            masks: o.masks,
            out: o.out,
            ...(o.class !== undefined ? { className: o.class } : {}),
            ...(o.classes !== undefined ? { classesFile: o.classes } : {}),
            split: split as [number, number, number],
            seed: Number.parseInt(o.seed, 10),
            attributes: o.attributes ?? false,
            onProgress: bar.onProgress,
          }),
        );
      } finally {
        bar.stop();
      }
    });
}

// `tunevlseg data check|convert|import`: dataset tools (src/data/check, src/data/convert, src/data/import),
// with the one progress bar of the CLI (progress.ts).
import type { Command } from 'commander';
import { examples, flag, oneOf, option } from './flags.js';
import { progressOf } from './progress.js';
import { printResult } from './data-result.js';
import { CONVERTERS, checkDataset, convertDataset, formatCheckReport, importDataset, MASK_MODES, type MaskMode } from '../data/index.js';

export function registerDataCommands(program: Command): void {
  const data = program
    .command('data')
    .description("dataset tools: check, convert a paper dataset's download, import your own images and masks");
  examples(data, ['tunevlseg data check data/kvasir', 'tunevlseg data import --images imgs --masks masks --class polyp --out data/mine']);

  const check = data
    .command('check <dir>')
    .description(
      'report missing/unreadable files, size mismatches, non-binary masks, empty prompts, duplicates and paths escaping the folder (exit 1 on errors); warn about grey-in-colour images, alpha channels and files the decoder had to mend',
    );
  flag(check, 'json', { help: 'the full report as JSON' });
  option(check, '--max-per-code <n>', 'examples listed per kind of problem', { default: '10' });
  examples(check, ['tunevlseg data check data/kvasir', 'tunevlseg data check data/kvasir --json']);
  check.action(async (dir: string, o: { json?: boolean; maxPerCode: string }) => {
    const report = await checkDataset(dir);
    if (o.json) console.log(JSON.stringify(report, null, 2));
    else console.log(formatCheckReport(report, { maxPerCode: Number.parseInt(o.maxPerCode, 10) }));
    if (!report.ok) process.exitCode = 1;
  });

  const convert = data
    .command('convert <name> <raw-dir>')
    .description(
      `turn a paper dataset's public download into the benchmark layout, check it, and move it into place only when the check passes (exit 1 otherwise); <name>: ${CONVERTERS.map((c) => c.name).join(', ')} (docs/datasets.md)`,
    );
  flag(convert, 'out', {
    required: true,
    help: 'output dataset folder (must not exist or be empty, nor lie inside the raw or --anns folder)',
  });
  option(convert, '--anns <dir>', "published prompt files (medvlsm's data/<dataset>/anns): keep their splits, names and prompts");
  flag(convert, 'seed', {
    default: 0,
    help: 'seed of the splits drawn without --anns (by group where the dataset has them: a ClinicDB video sequence, a CAMUS patient)',
  });
  examples(convert, [
    'tunevlseg data convert kvasir-seg downloads/Kvasir-SEG --out data/kvasir',
    'tunevlseg data convert busi downloads/Dataset_BUSI_with_GT --out data/busi --anns medvlsm/data/busi/anns',
  ]);
  convert.action(async (name: string, rawDir: string, o: { out: string; anns?: string; seed: number }) => {
    const bar = progressOf(`convert ${name}`, 'images', {});
    try {
      printResult(
        await convertDataset(name, rawDir, {
          out: o.out,
          seed: o.seed,
          ...(o.anns !== undefined ? { anns: o.anns } : {}),
          onProgress: bar.onProgress,
        }),
      );
    } finally {
      bar.stop();
    }
  });

  const imp = data
    .command('import')
    .description(
      'build a dataset from a folder of images and a folder of masks matched by stem (0/1, 0/255, gray, colour, palette, alpha masks), check it, and move it into place only when the check passes',
    );
  option(imp, '--images <dir>', 'image folder', { required: true });
  option(imp, '--masks <dir>', 'mask folder (a mask may add _mask, _gt, _segmentation to the image stem)', { required: true });
  flag(imp, 'out', { required: true, help: 'output dataset folder (must not exist or be empty, nor lie inside --images or --masks)' });
  option(imp, '--class <name>', 'class of binary masks (the prompt)');
  option(
    imp,
    '--classes <labels.txt>',
    'label maps: lines "<value> <name>" (or one name per line, value = line number); one entry per label present',
  );
  option(imp, '--split <ratios>', 'train,val,test ratios', { default: '0.8,0.1,0.1' });
  flag(imp, 'seed', { default: 0, help: 'seed of the split' });
  option(imp, '--attributes', "prompts p0..p6 (shape, colour, size, count, position) from the masks, as medvlsm's (docs/datasets.md)");
  option(
    imp,
    '--mask-mode <mode>',
    `how binary masks are read: ${MASK_MODES.join(' | ')}; auto decides per file (gray, colour, palette by colour, mask in alpha; photos refused); ` +
      'gray: foreground where gray > 127; alpha: where alpha > 127; nonzero: any non-zero channel; index: palette index not 0',
    { default: 'auto', parse: oneOf(MASK_MODES) },
  );
  option(imp, '--groups <file>', 'lines "<image name or stem> <group>": images of one group (a video, a patient) stay in one split');
  option(imp, '--group-pattern <regex>', 'the group of an image is the first capture group of this regular expression on its file name');
  examples(imp, [
    'tunevlseg data import --images imgs --masks masks --class polyp --out data/mine',
    'tunevlseg data import --images imgs --masks labels --classes labels.txt --split 0.7,0.15,0.15 --out data/multi',
    'tunevlseg data import --images frames --masks masks --class polyp --groups videos.txt --mask-mode gray --out data/clinic',
  ]);
  imp.action(
    async (o: {
      images: string;
      masks: string;
      out: string;
      class?: string;
      classes?: string;
      split: string;
      seed: number;
      attributes?: boolean;
      maskMode: MaskMode;
      groups?: string;
      groupPattern?: string;
    }) => {
      const split = o.split.split(',').map(Number);
      if (split.length !== 3 || split.some((x) => !Number.isFinite(x)))
        throw new Error(`--split expects three numbers train,val,test, got ${JSON.stringify(o.split)}`);
      const bar = progressOf('import', 'images', {});
      try {
        printResult(
          await importDataset({
            images: o.images,
            masks: o.masks,
            out: o.out,
            ...(o.class !== undefined ? { className: o.class } : {}),
            ...(o.classes !== undefined ? { classesFile: o.classes } : {}),
            split: split as [number, number, number],
            seed: o.seed,
            attributes: o.attributes ?? false,
            maskMode: o.maskMode,
            ...(o.groups !== undefined ? { groupsFile: o.groups } : {}),
            ...(o.groupPattern !== undefined ? { groupPattern: o.groupPattern } : {}),
            onProgress: bar.onProgress,
          }),
        );
      } finally {
        bar.stop();
      }
    },
  );
}

// `tunevlseg worker`: joins a sweep study from any machine (src/experiment's joinStudy) and runs its
// trials until the study has enough.
import type { Command } from 'commander';
import { examples, flag, option } from './flags.js';

export function registerWorkerCommand(program: Command): void {
  const worker = program.command('worker').description('join a sweep study from any machine and run its trials until it has enough');
  flag(worker, 'storage', { required: true, help: 'the study storage (postgres://... for many machines)' });
  option(worker, '--study <name>', 'study name', { required: true });
  option(worker, '--trials <n>', 'total trials of the study', { defaultText: 'what the study was created with' });
  option(worker, '--pruner <p>', "override the study's pruner");
  option(worker, '--worker-id <id>', 'name in the trials table', { defaultText: 'host:pid' });
  flag(worker, 'device', { help: "train this worker's trials on this device (cpu, cuda, cuda:<n>) whatever the study's config says" });
  flag(worker, 'quiet', { help: 'no per-trial lines' });
  examples(worker, [
    'tunevlseg worker --storage postgres://user@db/tvs --study clipseg__maple__kvasir',
    'tunevlseg worker --storage postgres://user@db/tvs --study clipseg__maple__kvasir --device cuda:1',
  ]);
  worker.action(
    async (o: {
      storage: string;
      study: string;
      trials?: string;
      pruner?: string;
      workerId?: string;
      device?: string;
      quiet?: boolean;
    }) => {
      if (o.device !== undefined && !/^(cpu|cuda(:\d+)?)$/.test(o.device))
        throw new Error(`--device: "${o.device}" is not a device (expected cpu, cuda or cuda:<n>)`);
      const { joinStudy } = await import('../experiment/index.js');
      const ran = await joinStudy(o.storage, o.study, {
        nTrials: o.trials ? Number.parseInt(o.trials, 10) : undefined,
        pruner: o.pruner,
        quiet: o.quiet,
        workerId: o.workerId,
        ...(o.device !== undefined ? { device: o.device } : {}),
      });
      if (!o.quiet) console.log(`worker ran ${ran} trial(s)`);
    },
  );
}

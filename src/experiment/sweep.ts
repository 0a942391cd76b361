/**
 * `sweep`: a TPE study of one model x learner x dataset, each trial a training run, run by one
 * worker in this process or by local worker processes, with studies in SQLite or PostgreSQL so
 * that workers on other machines can join. Rerunning it on an existing study says what happens.
 */
import { basename, resolve } from 'node:path';
import { checkStudyName, openStorage, summarizeStudy, type StudyConfig, type StudyStorage, type StudySummary } from '../sweep/index.js';
import { LEARNER_NAMES } from '../learners/registry.js';
import type { LearnerName } from '../learners/types.js';
import { unknownLearnerMessage } from '../learners/registry.js';
import { readConfigFile, type TrainConfigInput } from '../train/index.js';
import { familyOfModelSpec } from '../tuning/base-model.js';
import { trialsOnCuda, withRecipe } from './recipes.js';
import { planReport, planSweep, type SamplerChoice, type SweepPlan } from './sweep-plan.js';
import { autoObjective, checkTrialConfig, objectiveDirection, trainConfigDiff, type SweepObjective } from './trial.js';
import { assertSomeTrialCompleted, joinHint, parseDevices, runWorker, spawnWorkers, StudyFailedError } from './worker.js';

export interface SweepOptions {
  /** The base model (preset, folder or hub id). */
  model: string;
  /** Other model config keys for every trial (`--model key=value`); the config file's, then these. */
  modelConfig?: Record<string, unknown>;
  learner: string;
  dataset: string;
  /** Default: the original sweep's n_trials (20). */
  trials?: string;
  storage: string;
  study?: string;
  workers: string;
  /** Default: the original sweep's seed for the learner (quirks: reference), else 0. */
  seed?: string;
  objective: SweepObjective | 'auto';
  pruner: string;
  /** Cap on the sampled prompt depth (default: the space's own, within the model's layers). */
  maxDepth?: string;
  /** auto (by quirks mode), optuna (the original's) or tunevlseg (ours). */
  sampler?: string;
  /** A run-script recipe (recipes.ts): original-scripts, or a script's name. */
  recipe?: string;
  config?: string;
  runsDir: string;
  maxEpochs?: string;
  quiet?: boolean;
  /** One worker process per device (`cuda:0,cuda:1`, `all`, `cpu,cpu`); replaces --workers. */
  devices?: string;
}

/** A flag's integer, or undefined when the flag was not given. */
export function intFlag(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v.trim())) throw new Error(`${flag} must be a non-negative integer, got "${v}"`);
  return Number.parseInt(v, 10);
}

interface SweepSetup {
  learner: LearnerName;
  base: TrainConfigInput;
  plan: SweepPlan;
  workers: number;
  devices: (string | null)[] | null;
  studyName: string;
}

/** Flags -> the study's base training config and plan (sweep-plan.ts); nothing is written. */
async function setupSweep(o: SweepOptions, log: (line: string) => void, lenientModel = false): Promise<SweepSetup> {
  if (!(LEARNER_NAMES as readonly string[]).includes(o.learner)) throw new Error(unknownLearnerMessage(o.learner));
  const learner = o.learner as LearnerName;
  let workers = Number.parseInt(o.workers, 10);
  if (!(workers > 0)) throw new Error('--workers must be a positive integer');
  const nTrials = intFlag('--trials', o.trials);
  if (nTrials === 0) throw new Error('--trials must be a positive integer');
  let devices: (string | null)[] | null = null;
  if (o.devices !== undefined) {
    if (workers > 1) throw new Error('give --devices or --workers, not both (--devices starts one worker per device)');
    const { runtimeInfo } = await import('../torch/index.js');
    devices = parseDevices(o.devices, runtimeInfo().cudaDeviceCount);
    workers = devices.length;
  }
  const fileCfg = o.config ? readConfigFile(o.config) : {};
  const datasetName = basename(resolve(o.dataset));
  const studyName = o.study ?? `${o.model.replace(/[^\w.-]+/g, '_')}__${learner}__${datasetName}`;
  let base = {
    ...fileCfg,
    data: { ...((fileCfg.data as Record<string, unknown> | undefined) ?? {}), dir: resolve(o.dataset) },
    model: { ...((fileCfg.model as Record<string, unknown> | undefined) ?? {}), ...o.modelConfig, model: o.model, learner },
    runsDir: resolve(o.runsDir),
    ...(o.maxEpochs ? { maxEpochs: Number.parseInt(o.maxEpochs, 10) } : {}),
  } as TrainConfigInput;
  if (o.recipe !== undefined) {
    const cuda = await trialsOnCuda(devices, base.device);
    base = withRecipe(base, o.recipe, { learner, family: familyOfModelSpec(o.model), dataset: datasetName, cuda }, log);
  }
  const plan = await planSweep({
    learner,
    model: (base.model ?? {}) as Record<string, unknown>,
    sampler: (o.sampler ?? 'auto') as SamplerChoice,
    seed: intFlag('--seed', o.seed),
    nTrials,
    maxDepth: intFlag('--max-depth', o.maxDepth),
    log,
    lenientModel,
  });
  return { learner, base, plan, workers, devices, studyName };
}

/**
 * `sweep --print-space`: what the study would sample (the space, the sampler with its seed and
 * settings, the number of trials) as one JSON-able object; nothing runs, nothing is written.
 */
export async function sweepSpaceReport(
  o: SweepOptions,
  log: (line: string) => void = console.error,
): Promise<ReturnType<typeof planReport>> {
  return planReport((await setupSweep(o, log, true)).plan);
}

/**
 * Creates (or resumes) the study and runs its trials; returns its summary. A study with no
 * completed trial, or a local worker that failed, throws StudyFailedError (with the summary).
 */
export async function runSweep(o: SweepOptions, log: (line: string) => void = console.log): Promise<StudySummary> {
  const { learner, base, plan, workers, devices, studyName } = await setupSweep(o, log);
  // Before anything is created or run: a name that is a path, or a config no trial could train
  // with (minEpochs > maxEpochs), would only give a study of failed trials.
  checkStudyName(studyName);
  checkTrialConfig(base, { file: o.config, flags: o.maxEpochs ? { maxEpochs: '--max-epochs' } : {} });
  const nTrials = plan.nTrials;
  const objective = o.objective === 'auto' ? autoObjective((base.model ?? {}) as Record<string, unknown>) : o.objective;
  const config: StudyConfig = {
    name: studyName,
    direction: objectiveDirection(objective),
    space: plan.space,
    seed: plan.seed,
    sampler: plan.sampler,
    lag: workers - 1,
    attrs: {
      train: base,
      objective,
      nTrials,
      pruner: o.pruner,
      model: o.model,
      learner,
      dataset: resolve(o.dataset),
      sampler: plan.samplerName,
      ...(plan.source ? { source: plan.source } : {}),
      ...(o.recipe ? { recipe: o.recipe } : {}),
    },
  };
  const storage = await openStorage(o.storage);
  try {
    const existing = await storage.loadStudy(studyName);
    const finished = existing ? await finishedTrials(storage, existing.id) : 0;
    if (existing) log(rerunNote(existing.name, existing.attrs.train, base, finished, nTrials));
    await storage.createStudy(config, { loadIfExists: true });
    if (finished < nTrials) {
      log(`study ${studyName} in ${storage.url}: ${nTrials} trials, ${workers} worker(s)`);
      log(joinHint(o.storage, studyName));
    }
    let codes: number[] = [];
    if (devices === null && workers === 1) {
      await runWorker(storage, studyName, { nTrials, pruner: o.pruner, quiet: o.quiet });
    } else {
      codes = await spawnWorkers(o.storage, studyName, nTrials, devices ?? Array.from({ length: workers }, () => null), o.quiet === true);
    }
    const summary = await summarizeStudy(storage, studyName);
    assertSomeTrialCompleted(summary);
    if (codes.some((c) => c !== 0)) throw new StudyFailedError(`study "${studyName}": worker exit codes ${codes.join(', ')}`, summary);
    return summary;
  } finally {
    await storage.close();
  }
}

/** Logical trials of a study that have finished (a re-run of a dead worker's trial counts once). */
async function finishedTrials(storage: StudyStorage, studyId: number): Promise<number> {
  const seqs = new Set<number>();
  for (const t of await storage.getTrials(studyId))
    if (t.state === 'complete' || t.state === 'pruned' || t.state === 'failed') seqs.add(t.seq);
  return seqs.size;
}

/**
 * What rerunning `sweep` on an existing study does, said out loud: resume it, or nothing at all
 * because it is complete. A different training config under the same name is refused: its
 * trials would mix two experiments in one table.
 */
function rerunNote(name: string, oldTrain: unknown, base: TrainConfigInput, finished: number, nTrials: number): string {
  const keys = trainConfigDiff(oldTrain, base);
  if (keys.length > 0) {
    throw new Error(
      `study "${name}" already exists with a different training config (differs in: ${keys.join(', ')}); ` +
        'give this sweep its own --study name',
    );
  }
  if (finished >= nTrials) {
    return (
      `study "${name}" already has ${finished} finished trial(s) of the ${nTrials} asked: nothing to run. ` +
      `Its results are below; --trials ${nTrials + 10} adds trials to it, --study <new name> starts a fresh study.`
    );
  }
  return `study "${name}" exists: resuming it, ${finished} of ${nTrials} trial(s) finished, ${nTrials - finished} to run`;
}

// The parity suite's learner fixture cases (<fixtures>/{clipseg,cris}-tiny/learners/<case>),
// loaded for the precision benchmarks: the segmenter the case describes, its initial trainable
// parameters and its inputs. The caller disposes the segmenter and the tensors.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type * as T from '../src/torch/index.js';
import { loadSafetensors } from '../src/torch/index.js';
import { buildCaseSegmenter } from '../src/parity/kinds/learners.js';

export function learnerCaseDirs(fixtures: string): string[] {
  return ['clipseg-tiny', 'cris-tiny'].flatMap((m) => {
    const d = join(fixtures, m, 'learners');
    return existsSync(d)
      ? readdirSync(d)
          .filter((e) => existsSync(join(d, e, 'case.json')))
          .map((e) => join(d, e))
      : [];
  });
}

export function loadLearnerCase(dir: string): {
  seg: ReturnType<typeof buildCaseSegmenter>['segmenter'];
  params: Map<string, T.Tensor>;
  inputs: Map<string, T.Tensor>;
} {
  const cj = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as Record<string, unknown>;
  const { segmenter: seg, root } = buildCaseSegmenter(dir, cj);
  return {
    seg,
    params: loadSafetensors(join(dir, 'params_init.safetensors')).tensors,
    inputs: loadSafetensors(join(root, 'inputs.safetensors')).tensors,
  };
}

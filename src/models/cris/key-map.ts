// How the keys of a pickled CRIS (or OpenAI CLIP RN50) checkpoint become this model's state-dict
// keys: the key map that `tunevlseg convert` applies before validating names and shapes.

export type ConvertModel = 'cris' | 'clip-rn50';

/**
 * How checkpoint keys become model keys, applied in this order:
 * 1. `unwrap`: for the first name N such that some key starts with `N.`, keep only those keys and
 *    remove `N.` (training checkpoints: {epoch, state_dict: {...}, optimizer: {...}}).
 * 2. `stripPrefixes`: each prefix, in order, is removed from every key that starts with it
 *    (`module.` from DataParallel/DDP; add `net.` or `model.` for Lightning wrappers).
 * 3. `drop`: exact keys removed (non-weights such as OpenAI's `input_resolution`).
 * 4. `rename`: exact renames.
 */
export interface KeyMap {
  unwrap?: string[];
  stripPrefixes?: string[];
  drop?: string[];
  rename?: Record<string, string>;
}

/** CRIS checkpoints (the authors' `cris_best.pth` holds {state_dict: {module.backbone...}, optimizer, ...}). */
export const CRIS_KEY_MAP: Readonly<Required<KeyMap>> = Object.freeze({
  unwrap: ['state_dict'],
  stripPrefixes: ['module.'],
  drop: [],
  rename: {},
});
/** OpenAI CLIP RN50.pt (TorchScript): drops the three integer attributes build_model deletes. */
export const CLIP_RN50_KEY_MAP: Readonly<Required<KeyMap>> = Object.freeze({
  unwrap: ['state_dict'],
  stripPrefixes: ['module.'],
  drop: ['input_resolution', 'context_length', 'vocab_size'],
  rename: {},
});

export function defaultKeyMap(model: ConvertModel): Required<KeyMap> {
  const m = model === 'cris' ? CRIS_KEY_MAP : CLIP_RN50_KEY_MAP;
  return { unwrap: [...m.unwrap], stripPrefixes: [...m.stripPrefixes], drop: [...m.drop], rename: { ...m.rename } };
}

export interface KeyMapResult {
  /** new key -> original key */
  mapping: Map<string, string>;
  /** original keys left out (outside the unwrapped subtree, or dropped) */
  skipped: string[];
}

/** Applies a key map to checkpoint names (see KeyMap); two keys mapping to one name is an error. */
export function applyKeyMap(names: string[], map: KeyMap): KeyMapResult {
  const skipped: string[] = [];
  let work = names.map((n) => [n, n] as [string, string]); // [current, original]
  for (const u of map.unwrap ?? []) {
    const pre = `${u}.`;
    if (work.some(([c]) => c.startsWith(pre))) {
      const keep: [string, string][] = [];
      for (const [c, o] of work) c.startsWith(pre) ? keep.push([c.slice(pre.length), o]) : skipped.push(o);
      work = keep;
      break;
    }
  }
  for (const pre of map.stripPrefixes ?? []) {
    if (!pre) continue;
    work = work.map(([c, o]) => [c.startsWith(pre) ? c.slice(pre.length) : c, o]);
  }
  const drop = new Set(map.drop ?? []);
  const mapping = new Map<string, string>();
  for (const [c, o] of work) {
    if (drop.has(c)) {
      skipped.push(o);
      continue;
    }
    const n = map.rename?.[c] ?? c;
    const prev = mapping.get(n);
    if (prev !== undefined) throw new Error(`key map: both ${prev} and ${o} become ${n}`);
    mapping.set(n, o);
  }
  return { mapping, skipped };
}

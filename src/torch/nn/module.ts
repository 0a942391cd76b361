// nn.Module: parameters, buffers and submodules under dotted names (as PyTorch's
// named_parameters / state_dict), strict state-dict loading with a precise error, train/eval,
// requiresGrad_, device/dtype moves. Fields hold the very Tensor objects registered here, so
// model code reads `this.weight` while the module can still enumerate and move it.
import { Tensor } from '../tensor.js';
import { keep, noGrad } from '../scope.js';
import type { DType } from '../dtype.js';

export class StateDictError extends Error {
  constructor(
    message: string,
    readonly missing: string[],
    readonly unexpected: string[],
    readonly mismatched: { key: string; expected: number[]; got: number[] }[],
  ) {
    super(message);
    this.name = 'StateDictError';
  }
}

export interface LoadStateDictOptions {
  /** Fail on missing or unexpected keys (default true). Shape mismatches always fail. */
  strict?: boolean;
  /** Where the state came from, for error messages. */
  source?: string;
}

export class Module {
  training = true;
  readonly _parameters = new Map<string, Tensor | null>();
  readonly _buffers = new Map<string, Tensor | null>();
  readonly _nonPersistent = new Set<string>();
  readonly _modules = new Map<string, Module>();

  /** Registers a trainable tensor (kept alive beyond tidy scopes, requires grad). */
  registerParameter(name: string, t: Tensor | null, requiresGrad = true): Tensor {
    if (t !== null) {
      keep(t);
      if (t.requiresGrad !== requiresGrad) t.requiresGrad_(requiresGrad);
    }
    this._parameters.set(name, t);
    return t as Tensor;
  }
  /** Registers state that is not trained (running stats, fixed ids, position ids...). */
  registerBuffer(name: string, t: Tensor | null, persistent = true): Tensor {
    if (t !== null) keep(t);
    this._buffers.set(name, t);
    if (!persistent) this._nonPersistent.add(name);
    return t as Tensor;
  }
  registerModule<M extends Module>(name: string, m: M): M {
    this._modules.set(name, m);
    return m;
  }

  *children(): IterableIterator<[string, Module]> {
    yield* this._modules.entries();
  }
  *namedModules(prefix = ''): IterableIterator<[string, Module]> {
    yield [prefix, this];
    for (const [n, m] of this._modules) yield* m.namedModules(prefix ? `${prefix}.${n}` : n);
  }
  namedParameters(prefix = '', recurse = true): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    const walk = (m: Module, p: string): void => {
      for (const [n, t] of m._parameters) {
        if (t !== null && !seen.has(t)) {
          seen.add(t);
          out.push([p ? `${p}.${n}` : n, t]);
        }
      }
      if (recurse) for (const [n, c] of m._modules) walk(c, p ? `${p}.${n}` : n);
    };
    walk(this, prefix);
    return out;
  }
  parameters(recurse = true): Tensor[] {
    return this.namedParameters('', recurse).map(([, t]) => t);
  }
  namedBuffers(prefix = '', persistentOnly = false): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [mp, m] of this.namedModules(prefix)) {
      for (const [n, t] of m._buffers) {
        if (t === null || (persistentOnly && m._nonPersistent.has(n))) continue;
        out.push([mp ? `${mp}.${n}` : n, t]);
      }
    }
    return out;
  }
  /** Trainable parameters (requiresGrad) with their names. */
  namedTrainable(): [string, Tensor][] {
    return this.namedParameters().filter(([, t]) => t.requiresGrad);
  }
  numParameters(onlyTrainable = false): number {
    return this.namedParameters().reduce((s, [, t]) => s + (!onlyTrainable || t.requiresGrad ? t.numel : 0), 0);
  }

  /** Parameters and persistent buffers by dotted name (the tensors themselves, not copies). */
  stateDict(): Map<string, Tensor> {
    const sd = new Map<string, Tensor>();
    for (const [n, t] of this.namedParameters()) sd.set(n, t);
    for (const [n, t] of this.namedBuffers('', true)) sd.set(n, t);
    return sd;
  }

  /**
   * Copies values into this module's tensors by name. Strict by default: any missing,
   * unexpected or shape-mismatched key fails with one error listing them all, and nothing
   * is modified.
   */
  loadStateDict(
    sd: Map<string, Tensor> | Record<string, Tensor>,
    opts: LoadStateDictOptions = {},
  ): { missing: string[]; unexpected: string[] } {
    const strict = opts.strict ?? true;
    const src = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !src.has(k));
    const unexpected = [...src.keys()].filter((k) => !own.has(k));
    const mismatched: { key: string; expected: number[]; got: number[] }[] = [];
    for (const [k, t] of own) {
      const s = src.get(k);
      if (s === undefined) continue;
      const a = t.shape,
        b = s.shape;
      if (a.length !== b.length || a.some((v, i) => v !== b[i])) mismatched.push({ key: k, expected: a, got: b });
    }
    if (mismatched.length > 0 || (strict && (missing.length > 0 || unexpected.length > 0))) {
      const lines: string[] = [];
      const list = (xs: string[]): string => (xs.length > 20 ? [...xs.slice(0, 20), `... (${xs.length - 20} more)`] : xs).join(', ');
      if (missing.length) lines.push(`missing keys (${missing.length}): ${list(missing)}`);
      if (unexpected.length && strict) lines.push(`unexpected keys (${unexpected.length}): ${list(unexpected)}`);
      for (const m of mismatched.slice(0, 20))
        lines.push(`shape mismatch for ${m.key}: model has [${m.expected.join(', ')}], checkpoint has [${m.got.join(', ')}]`);
      const where = opts.source ? ` from ${opts.source}` : '';
      throw new StateDictError(
        `error loading state dict into ${this.constructor.name}${where}:\n  ${lines.join('\n  ')}`,
        missing,
        unexpected,
        mismatched,
      );
    }
    noGrad(() => {
      for (const [k, t] of own) {
        const s = src.get(k);
        if (s === undefined) continue;
        if (s.dtype === t.dtype && s.device === t.device) t.copy_(s);
        else {
          const c = s.to(t.dtype, t.device);
          t.copy_(c);
          c.dispose();
        }
      }
    });
    return { missing, unexpected };
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }
  requiresGrad_(flag = true): this {
    for (const t of this.parameters()) t.requiresGrad_(flag);
    return this;
  }
  /** Sets every parameter's gradient to none. */
  zeroGrad(): void {
    for (const t of this.parameters()) t.zeroGrad();
  }
  /** Moves/casts every parameter and buffer in place (identity kept, like PyTorch's _apply). Integer buffers keep their dtype. */
  to(target: DType | string): this {
    const isDevice = target === 'cpu' || target.startsWith('cuda');
    noGrad(() => {
      const all = [...this.namedParameters().map(([, t]) => t), ...this.namedBuffers().map(([, t]) => t)];
      for (const t of all) {
        if (!isDevice && !['float32', 'float64', 'float16', 'bfloat16'].includes(t.dtype)) continue;
        const d = t.detach();
        const c = d.to(target);
        t.setData_(c);
        c.dispose();
        d.dispose();
      }
    });
    return this;
  }
  apply(fn: (m: Module) => void): this {
    for (const [, m] of this.namedModules()) fn(m);
    return this;
  }
  /** Frees every parameter and buffer of this module tree. */
  dispose(): void {
    for (const t of this.parameters()) t.dispose();
    for (const [, t] of this.namedBuffers()) t.dispose();
  }
}

/** Children "0", "1", ... applied in order. */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.registerModule(String(i), m));
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) y = (m as unknown as { forward(t: Tensor): Tensor }).forward(y);
    return y;
  }
  get length(): number {
    return this.layers.length;
  }
  at(i: number): Module {
    const m = this.layers[i];
    if (!m) throw new RangeError(`Sequential has ${this.layers.length} layers, no index ${i}`);
    return m;
  }
}

/** A list of submodules named "0", "1", ... */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[] = [];
  constructor(items: M[] = []) {
    super();
    for (const m of items) this.push(m);
  }
  push(m: M): void {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
  }
  get length(): number {
    return this.items.length;
  }
  at(i: number): M {
    const m = this.items[i];
    if (!m) throw new RangeError(`ModuleList has ${this.items.length} items, no index ${i}`);
    return m;
  }
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}

// Optimizers with parameter groups, following torch.optim's update rules exactly (torch 1.13
// single-tensor paths), plus state save/load for resumable training.
import { Tensor, zerosLike } from '../tensor.js';
import { keep, noGrad } from '../scope.js';
import { N } from '../native.js';

export interface ParamGroup {
  params: Tensor[];
  lr: number;
  weightDecay: number;
  /** Free-form extra hyperparameters (betas, momentum ...), per group. */
  [k: string]: unknown;
}
export type ParamGroupInput = { params: Tensor[]; lr?: number; weightDecay?: number; [k: string]: unknown };

export interface OptimizerState {
  /** JSON-safe: group hyperparameters, per-parameter scalar state (e.g. step). */
  meta: { groups: Record<string, unknown>[]; scalars: Record<string, Record<string, number>> };
  /** Per-parameter state tensors under "<paramIndex>.<name>". */
  tensors: Map<string, Tensor>;
}

export abstract class Optimizer {
  readonly paramGroups: ParamGroup[];
  /** Per-parameter state (tensors kept alive across tidy scopes). */
  protected readonly state = new Map<Tensor, { scalars: Record<string, number>; tensors: Record<string, Tensor> }>();

  constructor(params: Tensor[] | ParamGroupInput[], defaults: { lr: number; weightDecay: number; [k: string]: unknown }) {
    const groups: ParamGroupInput[] =
      params.length > 0 && params[0] instanceof Tensor ? [{ params: params as Tensor[] }] : (params as ParamGroupInput[]);
    const seen = new Set<Tensor>();
    this.paramGroups = groups.map((g, gi) => {
      for (const p of g.params) {
        if (seen.has(p)) throw new Error(`optimizer: a parameter appears in more than one group (group ${gi})`);
        seen.add(p);
      }
      const merged = { ...defaults, ...Object.fromEntries(Object.entries(g).filter(([, v]) => v !== undefined)) } as ParamGroup;
      if (!(merged.lr >= 0)) throw new RangeError(`optimizer: invalid learning rate ${merged.lr} in group ${gi}`);
      if (!(merged.weightDecay >= 0)) throw new RangeError(`optimizer: invalid weight decay ${merged.weightDecay} in group ${gi}`);
      return merged;
    });
  }

  /** Drops every gradient (set_to_none=True, PyTorch's default). */
  zeroGrad(): void {
    for (const g of this.paramGroups) for (const p of g.params) p.zeroGrad();
  }

  /** One update from the current gradients; parameters whose grad is null are skipped entirely. */
  step(): void {
    noGrad(() => {
      for (const g of this.paramGroups) {
        for (const p of g.params) {
          const grad = p.grad;
          if (grad === null) continue;
          try {
            let st = this.state.get(p);
            if (!st) {
              st = { scalars: {}, tensors: {} };
              this.state.set(p, st);
            }
            this.update(p, grad, g, st);
          } finally {
            grad.dispose();
          }
        }
      }
    });
  }

  protected abstract update(
    p: Tensor,
    grad: Tensor,
    g: ParamGroup,
    st: { scalars: Record<string, number>; tensors: Record<string, Tensor> },
  ): void;

  protected stateTensor(st: { tensors: Record<string, Tensor> }, name: string, like: Tensor): Tensor {
    return (st.tensors[name] ??= keep(zerosLike(like)));
  }

  private allParams(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  stateDict(): OptimizerState {
    const params = this.allParams();
    const tensors = new Map<string, Tensor>();
    const scalars: Record<string, Record<string, number>> = {};
    params.forEach((p, i) => {
      const st = this.state.get(p);
      if (!st) return;
      scalars[i] = { ...st.scalars };
      for (const [k, t] of Object.entries(st.tensors)) tensors.set(`${i}.${k}`, t);
    });
    const groups = this.paramGroups.map(({ params: ps, ...rest }) => ({ ...rest, numParams: ps.length }));
    return { meta: { groups, scalars }, tensors };
  }

  loadStateDict(s: OptimizerState): void {
    const params = this.allParams();
    if (s.meta.groups.length !== this.paramGroups.length) {
      throw new Error(`optimizer state has ${s.meta.groups.length} parameter groups, this optimizer ${this.paramGroups.length}`);
    }
    s.meta.groups.forEach((gs, gi) => {
      const g = this.paramGroups[gi]!;
      if (gs.numParams !== g.params.length)
        throw new Error(`optimizer state group ${gi} has ${String(gs.numParams)} parameters, this optimizer ${g.params.length}`);
      for (const [k, v] of Object.entries(gs)) if (k !== 'numParams') (g as Record<string, unknown>)[k] = v;
    });
    for (const st of this.state.values()) for (const t of Object.values(st.tensors)) t.dispose();
    this.state.clear();
    noGrad(() => {
      params.forEach((p, i) => {
        const sc = s.meta.scalars[i];
        if (!sc) return;
        const tensors: Record<string, Tensor> = {};
        for (const [k, t] of s.tensors) {
          const [idx, name] = [k.slice(0, k.indexOf('.')), k.slice(k.indexOf('.') + 1)];
          if (Number(idx) !== i) continue;
          const shp = p.shape;
          if (t.shape.join(',') !== shp.join(','))
            throw new Error(`optimizer state ${k} has shape [${t.shape.join(', ')}], parameter ${i} has [${shp.join(', ')}]`);
          tensors[name] = keep(t.to(p.dtype, p.device).clone());
        }
        this.state.set(p, { scalars: { ...sc }, tensors });
      });
    });
  }

  /** Frees the optimizer's state tensors. */
  dispose(): void {
    for (const st of this.state.values()) for (const t of Object.values(st.tensors)) t.dispose();
    this.state.clear();
  }
}

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
}

/** torch.optim.AdamW (decoupled weight decay), default lr 1e-3, betas (0.9, 0.999), eps 1e-8, wd 1e-2. */
export class AdamW extends Optimizer {
  constructor(params: Tensor[] | ParamGroupInput[], o: AdamWOptions = {}) {
    super(params, {
      lr: o.lr ?? 1e-3,
      weightDecay: o.weightDecay ?? 1e-2,
      betas: o.betas ?? [0.9, 0.999],
      eps: o.eps ?? 1e-8,
      amsgrad: o.amsgrad ?? false,
    });
  }
  protected update(p: Tensor, grad: Tensor, g: ParamGroup, st: { scalars: Record<string, number>; tensors: Record<string, Tensor> }): void {
    const [b1, b2] = g.betas as [number, number];
    const eps = g.eps as number;
    const lr = g.lr;
    const step = (st.scalars.step = (st.scalars.step ?? 0) + 1);
    const m = this.stateTensor(st, 'exp_avg', p);
    const v = this.stateTensor(st, 'exp_avg_sq', p);
    if (!g.amsgrad) {
      // The same arithmetic in one native pass per tensor (native/src/optim.cc).
      N.adamwStep_(p._h, grad._h, m._h, v._h, lr, b1, b2, eps, g.weightDecay, step);
      return;
    }
    if (g.weightDecay !== 0) p.mul_(1 - lr * g.weightDecay);
    m.mul_(b1).add_(grad, 1 - b1);
    v.mul_(b2).addcmul_(grad, grad, 1 - b2);
    const bc1 = 1 - b1 ** step;
    const bc2 = 1 - b2 ** step;
    const stepSize = lr / bc1;
    let denomSrc = v;
    if (g.amsgrad) {
      const vmax = this.stateTensor(st, 'max_exp_avg_sq', p);
      const mx = vmax.maximum(v);
      vmax.copy_(mx);
      mx.dispose();
      denomSrc = vmax;
    }
    const denom = denomSrc.sqrt();
    denom.div_(Math.sqrt(bc2)).add_(eps);
    p.addcdiv_(m, denom, -stepSize);
    denom.dispose();
  }
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** torch.optim.SGD with momentum, dampening, nesterov and (coupled) weight decay. */
export class SGD extends Optimizer {
  constructor(params: Tensor[] | ParamGroupInput[], o: SGDOptions) {
    super(params, {
      lr: o.lr,
      weightDecay: o.weightDecay ?? 0,
      momentum: o.momentum ?? 0,
      dampening: o.dampening ?? 0,
      nesterov: o.nesterov ?? false,
    });
    if (o.nesterov && ((o.momentum ?? 0) <= 0 || (o.dampening ?? 0) !== 0))
      throw new Error('SGD: nesterov needs momentum > 0 and zero dampening');
  }
  protected update(p: Tensor, grad: Tensor, g: ParamGroup, st: { scalars: Record<string, number>; tensors: Record<string, Tensor> }): void {
    const mom = g.momentum as number;
    let d = grad;
    const owned: Tensor[] = [];
    if (g.weightDecay !== 0) {
      d = d.add(p, g.weightDecay);
      owned.push(d);
    }
    if (mom !== 0) {
      let buf = st.tensors.momentum_buffer;
      if (!buf) {
        buf = st.tensors.momentum_buffer = keep(d.clone());
      } else {
        buf.mul_(mom).add_(d, 1 - (g.dampening as number));
      }
      if (g.nesterov) {
        d = d.add(buf, mom);
        owned.push(d);
      } else d = buf;
    }
    p.add_(d, -g.lr);
    for (const t of owned) t.dispose();
  }
}

/** Clips the global gradient norm in place (torch.nn.utils.clip_grad_norm_); returns the norm before clipping. */
export function clipGradNorm_(params: Tensor[], maxNorm: number, normType = 2): number {
  return N.clipGradNorm_(
    params.map((p) => p._h),
    maxNorm,
    normType,
  ) as number;
}

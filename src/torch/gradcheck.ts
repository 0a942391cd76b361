// Finite-difference gradient check (like torch.autograd.gradcheck), for float64 inputs:
// compares d/dx sum(f(x) * r) from autograd with central differences, r random but fixed.
import { Tensor, randn, tensor } from './tensor.js';
import { tidy, noGrad } from './scope.js';

export interface GradcheckResult {
  ok: boolean;
  maxAbsErr: number;
  worst: string;
}

export function gradcheck(
  f: (...xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  o: { eps?: number; atol?: number; rtol?: number } = {},
): GradcheckResult {
  const eps = o.eps ?? 1e-6,
    atol = o.atol ?? 1e-5,
    rtol = o.rtol ?? 1e-3;
  for (const x of inputs) if (x.dtype !== 'float64') throw new Error('gradcheck needs float64 inputs');
  const xs = inputs.map((x) => x.detach().clone().requiresGrad_(true).keep());
  const r = tidy(() => {
    const y = f(...xs);
    return randn(y.shape, { dtype: 'float64' }).keep();
  });
  const scalar = (args: Tensor[]): number =>
    tidy(() =>
      f(...args)
        .mul(r)
        .sum()
        .item(),
    );
  // analytic
  const analytic = tidy(() => {
    const s = f(...xs)
      .mul(r)
      .sum();
    s.backward();
    return xs.map((x) => x.grad!.toTypedArray() as Float64Array);
  });
  let maxAbsErr = 0;
  let ok = true;
  let worst = '';
  noGrad(() => {
    xs.forEach((x, xi) => {
      const base = x.detach().clone().keep();
      const flat = base.toTypedArray() as Float64Array;
      for (let i = 0; i < flat.length; i++) {
        const plus = Float64Array.from(flat);
        plus[i]! += eps;
        const minus = Float64Array.from(flat);
        minus[i]! -= eps;
        const num = tidy(() => {
          const args = xs.map((a, j) => (j === xi ? fromArr(plus, x.shape) : a));
          const fp = scalar(args);
          const args2 = xs.map((a, j) => (j === xi ? fromArr(minus, x.shape) : a));
          const fm = scalar(args2);
          return (fp - fm) / (2 * eps);
        });
        const an = analytic[xi]![i]!;
        const err = Math.abs(an - num);
        if (err > maxAbsErr) {
          maxAbsErr = err;
          worst = `input ${xi} element ${i}: autograd ${an} vs numeric ${num}`;
        }
        if (err > atol + rtol * Math.abs(num)) ok = false;
      }
      base.dispose();
    });
  });
  for (const x of xs) x.dispose();
  r.dispose();
  return { ok, maxAbsErr, worst };
}

function fromArr(a: Float64Array, shape: number[]): Tensor {
  return tensor(a, shape);
}

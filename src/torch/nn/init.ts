// Parameter initialisers (torch.nn.init), in place and without autograd recording.
import { Tensor } from '../tensor.js';
import { noGrad } from '../scope.js';

/** fan_in / fan_out as torch computes them for Linear [out, in] and Conv [out, in/groups, k...]. */
export function fans(t: Tensor): { fanIn: number; fanOut: number } {
  const s = t.shape;
  if (s.length < 2) throw new Error(`fan in/out need at least 2 dimensions, got [${s.join(', ')}]`);
  const receptive = s.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: s[1]! * receptive, fanOut: s[0]! * receptive };
}

export const uniform_ = (t: Tensor, a = 0, b = 1): Tensor => noGrad(() => t.uniform_(a, b));
export const normal_ = (t: Tensor, mean = 0, std = 1): Tensor => noGrad(() => t.normal_(mean, std));
export const zeros_ = (t: Tensor): Tensor => noGrad(() => t.zero_());
export const ones_ = (t: Tensor): Tensor => noGrad(() => t.fill_(1));
export const constant_ = (t: Tensor, v: number): Tensor => noGrad(() => t.fill_(v));

function gain(nonlinearity: 'linear' | 'relu' | 'leaky_relu' | 'tanh' | 'sigmoid', a = 0): number {
  switch (nonlinearity) {
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu':
      return Math.sqrt(2 / (1 + a * a));
    case 'tanh':
      return 5 / 3;
    default:
      return 1;
  }
}

export function xavierUniform_(t: Tensor, g = 1): Tensor {
  const { fanIn, fanOut } = fans(t);
  const bound = g * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -bound, bound);
}
export function xavierNormal_(t: Tensor, g = 1): Tensor {
  const { fanIn, fanOut } = fans(t);
  return normal_(t, 0, g * Math.sqrt(2 / (fanIn + fanOut)));
}
export function kaimingUniform_(
  t: Tensor,
  a = 0,
  mode: 'fan_in' | 'fan_out' = 'fan_in',
  nonlinearity: 'relu' | 'leaky_relu' = 'leaky_relu',
): Tensor {
  const f = fans(t);
  const fan = mode === 'fan_in' ? f.fanIn : f.fanOut;
  const bound = gain(nonlinearity, a) * Math.sqrt(3 / fan);
  return uniform_(t, -bound, bound);
}
export function kaimingNormal_(
  t: Tensor,
  a = 0,
  mode: 'fan_in' | 'fan_out' = 'fan_in',
  nonlinearity: 'relu' | 'leaky_relu' = 'leaky_relu',
): Tensor {
  const f = fans(t);
  const fan = mode === 'fan_in' ? f.fanIn : f.fanOut;
  return normal_(t, 0, gain(nonlinearity, a) / Math.sqrt(fan));
}
/** The default init of nn.Linear / nn.Conv*: kaiming_uniform(a=√5) weight, U(±1/√fan_in) bias. */
export function defaultLinearInit_(weight: Tensor, bias: Tensor | null, fanInFrom: Tensor = weight): void {
  kaimingUniform_(weight, Math.sqrt(5));
  if (bias) {
    const { fanIn } = fans(fanInFrom);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniform_(bias, -bound, bound);
  }
}

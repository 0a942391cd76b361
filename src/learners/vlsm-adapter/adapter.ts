/**
 * VLSM-Adapter's `Adapter` (src/models/clipseg_adapter.py): `y = x + relu(fc2(relu(fc1(x))))`,
 * fc1 = Linear(d, a), fc2 = Linear(a, d), both with bias and PyTorch's default init (so not the
 * identity at the start). The ReLU after `fc2` is the code's (the increment is >= 0); Houlsby's
 * adapter, which the class docstring cites, has none: `reluAfterUp: false` (quirks: fixed).
 */
import { type Tensor, F, nn, tidy } from '../../torch/index.js';

export class Adapter extends nn.Module {
  readonly fc1: nn.Linear;
  readonly fc2: nn.Linear;

  constructor(
    readonly inputDim: number,
    readonly adapterDim: number,
    readonly reluAfterUp = true,
  ) {
    super();
    this.fc1 = this.registerModule('fc1', new nn.Linear(inputDim, adapterDim));
    this.fc2 = this.registerModule('fc2', new nn.Linear(adapterDim, inputDim));
  }

  /** x [..., d] -> [..., d] */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const up = this.fc2.forward(F.relu(this.fc1.forward(x)));
      return x.add(this.reluAfterUp ? F.relu(up) : up);
    });
  }
}

/** `count` adapters of one shape. */
export function adapterList(count: number, inputDim: number, adapterDim: number, reluAfterUp: boolean): nn.ModuleList<Adapter> {
  return new nn.ModuleList(Array.from({ length: count }, () => new Adapter(inputDim, adapterDim, reluAfterUp)));
}

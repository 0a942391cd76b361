// The Tensor class: a typed face over a native at::Tensor handle. Method names follow
// PyTorch (camelCase); in-place methods end with `_` and return `this`.
import { N, type NativeHandle } from './native.js';
import { TENSOR_BRAND, track, keep as keepTensor, type Trackable } from './scope.js';
import { type DType, type AnyTypedArray, dtypeCode, dtypeFromCode, dtypeOfArray, typedView, DTYPE_BYTES } from './dtype.js';

export type Device = 'cpu' | 'cuda' | `cuda:${number}`;
export type Scalar = number | boolean;
export type TensorLike = Tensor | Scalar;

const h = (x: TensorLike): NativeHandle | Scalar => (x instanceof Tensor ? x._h : x);

export class Tensor implements Trackable {
  readonly [TENSOR_BRAND] = true as const;
  /** @internal native handle */
  readonly _h: NativeHandle;
  #shape: number[] | undefined;

  /** @internal use the creation functions (tensor, zeros, ...) instead. */
  constructor(handle: NativeHandle) {
    this._h = handle;
    track(this);
  }

  // ---------------------------------------------------------------- metadata
  get shape(): number[] {
    return (this.#shape ??= N.shape(this._h) as number[]).slice();
  }
  /** Size of one dimension (negative counts from the end). */
  size(dim: number): number {
    const s = this.#shape ?? (this.#shape = N.shape(this._h) as number[]);
    const d = dim < 0 ? s.length + dim : dim;
    if (d < 0 || d >= s.length) throw new RangeError(`size(${dim}): tensor has ${s.length} dimensions`);
    return s[d]!;
  }
  get ndim(): number {
    return (this.#shape ??= N.shape(this._h) as number[]).length;
  }
  get dtype(): DType {
    return dtypeFromCode(N.dtype(this._h) as number);
  }
  get device(): string {
    return N.device(this._h) as string;
  }
  get numel(): number {
    return N.numel(this._h) as number;
  }
  get requiresGrad(): boolean {
    return N.requiresGrad(this._h) as boolean;
  }
  get isLeaf(): boolean {
    return N.isLeaf(this._h) as boolean;
  }
  get isContiguous(): boolean {
    return N.isContiguous(this._h) as boolean;
  }
  get isDisposed(): boolean {
    return N.isDisposed(this._h) as boolean;
  }
  toString(): string {
    if (this.isDisposed) return 'Tensor(<disposed>)';
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // ---------------------------------------------------------------- lifetime
  dispose(): void {
    N.dispose(this._h);
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
  /** Keeps this tensor alive past the enclosing tidy() scopes. */
  keep(): this {
    return keepTensor(this);
  }

  // ---------------------------------------------------------------- data
  /** A copy of the data as a typed array (float16/bfloat16 come back as float32). */
  toTypedArray(): AnyTypedArray {
    const t = this.dtype === 'float16' || this.dtype === 'bfloat16' ? this.to('float32') : this;
    const buf = N.toBuffer(t._h) as ArrayBuffer;
    const out = typedView(t.dtype, buf);
    if (t !== this) t.dispose();
    return out;
  }
  /** Data as a Float32Array copy (any dtype converted). */
  toFloat32Array(): Float32Array {
    if (this.dtype === 'float32') return this.toTypedArray() as Float32Array;
    const t = this.to('float32');
    try {
      return t.toTypedArray() as Float32Array;
    } finally {
      t.dispose();
    }
  }
  /** Data as plain numbers (int64 converted with Number()). */
  toArray(): number[] {
    const a = this.toTypedArray();
    return a instanceof BigInt64Array ? Array.from(a, (x) => Number(x)) : Array.from(a as ArrayLike<number>);
  }
  /** Zero-copy view of a contiguous CPU tensor's memory (the view keeps the memory alive). */
  dataView(): AnyTypedArray {
    return typedView(this.dtype, N.viewBuffer(this._h) as ArrayBuffer);
  }
  /** Raw little-endian bytes (a copy). */
  toBytes(): Uint8Array {
    return new Uint8Array(N.toBuffer(this._h) as ArrayBuffer);
  }
  item(): number {
    const v = N.item(this._h) as number | boolean;
    return typeof v === 'boolean' ? Number(v) : v;
  }

  // ---------------------------------------------------------------- conversion
  to(dtypeOrDevice: DType | Device | string, device?: Device | string): Tensor {
    if (device !== undefined) return new Tensor(N.to(this._h, dtypeCode(dtypeOrDevice as DType), device));
    if (dtypeOrDevice === 'cpu' || dtypeOrDevice.startsWith('cuda')) return new Tensor(N.to(this._h, null, dtypeOrDevice));
    return new Tensor(N.to(this._h, dtypeCode(dtypeOrDevice as DType)));
  }
  float(): Tensor {
    return this.to('float32');
  }
  long(): Tensor {
    return this.to('int64');
  }
  clone(): Tensor {
    return new Tensor(N.clone(this._h));
  }
  detach(): Tensor {
    return new Tensor(N.detach(this._h));
  }
  contiguous(): Tensor {
    return new Tensor(N.contiguous(this._h));
  }

  // ---------------------------------------------------------------- autograd
  requiresGrad_(flag = true): this {
    N.setRequiresGrad(this._h, flag);
    return this;
  }
  /** The accumulated gradient (a new handle on it), or null. */
  get grad(): Tensor | null {
    const g = N.grad(this._h) as NativeHandle | null;
    return g === null ? null : new Tensor(g);
  }
  set grad(g: Tensor | null) {
    N.setGrad(this._h, g === null ? null : g._h);
  }
  zeroGrad(): void {
    N.setGrad(this._h, null);
  }
  backward(gradient?: Tensor, retainGraph = false): void {
    N.backward(this._h, gradient ? gradient._h : null, retainGraph);
  }

  // ---------------------------------------------------------------- arithmetic
  add(o: TensorLike, alpha?: number): Tensor {
    return new Tensor(N.add(this._h, h(o), alpha));
  }
  sub(o: TensorLike, alpha?: number): Tensor {
    return new Tensor(N.sub(this._h, h(o), alpha));
  }
  mul(o: TensorLike): Tensor {
    return new Tensor(N.mul(this._h, h(o)));
  }
  div(o: TensorLike): Tensor {
    return new Tensor(N.div(this._h, h(o)));
  }
  pow(o: TensorLike): Tensor {
    return new Tensor(N.pow(this._h, h(o)));
  }
  /** scalar - this */
  rsub(s: number): Tensor {
    return new Tensor(N.rsubScalar(this._h, s));
  }
  remainder(o: TensorLike): Tensor {
    return new Tensor(N.remainder(this._h, h(o)));
  }
  maximum(o: TensorLike): Tensor {
    return new Tensor(N.maximum(this._h, h(o)));
  }
  minimum(o: TensorLike): Tensor {
    return new Tensor(N.minimum(this._h, h(o)));
  }
  eq(o: TensorLike): Tensor {
    return new Tensor(N.eq(this._h, h(o)));
  }
  ne(o: TensorLike): Tensor {
    return new Tensor(N.ne(this._h, h(o)));
  }
  lt(o: TensorLike): Tensor {
    return new Tensor(N.lt(this._h, h(o)));
  }
  le(o: TensorLike): Tensor {
    return new Tensor(N.le(this._h, h(o)));
  }
  gt(o: TensorLike): Tensor {
    return new Tensor(N.gt(this._h, h(o)));
  }
  ge(o: TensorLike): Tensor {
    return new Tensor(N.ge(this._h, h(o)));
  }
  logicalAnd(o: TensorLike): Tensor {
    return new Tensor(N.logicalAnd(this._h, h(o)));
  }
  logicalOr(o: TensorLike): Tensor {
    return new Tensor(N.logicalOr(this._h, h(o)));
  }
  logicalNot(): Tensor {
    return new Tensor(N.logicalNot(this._h));
  }

  add_(o: TensorLike, alpha?: number): this {
    N.add_(this._h, h(o), alpha);
    return this;
  }
  sub_(o: TensorLike, alpha?: number): this {
    N.sub_(this._h, h(o), alpha);
    return this;
  }
  mul_(o: TensorLike): this {
    N.mul_(this._h, h(o));
    return this;
  }
  div_(o: TensorLike): this {
    N.div_(this._h, h(o));
    return this;
  }
  addcmul_(a: Tensor, b: Tensor, value = 1): this {
    N.addcmul_(this._h, a._h, b._h, value);
    return this;
  }
  addcdiv_(a: Tensor, b: Tensor, value = 1): this {
    N.addcdiv_(this._h, a._h, b._h, value);
    return this;
  }
  lerp_(end: Tensor, weight: number): this {
    N.lerp_(this._h, end._h, weight);
    return this;
  }
  clamp_(min?: number | null, max?: number | null): this {
    N.clamp_(this._h, min ?? null, max ?? null);
    return this;
  }
  sqrt_(): this {
    N.sqrt_(this._h);
    return this;
  }
  copy_(src: Tensor): this {
    N.copy_(this._h, src._h);
    return this;
  }
  /** Replaces this tensor's data (shape/dtype/device may change) keeping its identity, like `param.data = src`. */
  setData_(src: Tensor): this {
    N.setData(this._h, src._h);
    this.#shape = undefined;
    return this;
  }
  zero_(): this {
    N.zero_(this._h);
    return this;
  }
  fill_(v: Scalar): this {
    N.fill_(this._h, v);
    return this;
  }
  normal_(mean = 0, std = 1): this {
    N.normal_(this._h, mean, std);
    return this;
  }
  uniform_(from = 0, to = 1): this {
    N.uniform_(this._h, from, to);
    return this;
  }

  neg(): Tensor {
    return new Tensor(N.neg(this._h));
  }
  abs(): Tensor {
    return new Tensor(N.abs(this._h));
  }
  exp(): Tensor {
    return new Tensor(N.exp(this._h));
  }
  log(): Tensor {
    return new Tensor(N.log(this._h));
  }
  log1p(): Tensor {
    return new Tensor(N.log1p(this._h));
  }
  sqrt(): Tensor {
    return new Tensor(N.sqrt(this._h));
  }
  rsqrt(): Tensor {
    return new Tensor(N.rsqrt(this._h));
  }
  square(): Tensor {
    return new Tensor(N.square(this._h));
  }
  reciprocal(): Tensor {
    return new Tensor(N.reciprocal(this._h));
  }
  sin(): Tensor {
    return new Tensor(N.sin(this._h));
  }
  cos(): Tensor {
    return new Tensor(N.cos(this._h));
  }
  tanh(): Tensor {
    return new Tensor(N.tanh(this._h));
  }
  sigmoid(): Tensor {
    return new Tensor(N.sigmoid(this._h));
  }
  relu(): Tensor {
    return new Tensor(N.relu(this._h));
  }
  floor(): Tensor {
    return new Tensor(N.floor(this._h));
  }
  ceil(): Tensor {
    return new Tensor(N.ceil(this._h));
  }
  round(): Tensor {
    return new Tensor(N.round(this._h));
  }
  sign(): Tensor {
    return new Tensor(N.sign(this._h));
  }
  isnan(): Tensor {
    return new Tensor(N.isnan(this._h));
  }
  isfinite(): Tensor {
    return new Tensor(N.isfinite(this._h));
  }
  clamp(min?: number | Tensor | null, max?: number | Tensor | null): Tensor {
    return new Tensor(N.clamp(this._h, min instanceof Tensor ? min._h : (min ?? null), max instanceof Tensor ? max._h : (max ?? null)));
  }
  maskedFill(mask: Tensor, value: TensorLike): Tensor {
    return new Tensor(N.maskedFill(this._h, mask._h, h(value)));
  }

  // ---------------------------------------------------------------- reductions
  sum(dims?: number | number[] | null, keepdim = false): Tensor {
    return new Tensor(N.sum(this._h, dims ?? null, keepdim));
  }
  mean(dims?: number | number[] | null, keepdim = false): Tensor {
    return new Tensor(N.mean(this._h, dims ?? null, keepdim));
  }
  /** Variance; correction 1 = unbiased (PyTorch's default). */
  var(dims?: number | number[] | null, correction = 1, keepdim = false): Tensor {
    return new Tensor(N.var(this._h, dims ?? null, correction, keepdim));
  }
  std(dims?: number | number[] | null, correction = 1, keepdim = false): Tensor {
    return new Tensor(N.std(this._h, dims ?? null, correction, keepdim));
  }
  prod(dim?: number, keepdim = false): Tensor {
    return new Tensor(N.prod(this._h, dim ?? null, keepdim));
  }
  /** Max of all elements. */
  max(): Tensor {
    return new Tensor(N.max(this._h));
  }
  min(): Tensor {
    return new Tensor(N.min(this._h));
  }
  /** [values, indices] along a dimension. */
  maxDim(dim: number, keepdim = false): [Tensor, Tensor] {
    const [v, i] = N.max(this._h, dim, keepdim) as [NativeHandle, NativeHandle];
    return [new Tensor(v), new Tensor(i)];
  }
  minDim(dim: number, keepdim = false): [Tensor, Tensor] {
    const [v, i] = N.min(this._h, dim, keepdim) as [NativeHandle, NativeHandle];
    return [new Tensor(v), new Tensor(i)];
  }
  amax(dims: number | number[], keepdim = false): Tensor {
    return new Tensor(N.amax(this._h, dims, keepdim));
  }
  amin(dims: number | number[], keepdim = false): Tensor {
    return new Tensor(N.amin(this._h, dims, keepdim));
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return new Tensor(N.argmax(this._h, dim ?? null, keepdim));
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return new Tensor(N.argmin(this._h, dim ?? null, keepdim));
  }
  norm(p = 2, dims?: number | number[] | null, keepdim = false): Tensor {
    return new Tensor(N.norm(this._h, p, dims ?? null, keepdim));
  }
  logsumexp(dims: number | number[], keepdim = false): Tensor {
    return new Tensor(N.logsumexp(this._h, dims, keepdim));
  }
  cumsum(dim: number): Tensor {
    return new Tensor(N.cumsum(this._h, dim));
  }
  all(): Tensor {
    return new Tensor(N.all(this._h));
  }
  any(): Tensor {
    return new Tensor(N.any(this._h));
  }
  allclose(o: Tensor, rtol = 1e-5, atol = 1e-8): boolean {
    return N.allclose(this._h, o._h, rtol, atol) as boolean;
  }

  // ---------------------------------------------------------------- linear algebra
  matmul(o: Tensor): Tensor {
    return new Tensor(N.matmul(this._h, o._h));
  }
  mm(o: Tensor): Tensor {
    return new Tensor(N.mm(this._h, o._h));
  }
  bmm(o: Tensor): Tensor {
    return new Tensor(N.bmm(this._h, o._h));
  }

  // ---------------------------------------------------------------- shapes
  reshape(...shape: number[] | [number[]]): Tensor {
    return new Tensor(N.reshape(this._h, flat(shape)));
  }
  view(...shape: number[] | [number[]]): Tensor {
    return new Tensor(N.view(this._h, flat(shape)));
  }
  permute(...dims: number[] | [number[]]): Tensor {
    return new Tensor(N.permute(this._h, flat(dims)));
  }
  transpose(d0: number, d1: number): Tensor {
    return new Tensor(N.transpose(this._h, d0, d1));
  }
  /** Transpose of the last two dimensions. */
  get mT(): Tensor {
    return this.transpose(-2, -1);
  }
  expand(...shape: number[] | [number[]]): Tensor {
    return new Tensor(N.expand(this._h, flat(shape)));
  }
  repeat(...times: number[] | [number[]]): Tensor {
    return new Tensor(N.repeat(this._h, flat(times)));
  }
  flip(dims: number | number[]): Tensor {
    return new Tensor(N.flip(this._h, dims));
  }
  unsqueeze(dim: number): Tensor {
    return new Tensor(N.unsqueeze(this._h, dim));
  }
  squeeze(dim?: number): Tensor {
    return new Tensor(N.squeeze(this._h, dim ?? null));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return new Tensor(N.flatten(this._h, startDim, endDim));
  }
  split(sizeOrSizes: number | number[], dim = 0): Tensor[] {
    return (N.split(this._h, sizeOrSizes, dim) as NativeHandle[]).map((x) => new Tensor(x));
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return (N.chunk(this._h, chunks, dim) as NativeHandle[]).map((x) => new Tensor(x));
  }
  unbind(dim = 0): Tensor[] {
    return (N.unbind(this._h, dim) as NativeHandle[]).map((x) => new Tensor(x));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return new Tensor(N.narrow(this._h, dim, start, length));
  }
  /** Python-style slice along one dim: t[start:end:step] (negative indices, clamped bounds). */
  slice(dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
    return new Tensor(N.slice(this._h, dim, start ?? null, end ?? null, step));
  }
  select(dim: number, index: number): Tensor {
    return new Tensor(N.select(this._h, dim, index));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return new Tensor(N.indexSelect(this._h, dim, index._h));
  }
  gather(dim: number, index: Tensor): Tensor {
    return new Tensor(N.gather(this._h, dim, index._h));
  }
  /** Advanced indexing: one index tensor (or null = whole dim) per leading dimension. */
  index(indices: (Tensor | null)[]): Tensor {
    return new Tensor(
      N.index(
        this._h,
        indices.map((i) => (i ? i._h : null)),
      ),
    );
  }
  indexPut_(indices: (Tensor | null)[], values: Tensor, accumulate = false): this {
    N.indexPut_(
      this._h,
      indices.map((i) => (i ? i._h : null)),
      values._h,
      accumulate,
    );
    return this;
  }
  tril(diagonal = 0): Tensor {
    return new Tensor(N.tril(this._h, diagonal));
  }
  triu(diagonal = 0): Tensor {
    return new Tensor(N.triu(this._h, diagonal));
  }

  // ---------------------------------------------------------------- activations
  softmax(dim: number): Tensor {
    return new Tensor(N.softmax(this._h, dim));
  }
  logSoftmax(dim: number): Tensor {
    return new Tensor(N.logSoftmax(this._h, dim));
  }
}

function flat(a: number[] | [number[]]): number[] {
  return (a.length === 1 && Array.isArray(a[0]) ? a[0] : a) as number[];
}

// ---------------------------------------------------------------- creation
export interface CreateOptions {
  dtype?: DType;
  device?: Device | string;
  requiresGrad?: boolean;
}

function finish(t: Tensor, o?: CreateOptions): Tensor {
  if (o?.requiresGrad) t.requiresGrad_(true);
  return t;
}
const dt = (o?: CreateOptions): number | null => (o?.dtype ? dtypeCode(o.dtype) : null);
const dev = (o?: CreateOptions): string | null => o?.device ?? null;

type Nested = number | boolean | Nested[];

function inferShape(v: Nested): number[] {
  const s: number[] = [];
  let cur: Nested = v;
  while (Array.isArray(cur)) {
    s.push(cur.length);
    cur = cur[0] as Nested;
  }
  return s;
}

/**
 * A tensor from a typed array (with a shape) or nested JS arrays. Data is copied.
 * Without a dtype: Float32Array -> float32, BigInt64Array -> int64, nested numbers -> float32.
 */
export function tensor(data: AnyTypedArray | Nested, shapeOrOpts?: number[] | CreateOptions, opts?: CreateOptions): Tensor {
  const shape = Array.isArray(shapeOrOpts) ? shapeOrOpts : undefined;
  const o = (Array.isArray(shapeOrOpts) ? opts : shapeOrOpts) ?? {};
  let arr: AnyTypedArray;
  let s: number[];
  if (ArrayBuffer.isView(data)) {
    arr = data as AnyTypedArray;
    s = shape ?? [arr.length];
  } else {
    s = shape ?? inferShape(data);
    const flatVals = (Array.isArray(data) ? (data as Nested[]).flat(Infinity as 1) : [data]) as (number | boolean)[];
    const want = o.dtype ?? 'float32';
    arr = fromNumbers(flatVals, want);
    const t = new Tensor(N.fromBuffer(arr, s, dtypeCode(want === 'float16' || want === 'bfloat16' ? 'float32' : want), o.device ?? null));
    if (want === 'float16' || want === 'bfloat16') {
      const c = t.to(want);
      t.dispose();
      return finish(c, o);
    }
    return finish(t, o);
  }
  const natural = arr instanceof Uint16Array ? (o.dtype ?? 'float16') : dtypeOfArray(arr);
  const t = new Tensor(N.fromBuffer(arr, s, dtypeCode(natural), o.device ?? null));
  if (o.dtype && o.dtype !== natural) {
    const c = t.to(o.dtype);
    t.dispose();
    return finish(c, o);
  }
  return finish(t, o);
}

function fromNumbers(vals: (number | boolean)[], d: DType): AnyTypedArray {
  const nums = vals.map((v) => (typeof v === 'boolean' ? Number(v) : v));
  switch (d) {
    case 'float64':
      return Float64Array.from(nums);
    case 'int64':
      return BigInt64Array.from(nums, (x) => BigInt(Math.trunc(x)));
    case 'int32':
      return Int32Array.from(nums);
    case 'int16':
      return Int16Array.from(nums);
    case 'int8':
      return Int8Array.from(nums);
    case 'uint8':
      return Uint8Array.from(nums);
    case 'bool':
      return Uint8Array.from(nums, (x) => (x ? 1 : 0));
    default:
      return Float32Array.from(nums);
  }
}

/** A tensor over raw little-endian bytes of a dtype (copied). */
export function fromBytes(bytes: Uint8Array, shape: number[], dtype: DType, device?: string): Tensor {
  return new Tensor(N.fromBuffer(bytes, shape, dtypeCode(dtype), device ?? null));
}

export const zeros = (shape: number[], o?: CreateOptions): Tensor => finish(new Tensor(N.zeros(shape, dt(o), dev(o))), o);
export const ones = (shape: number[], o?: CreateOptions): Tensor => finish(new Tensor(N.ones(shape, dt(o), dev(o))), o);
export const empty = (shape: number[], o?: CreateOptions): Tensor => finish(new Tensor(N.empty(shape, dt(o), dev(o))), o);
export const full = (shape: number[], value: Scalar, o?: CreateOptions): Tensor =>
  finish(new Tensor(N.full(shape, value, dt(o), dev(o))), o);
export const scalarTensor = (value: Scalar, o?: CreateOptions): Tensor => finish(new Tensor(N.scalarTensor(value, dt(o), dev(o))), o);
/** arange(end) or arange(start, end, step); integer arguments give int64 unless a dtype is set. */
export function arange(startOrEnd: number, end?: number, step = 1, o?: CreateOptions): Tensor {
  const [s, e] = end === undefined ? [0, startOrEnd] : [startOrEnd, end];
  const allInt = Number.isInteger(s) && Number.isInteger(e) && Number.isInteger(step);
  const d = o?.dtype ?? (allInt ? 'int64' : 'float32');
  return finish(new Tensor(N.arange(s, e, step, dtypeCode(d), dev(o))), o);
}
export const eye = (n: number, o?: CreateOptions): Tensor => finish(new Tensor(N.eye(n, dt(o), dev(o))), o);
export const linspace = (start: number, end: number, steps: number, o?: CreateOptions): Tensor =>
  finish(new Tensor(N.linspace(start, end, steps, dt(o), dev(o))), o);
export const zerosLike = (t: Tensor): Tensor => new Tensor(N.zerosLike(t._h));
export const onesLike = (t: Tensor): Tensor => new Tensor(N.onesLike(t._h));
export const fullLike = (t: Tensor, v: Scalar): Tensor => new Tensor(N.fullLike(t._h, v));
export const randn = (shape: number[], o?: CreateOptions): Tensor => finish(new Tensor(N.randn(shape, dt(o), dev(o))), o);
export const rand = (shape: number[], o?: CreateOptions): Tensor => finish(new Tensor(N.rand(shape, dt(o), dev(o))), o);
/** Integers uniformly in [low, high). */
export const randint = (low: number, high: number, shape: number[], o?: CreateOptions): Tensor =>
  finish(new Tensor(N.randint(low, high, shape, dt(o), dev(o))), o);
export const randperm = (n: number, o?: CreateOptions): Tensor => finish(new Tensor(N.randperm(n, dt(o), dev(o))), o);
export const bernoulli = (probs: Tensor): Tensor => new Tensor(N.bernoulli(probs._h));

/** Seeds libtorch's CPU and CUDA generators (randn, dropout, init...). */
export function manualSeed(seed: number): void {
  N.manualSeed(seed);
}

// ---------------------------------------------------------------- joining and selection
export const cat = (ts: Tensor[], dim = 0): Tensor =>
  new Tensor(
    N.cat(
      ts.map((t) => t._h),
      dim,
    ),
  );
export const stack = (ts: Tensor[], dim = 0): Tensor =>
  new Tensor(
    N.stack(
      ts.map((t) => t._h),
      dim,
    ),
  );
export const where = (cond: Tensor, a: Tensor, b: Tensor): Tensor => new Tensor(N.where(cond._h, a._h, b._h));
export const einsum = (eq: string, ...ts: Tensor[]): Tensor =>
  new Tensor(
    N.einsum(
      eq,
      ts.map((t) => t._h),
    ),
  );

export function isTensor(v: unknown): v is Tensor {
  return v instanceof Tensor;
}

export { DTYPE_BYTES };

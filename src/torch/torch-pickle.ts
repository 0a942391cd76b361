// A restricted reader for `torch.save` zip checkpoints (PyTorch >= 1.6 format), used by
// `tunevlseg convert` where libtorch's own pickle loader fails (it cannot read Python's
// `collections.OrderedDict` state dicts, nor the SETITEM opcode Python emits for one-item dicts).
//
// Safety: this is an interpreter of the pickle *data* opcodes only. No Python object is ever
// constructed or called: the few globals torch checkpoints use (tensor rebuild functions,
// storage types, OrderedDict) are recognised by name and interpreted here; any other global
// becomes an inert placeholder, so a malicious pickle can at worst produce wrong data.
// (Generic code: it belongs in src/torch/ once that layer accepts it.)
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { fromBytes, type Tensor } from './tensor.js';
import { DTYPE_BYTES, type DType } from './dtype.js';

// ------------------------------------------------------------------ zip

interface ZipEntry {
  name: string;
  method: number;
  compSize: number;
  size: number;
  localOffset: number;
}

function readZipEntries(buf: Buffer, path: string): Map<string, ZipEntry> {
  const EOCD = 0x06054b50;
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65557); i--) {
    if (buf.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${path}: not a zip archive (no end-of-central-directory record)`);
  let count = buf.readUInt16LE(eocd + 10);
  let cdOffset = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || buf.readUInt32LE(loc) !== 0x07064b50) throw new Error(`${path}: zip64 locator missing`);
    const z64 = Number(buf.readBigUInt64LE(loc + 8));
    if (buf.readUInt32LE(z64) !== 0x06064b50) throw new Error(`${path}: zip64 end record missing`);
    count = Number(buf.readBigUInt64LE(z64 + 32));
    cdOffset = Number(buf.readBigUInt64LE(z64 + 48));
  }
  const out = new Map<string, ZipEntry>();
  let p = cdOffset;
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${path}: corrupt zip central directory at byte ${p}`);
    const method = buf.readUInt16LE(p + 10);
    let compSize = buf.readUInt32LE(p + 20);
    let size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28),
      extraLen = buf.readUInt16LE(p + 30),
      commentLen = buf.readUInt16LE(p + 32);
    let localOffset = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    // zip64 extra field: the 0xFFFFFFFF fields, in order size, compSize, offset.
    let e = p + 46 + nameLen;
    const eEnd = e + extraLen;
    while (e + 4 <= eEnd) {
      const id = buf.readUInt16LE(e),
        len = buf.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff) {
          size = Number(buf.readBigUInt64LE(q));
          q += 8;
        }
        if (compSize === 0xffffffff) {
          compSize = Number(buf.readBigUInt64LE(q));
          q += 8;
        }
        if (localOffset === 0xffffffff) {
          localOffset = Number(buf.readBigUInt64LE(q));
          q += 8;
        }
      }
      e += 4 + len;
    }
    out.set(name, { name, method, compSize, size, localOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

function readZipData(buf: Buffer, e: ZipEntry, path: string): Buffer {
  const h = e.localOffset;
  if (buf.readUInt32LE(h) !== 0x04034b50) throw new Error(`${path}: corrupt local header for ${e.name}`);
  const start = h + 30 + buf.readUInt16LE(h + 26) + buf.readUInt16LE(h + 28);
  const raw = buf.subarray(start, start + e.compSize);
  if (e.method === 0) return raw;
  if (e.method === 8) return inflateRawSync(raw);
  throw new Error(`${path}: ${e.name} uses unsupported zip compression method ${e.method}`);
}

// ------------------------------------------------------------------ pickle values

class Global {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get full(): string {
    return `${this.module}.${this.name}`;
  }
}
class Opaque {
  constructor(readonly what: string) {}
}
class StorageRef {
  constructor(
    readonly dtype: DType,
    readonly key: string,
    readonly numel: number,
  ) {}
}
class TensorSpec {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}
class Mark {}
const MARK = new Mark();

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};
// torch >= 2 pickles dtypes as globals `torch.float32` etc. in the storage persistent id.
const TORCH_DTYPES: Record<string, DType> = {
  float32: 'float32',
  float: 'float32',
  float64: 'float64',
  double: 'float64',
  float16: 'float16',
  half: 'float16',
  bfloat16: 'bfloat16',
  int64: 'int64',
  long: 'int64',
  int32: 'int32',
  int: 'int32',
  int16: 'int16',
  short: 'int16',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

type Value = unknown;

/** Interprets a pickle stream; `persistentLoad` resolves BINPERSID ids. */
function unpickle(data: Buffer, persistentLoad: (pid: Value) => Value, where: string): Value {
  const stack: Value[] = [];
  const memo = new Map<number, Value>();
  let p = 0;
  const fail = (msg: string): never => {
    throw new Error(`${where}: ${msg} (pickle byte ${p})`);
  };
  const popMark = (): Value[] => {
    let i = stack.length - 1;
    while (i >= 0 && stack[i] !== MARK) i--;
    if (i < 0) fail('MARK not found');
    const items = stack.splice(i);
    items.shift();
    return items;
  };
  const top = (): Value => (stack.length ? stack[stack.length - 1] : fail('stack underflow'));
  const pop = (): Value => (stack.length ? stack.pop() : fail('stack underflow'));
  const u8 = (): number => data[p++]!;
  const u16 = (): number => {
    const v = data.readUInt16LE(p);
    p += 2;
    return v;
  };
  const u32 = (): number => {
    const v = data.readUInt32LE(p);
    p += 4;
    return v;
  };
  const i32 = (): number => {
    const v = data.readInt32LE(p);
    p += 4;
    return v;
  };
  const u64 = (): number => {
    const v = Number(data.readBigUInt64LE(p));
    p += 8;
    return v;
  };
  const bytes = (n: number): Buffer => {
    const b = data.subarray(p, p + n);
    p += n;
    return b;
  };
  const line = (): string => {
    const e = data.indexOf(0x0a, p);
    if (e < 0) fail('unterminated line');
    const s = data.toString('latin1', p, e);
    p = e + 1;
    return s;
  };
  const longLE = (b: Buffer): number => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return Number(v);
  };
  const setItems = (d: Value, items: Value[]): void => {
    if (!(d instanceof Map)) {
      if (d instanceof Opaque) return;
      fail('SETITEM(S) on a non-dict');
    }
    for (let i = 0; i + 1 < items.length; i += 2) (d as Map<Value, Value>).set(items[i], items[i + 1]);
  };
  const appendItems = (l: Value, items: Value[]): void => {
    if (Array.isArray(l)) l.push(...items);
    else if (!(l instanceof Opaque)) fail('APPEND(S) on a non-list');
  };
  const call = (fn: Value, args: Value): Value => {
    const a = Array.isArray(args) ? args : [];
    if (!(fn instanceof Global)) return new Opaque('call of a non-global');
    switch (fn.full) {
      case 'collections.OrderedDict':
      case 'builtins.dict':
        return new Map();
      case 'torch._utils._rebuild_tensor_v2':
      case 'torch._utils._rebuild_tensor': {
        const [st, off, size, stride] = a as [Value, number, number[], number[]];
        if (!(st instanceof StorageRef)) return new Opaque('tensor without storage');
        return new TensorSpec(st, off, [...size], [...stride]);
      }
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        return a[0];
      case 'torch._tensor._rebuild_from_type_v2': {
        const [inner, , innerArgs] = a as [Value, Value, Value];
        return call(inner, innerArgs);
      }
      case 'torch.jit._pickle.restore_type_tag':
        return a[0];
      case 'torch.Size':
      case 'builtins.tuple':
      case 'builtins.list':
        return Array.isArray(a[0]) ? [...(a[0] as Value[])] : [];
      default:
        return new Opaque(fn.full);
    }
  };

  for (;;) {
    if (p >= data.length) fail('unexpected end of pickle');
    const op = u8();
    switch (op) {
      case 0x80:
        u8();
        break; // PROTO
      case 0x95:
        p += 8;
        break; // FRAME
      case 0x2e:
        return pop(); // STOP
      case 0x28:
        stack.push(MARK);
        break; // MARK
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x29:
        stack.push([]);
        break; // EMPTY_TUPLE
      case 0x8f:
        stack.push([]);
        break; // EMPTY_SET
      case 0x64: {
        const it = popMark();
        const m = new Map();
        setItems(m, it);
        stack.push(m);
        break;
      } // DICT
      case 0x6c:
        stack.push(popMark());
        break; // LIST
      case 0x74:
        stack.push(popMark());
        break; // TUPLE
      case 0x85:
        stack.push([pop()]);
        break; // TUPLE1
      case 0x86: {
        const b = pop(),
          a = pop();
        stack.push([a, b]);
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop(),
          b = pop(),
          a = pop();
        stack.push([a, b, c]);
        break;
      } // TUPLE3
      case 0x91:
        stack.push(popMark());
        break; // FROZENSET
      case 0x90: {
        const it = popMark();
        appendItems(top(), it);
        break;
      } // ADDITEMS
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x4a:
        stack.push(i32());
        break; // BININT
      case 0x8a: {
        const n = u8();
        stack.push(longLE(bytes(n)));
        break;
      } // LONG1
      case 0x8b: {
        const n = u32();
        stack.push(longLE(bytes(n)));
        break;
      } // LONG4
      case 0x47: {
        const v = data.readDoubleBE(p);
        p += 8;
        stack.push(v);
        break;
      } // BINFLOAT
      case 0x49: {
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : Number.parseInt(s, 10));
        break;
      } // INT
      case 0x4c:
        stack.push(Number.parseInt(line().replace(/L$/, ''), 10));
        break; // LONG
      case 0x46:
        stack.push(Number.parseFloat(line()));
        break; // FLOAT
      case 0x58: {
        const n = u32();
        stack.push(bytes(n).toString('utf8'));
        break;
      } // BINUNICODE
      case 0x8c: {
        const n = u8();
        stack.push(bytes(n).toString('utf8'));
        break;
      } // SHORT_BINUNICODE
      case 0x8d: {
        const n = u64();
        stack.push(bytes(n).toString('utf8'));
        break;
      } // BINUNICODE8
      case 0x56:
        stack.push(line());
        break; // UNICODE (raw-unicode-escape; ASCII in practice)
      case 0x55: {
        const n = u8();
        stack.push(bytes(n).toString('latin1'));
        break;
      } // SHORT_BINSTRING
      case 0x54: {
        const n = u32();
        stack.push(bytes(n).toString('latin1'));
        break;
      } // BINSTRING
      case 0x53:
        stack.push(line().replace(/^['"]|['"]$/g, ''));
        break; // STRING
      case 0x43: {
        const n = u8();
        stack.push(Buffer.from(bytes(n)));
        break;
      } // SHORT_BINBYTES
      case 0x42: {
        const n = u32();
        stack.push(Buffer.from(bytes(n)));
        break;
      } // BINBYTES
      case 0x8e: {
        const n = u64();
        stack.push(Buffer.from(bytes(n)));
        break;
      } // BINBYTES8
      case 0x96: {
        const n = u64();
        stack.push(Buffer.from(bytes(n)));
        break;
      } // BYTEARRAY8
      case 0x71:
        memo.set(u8(), top());
        break; // BINPUT
      case 0x72:
        memo.set(u32(), top());
        break; // LONG_BINPUT
      case 0x70:
        memo.set(Number.parseInt(line(), 10), top());
        break; // PUT
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x68: {
        const k = u8();
        if (!memo.has(k)) fail(`memo ${k} missing`);
        stack.push(memo.get(k));
        break;
      } // BINGET
      case 0x6a: {
        const k = u32();
        if (!memo.has(k)) fail(`memo ${k} missing`);
        stack.push(memo.get(k));
        break;
      } // LONG_BINGET
      case 0x67: {
        const k = Number.parseInt(line(), 10);
        if (!memo.has(k)) fail(`memo ${k} missing`);
        stack.push(memo.get(k));
        break;
      } // GET
      case 0x63: {
        const m = line(),
          n = line();
        stack.push(new Global(m, n));
        break;
      } // GLOBAL
      case 0x93: {
        const n = pop(),
          m = pop();
        stack.push(new Global(String(m), String(n)));
        break;
      } // STACK_GLOBAL
      case 0x51:
        stack.push(persistentLoad(pop()));
        break; // BINPERSID
      case 0x50:
        stack.push(persistentLoad(line()));
        break; // PERSID
      case 0x52: {
        const args = pop(),
          fn = pop();
        stack.push(call(fn, args));
        break;
      } // REDUCE
      case 0x81: {
        const args = pop(),
          cls = pop();
        stack.push(call(cls, args));
        break;
      } // NEWOBJ
      case 0x92: {
        pop();
        const args = pop(),
          cls = pop();
        stack.push(call(cls, args));
        break;
      } // NEWOBJ_EX
      case 0x62:
        pop();
        break; // BUILD: object state (e.g. OrderedDict._metadata) is ignored
      case 0x73: {
        const v = pop(),
          k = pop();
        setItems(top(), [k, v]);
        break;
      } // SETITEM
      case 0x75: {
        const it = popMark();
        setItems(top(), it);
        break;
      } // SETITEMS
      case 0x61: {
        const v = pop();
        appendItems(top(), [v]);
        break;
      } // APPEND
      case 0x65: {
        const it = popMark();
        appendItems(top(), it);
        break;
      } // APPENDS
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        stack.push(top());
        break; // DUP
      case 0x6f: {
        const it = popMark();
        const cls = it.shift();
        stack.push(call(cls, it));
        break;
      } // OBJ
      case 0x69: {
        const m = line(),
          n = line();
        const it = popMark();
        stack.push(call(new Global(m, n), it));
        break;
      } // INST
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16)}`);
    }
  }
}

// ------------------------------------------------------------------ checkpoint

/** Every tensor of a torch.save zip checkpoint, flattened to dotted names (dict keys, list indices). */
export interface PickledCheckpoint {
  names: string[];
  tensors: Tensor[];
}

function materialise(spec: TensorSpec, storages: (key: string, dtype: DType) => Buffer, where: string): Tensor {
  const { storage, offset, size, stride } = spec;
  const es = DTYPE_BYTES[storage.dtype];
  const raw = storages(storage.key, storage.dtype);
  const numel = size.reduce((a, b) => a * b, 1);
  let contiguous = true;
  for (let d = size.length - 1, expect = 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expect) contiguous = false;
    expect *= size[d]!;
  }
  let bytes: Uint8Array;
  if (numel === 0) bytes = new Uint8Array(0);
  else if (contiguous) {
    const start = offset * es,
      end = start + numel * es;
    if (end > raw.length) throw new Error(`${where}: tensor of storage ${storage.key} reads past its end`);
    bytes = new Uint8Array(raw.subarray(start, end));
  } else {
    bytes = new Uint8Array(numel * es);
    const idx = new Array<number>(size.length).fill(0);
    for (let n = 0; n < numel; n++) {
      let src = offset;
      for (let d = 0; d < size.length; d++) src += idx[d]! * stride[d]!;
      if ((src + 1) * es > raw.length || src < 0) throw new Error(`${where}: tensor of storage ${storage.key} reads out of bounds`);
      bytes.set(raw.subarray(src * es, (src + 1) * es), n * es);
      for (let d = size.length - 1; d >= 0; d--) {
        if (++idx[d]! < size[d]!) break;
        idx[d] = 0;
      }
    }
  }
  return fromBytes(bytes, size, storage.dtype);
}

/** True when the file is a zip archive holding `<root>/data.pkl` (torch.save) and no TorchScript code. */
export function isTorchSaveZip(path: string): boolean {
  const buf = readFileSync(path);
  if (buf.length < 4 || buf.readUInt32LE(0) !== 0x04034b50) return false;
  try {
    const names = [...readZipEntries(buf, path).keys()];
    return names.some((n) => n.endsWith('/data.pkl')) && !names.some((n) => n.endsWith('/constants.pkl'));
  } catch {
    return false;
  }
}

/**
 * Reads a torch.save (zip, PyTorch >= 1.6) checkpoint without executing anything. Nested dicts
 * and lists are flattened with '.', as the addon's loadPickledTensors does; non-tensor values are skipped.
 */
export function readTorchSaveZip(path: string): PickledCheckpoint {
  const buf = readFileSync(path);
  if (buf.length >= 2 && buf[0] === 0x80) {
    throw new Error(
      `${path}: legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with torch.save(obj, path) under PyTorch >= 1.6`,
    );
  }
  const entries = readZipEntries(buf, path);
  const pkl = [...entries.keys()].find((n) => n.endsWith('/data.pkl') && n.split('/').length === 2);
  if (!pkl) throw new Error(`${path}: zip archive without <name>/data.pkl: not a torch.save checkpoint`);
  const root = pkl.slice(0, -'data.pkl'.length);
  const storageCache = new Map<string, Buffer>();
  const storages = (key: string): Buffer => {
    let b = storageCache.get(key);
    if (!b) {
      const e = entries.get(`${root}data/${key}`);
      if (!e) throw new Error(`${path}: storage ${root}data/${key} missing`);
      b = readZipData(buf, e, path);
      storageCache.set(key, b);
    }
    return b;
  };
  const persistentLoad = (pid: Value): Value => {
    if (!Array.isArray(pid) || pid[0] !== 'storage') return new Opaque('persistent id');
    const [, type, key, , numel] = pid as [string, Value, string, string, number];
    let dtype: DType | undefined;
    if (type instanceof Global) dtype = type.module === 'torch' ? (STORAGE_DTYPES[type.name] ?? TORCH_DTYPES[type.name]) : undefined;
    if (!dtype) throw new Error(`${path}: unsupported storage type ${type instanceof Global ? type.full : String(type)}`);
    return new StorageRef(dtype, String(key), Number(numel));
  };
  const obj = unpickle(readZipData(buf, entries.get(pkl)!, path), persistentLoad, `${path}: ${pkl}`);
  const names: string[] = [];
  const tensors: Tensor[] = [];
  const walk = (v: Value, prefix: string, depth: number): void => {
    if (depth > 32) return;
    if (v instanceof TensorSpec) {
      names.push(prefix);
      tensors.push(materialise(v, storages, `${path}: ${prefix}`));
    } else if (v instanceof Map) {
      for (const [k, x] of v) {
        const ks = typeof k === 'string' || typeof k === 'number' ? String(k) : '?';
        walk(x, prefix ? `${prefix}.${ks}` : ks, depth + 1);
      }
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, prefix ? `${prefix}.${i}` : String(i), depth + 1));
    }
  };
  try {
    walk(obj, '', 0);
  } catch (e) {
    for (const t of tensors) t.dispose();
    throw e;
  }
  return { names, tensors };
}

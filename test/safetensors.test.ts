import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  DTYPE_BYTES,
  SafetensorsError,
  parseSafetensors,
  readSafetensors,
  readSafetensorsHeader,
  serializeSafetensors,
  writeSafetensors,
  type RawTensor,
  type SafetensorsFile,
  type SafetensorsHeaderEntry,
  type StDtype,
} from '../src/torch/safetensors.js';

// ---------------------------------------------------------------------------------------
// Helpers

function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'tunevlseg') return dir;
      } catch {
        // keep walking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root (package.json named "tunevlseg") not found');
    dir = up;
  }
}

const ROOT = findRepoRoot();
const FIXTURES = join(ROOT, '..', 'shared', 'fixtures');
const ALL_DTYPES = Object.keys(DTYPE_BYTES) as StDtype[];

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytesSeeded(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

function tensor(dtype: StDtype, shape: number[], fill?: (i: number) => number): RawTensor {
  const data = new Uint8Array(numel(shape) * DTYPE_BYTES[dtype]);
  for (let i = 0; i < data.length; i++) data[i] = fill ? fill(i) : (i * 37 + 11) & 0xff;
  return { dtype, shape, data };
}

/** Builds a file from a header (object or raw text) and a data buffer. */
function rawFile(header: string | object, data: Uint8Array | number = 0, opts: { length?: bigint; pad?: boolean } = {}): Uint8Array {
  let text = typeof header === 'string' ? header : JSON.stringify(header);
  if (opts.pad !== false) text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const head = Buffer.from(text, 'utf8');
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + head.length + body.length);
  new DataView(out.buffer).setBigUint64(0, opts.length ?? BigInt(head.length), true);
  out.set(head, 8);
  out.set(body, 8 + head.length);
  return out;
}

function rawFileBytes(headerBytes: Uint8Array, dataLength = 0): Uint8Array {
  const out = new Uint8Array(8 + headerBytes.length + dataLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  return out;
}

/** Asserts that `fn` throws a SafetensorsError naming `file` whose message matches `re`. */
function throwsSt(fn: () => unknown, re: RegExp, file = 'bad.safetensors'): SafetensorsError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `expected a SafetensorsError matching ${re}, nothing was thrown`);
  assert.ok(
    caught instanceof SafetensorsError,
    `expected a SafetensorsError, got ${(caught as Error)?.constructor?.name}: ${(caught as Error)?.message}`,
  );
  assert.equal(caught.file, file);
  assert.ok(caught.message.startsWith(`${file}: `), `message does not name the file: ${caught.message}`);
  assert.match(caught.message, re);
  return caught;
}

const parseBad = (bytes: Uint8Array) => () => parseSafetensors(bytes, 'bad.safetensors');

/** Checks the invariants every successfully parsed file must satisfy. */
function assertConsistent(file: SafetensorsFile, bytes: Uint8Array): void {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const dataStart = 8 + n;
  let covered = 0;
  for (const [name, t] of file.tensors) {
    assert.ok(ALL_DTYPES.includes(t.dtype), `${name}: dtype ${t.dtype}`);
    assert.ok(
      t.shape.every((d) => Number.isSafeInteger(d) && d >= 0),
      `${name}: shape`,
    );
    assert.equal(t.data.byteLength, numel(t.shape) * DTYPE_BYTES[t.dtype], `${name}: byte length`);
    assert.ok(t.data.buffer === bytes.buffer, `${name}: not a view into the input`);
    assert.ok(t.data.byteOffset >= bytes.byteOffset + dataStart, `${name}: starts before the data`);
    assert.ok(t.data.byteOffset + t.data.byteLength <= bytes.byteOffset + bytes.byteLength, `${name}: past the end`);
    covered += t.data.byteLength;
  }
  assert.equal(covered, bytes.byteLength - dataStart, 'tensors must tile the data buffer');
  for (const v of Object.values(file.metadata)) assert.equal(typeof v, 'string');
}

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tunevlseg-st-'));
});
after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------
// Round trips

describe('round trip', () => {
  test('every dtype, including zero-size and scalar tensors, survives serialize/parse', () => {
    const tensors = new Map<string, RawTensor>();
    for (const dtype of ALL_DTYPES) {
      tensors.set(`${dtype}.matrix`, tensor(dtype, [2, 3]));
      tensors.set(`${dtype}.scalar`, tensor(dtype, []));
      tensors.set(`${dtype}.empty`, tensor(dtype, [0]));
      tensors.set(`${dtype}.empty3d`, tensor(dtype, [3, 0, 2]));
      tensors.set(
        `${dtype}.big`,
        tensor(dtype, [4, 5, 6], (i) => (i * 7919) & 0xff),
      );
    }
    const metadata = { format: 'pt', note: 'ünïcode ✓ 🙂', empty: '' };
    const bytes = serializeSafetensors(tensors, metadata);
    const back = parseSafetensors(bytes, 'rt.safetensors');
    assertConsistent(back, bytes);
    assert.equal(back.tensors.size, tensors.size);
    for (const [name, t] of tensors) {
      const got = back.tensors.get(name);
      assert.ok(got, `missing ${name}`);
      assert.equal(got.dtype, t.dtype, name);
      assert.deepEqual(got.shape, t.shape, name);
      assert.deepEqual(Buffer.from(got.data), Buffer.from(t.data), name);
    }
    assert.deepEqual(back.metadata, metadata);
    // The scalar has one element, the zero-size ones none.
    assert.equal(back.tensors.get('F64.scalar')?.data.byteLength, 8);
    assert.equal(back.tensors.get('BF16.empty3d')?.data.byteLength, 0);
  });

  test('real values survive: F32/F64/I64/I32/I16/I8 read back through typed views', () => {
    const f32 = new Float32Array([1.5, -2.25, Math.PI, Number.POSITIVE_INFINITY]);
    const f64 = new Float64Array([Math.E, -0, 1e-300]);
    const i64 = new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 49407n]);
    const i16 = new Int16Array([-32768, 32767, 7]);
    const asBytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const bytes = serializeSafetensors({
      f32: { dtype: 'F32', shape: [2, 2], data: asBytes(f32) },
      f64: { dtype: 'F64', shape: [3], data: asBytes(f64) },
      i64: { dtype: 'I64', shape: [3], data: asBytes(i64) },
      i16: { dtype: 'I16', shape: [3, 1], data: asBytes(i16) },
      i8: { dtype: 'I8', shape: [2], data: new Uint8Array([0x80, 0x7f]) },
      b: { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) },
    });
    const back = parseSafetensors(bytes).tensors;
    const view = (name: string) => {
      const d = back.get(name)!.data;
      return new DataView(d.buffer, d.byteOffset, d.byteLength);
    };
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => view('f32').getFloat32(i * 4, true)),
      [...f32],
    );
    assert.ok(Object.is(view('f64').getFloat64(8, true), -0));
    assert.equal(view('f64').getFloat64(0, true), Math.E);
    assert.deepEqual(
      [0, 1, 2].map((i) => view('i64').getBigInt64(i * 8, true)),
      [...i64],
    );
    assert.deepEqual(
      [0, 1, 2].map((i) => view('i16').getInt16(i * 2, true)),
      [...i16],
    );
    assert.deepEqual([view('i8').getInt8(0), view('i8').getInt8(1)], [-128, 127]);
    assert.deepEqual([...back.get('b')!.data], [1, 0]);
  });

  test('an empty file (no tensors) round-trips to the 16 bytes the Rust crate writes', () => {
    const bytes = serializeSafetensors(new Map());
    assert.deepEqual([...bytes], [8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d, 32, 32, 32, 32, 32, 32]);
    const back = parseSafetensors(bytes);
    assert.equal(back.tensors.size, 0);
    assert.deepEqual(back.metadata, {});
  });

  test('parse returns views into the input, not copies', () => {
    const bytes = serializeSafetensors({ a: tensor('U8', [4]) });
    const back = parseSafetensors(bytes);
    const a = back.tensors.get('a')!;
    assert.equal(a.data.buffer, bytes.buffer);
    bytes[bytes.length - 1] = 0xee;
    assert.equal(a.data[3], 0xee);
  });

  test('writeSafetensors/readSafetensors/readSafetensorsHeader agree; the write is atomic', () => {
    const dir = mkdtempSync(join(tmp, 'write-'));
    const path = join(dir, 'model.safetensors');
    const tensors = { 'b.weight': tensor('F32', [3, 2]), 'a.bias': tensor('I64', [2]), s: tensor('F16', []) };
    writeSafetensors(path, tensors, { format: 'pt' });
    // Overwrite with different content: readers see the whole new file.
    const tensors2 = { ...tensors, c: tensor('BOOL', [5]) };
    writeSafetensors(path, tensors2, { format: 'pt' });
    assert.deepEqual(readdirSync(dir), ['model.safetensors'], 'no temporary file left behind');
    const bytes = readFileSync(path);
    assert.deepEqual(bytes, serializeSafetensors(tensors2, { format: 'pt' }));

    const file = readSafetensors(path);
    assert.deepEqual([...file.tensors.keys()], ['a.bias', 'b.weight', 'c', 's']);
    assert.deepEqual(file.metadata, { format: 'pt' });
    // Data start is 8-byte aligned in the buffer readFileSync returns.
    assert.equal(file.tensors.get('a.bias')!.data.byteOffset % 8, 0);

    const head = readSafetensorsHeader(path);
    assert.deepEqual(head.metadata, { format: 'pt' });
    assert.equal(head.dataStart % 8, 0);
    assert.deepEqual(Object.keys(head.header), ['a.bias', 'b.weight', 'c', 's']);
    assert.deepEqual(head.header['b.weight'], { dtype: 'F32', shape: [3, 2], data_offsets: [16, 40] });
    assert.deepEqual(head.header['s'], { dtype: 'F16', shape: [], data_offsets: [45, 47] });
    assert.equal(head.dataStart + 47, statSync(path).size);
  });
});

// ---------------------------------------------------------------------------------------
// Writer layout

describe('writer layout', () => {
  test('header is compact JSON with sorted keys, padded with spaces to a multiple of 8', () => {
    // "10" < "2" < "B" < "_x" < "a" < "é" < "😀" in code-point order; integer-like keys
    // must not be hoisted to the front as a JS object would.
    const names = ['a', '2', '😀', 'é', 'B', '10', '_x', 'ｆ'];
    const tensors = new Map(names.map((n, i) => [n, tensor('U8', [i + 1])] as [string, RawTensor]));
    const bytes = serializeSafetensors(tensors, { z: '1', a: '2' });
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
    assert.equal(n % 8, 0);
    const text = bytes.subarray(8, 8 + n).toString('utf8');
    const trimmed = text.trimEnd();
    assert.ok(n - Buffer.byteLength(trimmed) < 8, 'at most 7 padding bytes');
    assert.match(text.slice(trimmed.length), /^ *$/);
    const order = ['10', '2', 'B', '_x', 'a', 'é', 'ｆ', '😀'];
    const expected =
      '{' +
      order
        .map((k, i) => {
          const len = names.indexOf(k) + 1;
          const start = order.slice(0, i).reduce((s, o) => s + names.indexOf(o) + 1, 0);
          return `${JSON.stringify(k)}:{"dtype":"U8","shape":[${len}],"data_offsets":[${start},${start + len}]}`;
        })
        .join(',') +
      ',"__metadata__":{"a":"2","z":"1"}}';
    assert.equal(trimmed, expected);
    // Data laid out contiguously in key order.
    let pos = 8 + n;
    for (const k of order) {
      const t = tensors.get(k)!;
      assert.deepEqual(bytes.subarray(pos, pos + t.data.length), Buffer.from(t.data), k);
      pos += t.data.length;
    }
    assert.equal(pos, bytes.length);
  });

  test('matches the Rust crate byte for byte on its own test case', () => {
    const f = new Float32Array([0, 1, 2, 3, 4, 5]);
    const bytes = serializeSafetensors({
      'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: new Uint8Array(f.buffer) },
    });
    const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    const padded = header + ' '.repeat((8 - (header.length % 8)) % 8);
    assert.deepEqual(bytes.subarray(8, 8 + padded.length).toString('latin1'), padded);
    assert.equal(bytes.readBigUInt64LE(0), BigInt(padded.length));
    assert.deepEqual([...bytes.subarray(8 + padded.length)], [...new Uint8Array(f.buffer)]);
  });

  test('empty metadata is omitted; metadata keys sort after tensor keys', () => {
    const a = serializeSafetensors({ x: tensor('U8', [1]) }, {});
    assert.ok(!a.toString('latin1').includes('__metadata__'));
    const b = serializeSafetensors({ x: tensor('U8', [1]) }, { k: 'v' });
    assert.match(b.toString('latin1'), /"x":\{.*\},"__metadata__":\{"k":"v"\}\}/);
  });
});

// ---------------------------------------------------------------------------------------
// Fixtures

function listSafetensors(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listSafetensors(p));
    else if (entry.name.endsWith('.safetensors')) out.push(p);
  }
  return out.sort();
}

describe('shared fixtures', () => {
  const files = listSafetensors(FIXTURES);

  test('fixture folder is present', () => {
    assert.ok(files.length >= 10, `expected fixtures under ${FIXTURES}, found ${files.length}`);
  });

  test('every fixture parses, matches its case.json listing and re-serializes byte for byte', () => {
    let listed = 0;
    for (const path of files) {
      const name = relative(FIXTURES, path);
      const bytes = readFileSync(path);
      assertConsistent(parseSafetensors(bytes, name), bytes);
      const file = readSafetensors(path);
      assert.ok(file.tensors.size > 0, name);
      const head = readSafetensorsHeader(path);
      assert.deepEqual(Object.keys(head.header).sort(), [...file.tensors.keys()].sort(), name);
      assert.deepEqual(head.metadata, file.metadata, name);

      const casePath = join(dirname(path), 'case.json');
      const base = path.slice(dirname(path).length + 1);
      if (existsSync(casePath)) {
        const listing = (
          JSON.parse(readFileSync(casePath, 'utf8')) as {
            tensors?: Record<string, Record<string, { dtype: string; shape: number[] }>>;
          }
        ).tensors?.[base];
        if (listing && typeof listing['num_tensors'] === 'number') {
          // Model files are summarised: tensor and parameter counts.
          listed++;
          const summary = listing as unknown as { num_tensors: number; num_params: number };
          assert.equal(file.tensors.size, summary.num_tensors, name);
          const params = [...file.tensors.values()].reduce((s, t) => s + numel(t.shape), 0);
          assert.equal(params, summary.num_params, name);
        } else if (listing) {
          listed++;
          assert.deepEqual([...file.tensors.keys()].sort(), Object.keys(listing).sort(), name);
          for (const [tname, info] of Object.entries(listing)) {
            const t = file.tensors.get(tname)!;
            assert.equal(t.dtype, info.dtype, `${name}: ${tname}`);
            assert.deepEqual(t.shape, info.shape, `${name}: ${tname}`);
          }
        }
      }
      // The fixtures follow the same conventions as our writer.
      assert.deepEqual(serializeSafetensors(file.tensors, file.metadata), bytes, `${name}: re-serialized`);
    }
    assert.ok(listed >= 10, `only ${listed} fixtures had a case.json listing`);
  });

  test('known shapes and values of clipseg-tiny', () => {
    const dir = join(FIXTURES, 'clipseg-tiny');
    const inputs = readSafetensors(join(dir, 'inputs.safetensors')).tensors;
    assert.deepEqual(inputs.get('pixel_values')?.shape, [2, 3, 96, 96]);
    assert.deepEqual(inputs.get('pixel_values_native')?.shape, [2, 3, 64, 64]);
    assert.deepEqual(inputs.get('labels')?.shape, [2, 1, 96, 96]);
    const ids = inputs.get('input_ids')!;
    assert.equal(ids.dtype, 'I64');
    assert.deepEqual(ids.shape, [2, 15]);
    const idv = new DataView(ids.data.buffer, ids.data.byteOffset, ids.data.byteLength);
    assert.equal(idv.getBigInt64(0, true), 49406n); // BOS of row 0
    assert.equal(idv.getBigInt64(15 * 8, true), 49406n); // BOS of row 1
    assert.equal(idv.getBigInt64(29 * 8, true), 49407n); // padding at the end of row 1
    const mask = inputs.get('attention_mask')!;
    const mv = new DataView(mask.data.buffer, mask.data.byteOffset, mask.data.byteLength);
    const maskValues = Array.from({ length: 30 }, (_, i) => mv.getBigInt64(i * 8, true));
    assert.ok(maskValues.every((v) => v === 0n || v === 1n));
    assert.equal(maskValues.filter((v) => v === 1n).length, 15 + 4);

    const model = readSafetensors(join(dir, 'model.safetensors'));
    assert.deepEqual(model.metadata, { format: 'pt' });
    const scale = model.tensors.get('clip.logit_scale')!;
    assert.deepEqual(scale.shape, []);
    const sv = new DataView(scale.data.buffer, scale.data.byteOffset, 4);
    assert.ok(Math.abs(sv.getFloat32(0, true) - Math.log(1 / 0.07)) < 1e-3); // CLIP's init
    assert.deepEqual(model.tensors.get('clip.text_model.embeddings.position_embedding.weight')?.shape, [77, 32]);

    const outputs = readSafetensors(join(dir, 'outputs.safetensors')).tensors;
    assert.deepEqual(outputs.get('logits')?.shape, [2, 96, 96]);
    assert.deepEqual(outputs.get('dice_loss')?.shape, []);
  });
});

// ---------------------------------------------------------------------------------------
// Reader validation: one test per rule

const ok = (name = 'a', dtype = 'F32', shape: unknown = [2, 2], offsets: unknown = [0, 16]) => ({
  [name]: { dtype, shape, data_offsets: offsets },
});

describe('reader validation', () => {
  test('accepts a minimal valid file (sanity check for the cases below)', () => {
    const f = parseSafetensors(rawFile(ok(), 16));
    assert.deepEqual(f.tensors.get('a')?.shape, [2, 2]);
  });

  test('file shorter than 8 bytes', () => {
    throwsSt(parseBad(new Uint8Array(0)), /0 bytes, shorter than the 8-byte header length/);
    throwsSt(parseBad(new Uint8Array(7)), /7 bytes, shorter than the 8-byte/);
    const p = join(tmp, 'short.safetensors');
    writeFileSync(p, new Uint8Array([1, 2, 3]));
    throwsSt(() => readSafetensors(p), /3 bytes, shorter than the 8-byte/, p);
    throwsSt(() => readSafetensorsHeader(p), /3 bytes, shorter than the 8-byte/, p);
  });

  test('header length larger than the file', () => {
    const f = rawFile(ok(), 16, { length: 5000n });
    throwsSt(parseBad(f), /header length 5000 exceeds the \d+ bytes that follow the length field/);
    const p = join(tmp, 'trunc.safetensors');
    writeFileSync(p, f);
    throwsSt(() => readSafetensorsHeader(p), /header length 5000 exceeds/, p);
  });

  test('absurd header length (> 100 MB) is refused before any allocation', () => {
    throwsSt(parseBad(rawFile('{}', 0, { length: 100_000_001n })), /header length 100000001 exceeds the 100000000-byte limit/);
    const p = join(tmp, 'absurd.safetensors');
    writeFileSync(p, rawFile('{}', 0, { length: 4_000_000_000n }));
    throwsSt(() => readSafetensorsHeader(p), /header length 4000000000 exceeds the 100000000-byte limit/, p);
  });

  test('header length beyond 2^53 is reported exactly, not as a RangeError', () => {
    for (const n of [2n ** 53n + 1n, 2n ** 60n, 2n ** 64n - 1n]) {
      throwsSt(parseBad(rawFile('{}', 0, { length: n })), new RegExp(`header length ${n} exceeds`));
    }
  });

  test('header that is not valid UTF-8', () => {
    const head = Buffer.concat([Buffer.from('{"a'), Buffer.from([0xff, 0xfe]), Buffer.from('":{}}   ')]);
    throwsSt(parseBad(rawFileBytes(head)), /header is not valid UTF-8/);
    // Overlong encoding of "{" and a lone surrogate encoded in UTF-8 are invalid too.
    throwsSt(parseBad(rawFileBytes(new Uint8Array([0xc1, 0xbb, 32, 32, 32, 32, 32, 32]))), /not valid UTF-8/);
    throwsSt(parseBad(rawFileBytes(Buffer.from([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d, 32]))), /not valid UTF-8/);
  });

  test('header that is not JSON', () => {
    throwsSt(parseBad(rawFile('{"a": {"dtype": "F32",')), /header is not valid JSON/);
    throwsSt(parseBad(rawFile('{}{}')), /header is not valid JSON/);
    throwsSt(parseBad(rawFile("{'a': 1}")), /header is not valid JSON/);
    throwsSt(parseBad(rawFile('{}', 0, { pad: false }).map((b, i) => (i === 9 ? 0 : b))), /not valid JSON/);
  });

  test('pathologically nested header JSON is refused quickly (serde_json limit: 128)', () => {
    const deep = `{"a":${'['.repeat(2_000_000)}${']'.repeat(2_000_000)}}`;
    const start = Date.now();
    throwsSt(parseBad(rawFile(deep)), /header JSON nests more than 128 levels deep/);
    assert.ok(Date.now() - start < 1000, `took ${Date.now() - start} ms`);
    // 128 levels (and brackets inside strings) are fine as far as nesting goes.
    throwsSt(parseBad(rawFile(`{"a":${'['.repeat(127)}${']'.repeat(127)}}`)), /tensor "a": entry is not an object/);
    const f = parseSafetensors(rawFile({ '[[[[{{{{\\"': { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, 1));
    assert.deepEqual([...f.tensors.keys()], ['[[[[{{{{\\"']);
  });

  test('header that is not a JSON object', () => {
    throwsSt(parseBad(rawFile('[1, 2]')), /header is not a JSON object: it starts with "\[1, 2\]"/);
    throwsSt(parseBad(rawFile('"text"')), /header is not a JSON object/);
    throwsSt(parseBad(rawFile('null')), /header is not a JSON object/);
    throwsSt(parseBad(rawFile('', 0, { pad: false })), /header is not a JSON object: it is empty/);
    throwsSt(parseBad(rawFile('        ')), /header is not a JSON object: it is empty/);
    // As in the Rust crate, the header must start with "{" (no BOM, no leading blanks).
    throwsSt(parseBad(rawFile('\uFEFF{}')), /header is not a JSON object/);
    throwsSt(parseBad(rawFile(' {}')), /header is not a JSON object/);
  });

  test('entry that is not an object', () => {
    throwsSt(parseBad(rawFile({ 'a.weight': 5 })), /tensor "a\.weight": entry is not an object \(got number\)/);
    throwsSt(parseBad(rawFile({ a: [1, 2] })), /tensor "a": entry is not an object \(got array\)/);
    throwsSt(parseBad(rawFile({ a: null })), /tensor "a": entry is not an object \(got null\)/);
    throwsSt(parseBad(rawFile({ a: 'F32' })), /entry is not an object \(got string\)/);
  });

  test('entry missing a field', () => {
    throwsSt(parseBad(rawFile({ a: { dtype: 'F32', shape: [1] } })), /tensor "a": missing "data_offsets"/);
    throwsSt(parseBad(rawFile({ a: { shape: [1], data_offsets: [0, 4] } }, 4)), /tensor "a": missing "dtype"/);
  });

  test('unknown dtype', () => {
    throwsSt(parseBad(rawFile(ok('a', 'U16'), 16)), /tensor "a": unknown dtype "U16" \(supported: F64, F32/);
    throwsSt(parseBad(rawFile(ok('a', 'f32'), 16)), /unknown dtype "f32"/);
    for (const bad of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      throwsSt(parseBad(rawFile(ok('a', bad), 16)), /unknown dtype/);
    }
    throwsSt(parseBad(rawFile({ a: { dtype: 4, shape: [1], data_offsets: [0, 4] } }, 4)), /unknown dtype 4/);
    throwsSt(parseBad(rawFile({ a: { dtype: null, shape: [1], data_offsets: [0, 4] } }, 4)), /unknown dtype null/);
  });

  test('shape that is not an array of non-negative safe integers', () => {
    const re = /tensor "a": shape must be an array of non-negative integers/;
    for (const shape of [4, '[2,2]', null, { 0: 4 }, [-1], [2.5], ['2'], [null], [2 ** 53], [1e300], [[2]]]) {
      throwsSt(parseBad(rawFile(ok('a', 'U8', shape, [0, 4]), 4)), re);
    }
  });

  test('shape with more than 2^53 elements', () => {
    throwsSt(
      parseBad(rawFile(ok('a', 'U8', [2 ** 30, 2 ** 30, 2 ** 30], [0, 0]))),
      /tensor "a": shape \[1073741824, 1073741824, 1073741824\] has more than 2\^53 elements/,
    );
    throwsSt(parseBad(rawFile(ok('a', 'F64', [2 ** 51], [0, 0]))), /F64 \[2251799813685248\] needs more than 2\^53 bytes/);
  });

  test('offsets that are not two integers with begin <= end', () => {
    const re = /tensor "a": data_offsets must be two non-negative integers/;
    for (const offsets of [null, 16, [16], [0, 16, 32], [-1, 15], [0.5, 16.5], ['0', '16'], [0, 2 ** 64], [0, null]]) {
      throwsSt(parseBad(rawFile(ok('a', 'F32', [2, 2], offsets), 16)), re);
    }
    throwsSt(parseBad(rawFile(ok('a', 'F32', [0], [16, 0]), 16)), /tensor "a": data_offsets \[16, 0\] begin after they end/);
  });

  test('byte count that does not match dtype and shape', () => {
    const e = throwsSt(
      () => parseSafetensors(rawFile(ok('a.weight', 'F32', [2, 2], [0, 12]), 12), 'model.safetensors'),
      /./,
      'model.safetensors',
    );
    assert.equal(e.message, 'model.safetensors: tensor "a.weight": data_offsets [0, 12] hold 12 bytes but F32 [2, 2] needs 16');
    throwsSt(parseBad(rawFile(ok('s', 'I64', [], [0, 4]), 4)), /tensor "s": data_offsets \[0, 4\] hold 4 bytes but I64 \[\] needs 8/);
    throwsSt(parseBad(rawFile(ok('z', 'F32', [3, 0], [0, 4]), 4)), /hold 4 bytes but F32 \[3, 0\] needs 0/);
  });

  test('offsets beyond the data buffer', () => {
    throwsSt(
      parseBad(rawFile(ok('a', 'F32', [2, 2], [0, 16]), 8)),
      /tensor "a": data_offsets \[0, 16\] run past the end of the 8-byte data buffer/,
    );
    throwsSt(parseBad(rawFile(ok('a', 'U8', [4], [2 ** 52, 2 ** 52 + 4]), 8)), /run past the end of the 8-byte data buffer/);
    const p = join(tmp, 'past-end.safetensors');
    writeFileSync(p, rawFile(ok('a', 'F32', [2, 2], [0, 16]), 15));
    throwsSt(() => readSafetensorsHeader(p), /run past the end of the 15-byte data buffer/, p);
  });

  test('overlapping tensors', () => {
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    };
    throwsSt(parseBad(rawFile(header, 12)), /tensors "a" \[0, 8\] and "b" \[4, 12\] overlap/);
    const same = {
      a: { dtype: 'U8', shape: [4], data_offsets: [0, 4] },
      b: { dtype: 'U8', shape: [4], data_offsets: [0, 4] },
    };
    throwsSt(parseBad(rawFile(same, 4)), /tensors "a" \[0, 4\] and "b" \[0, 4\] overlap/);
    // A zero-size tensor strictly inside another one is rejected too (as in Rust).
    const inside = {
      a: { dtype: 'U8', shape: [4], data_offsets: [0, 4] },
      e: { dtype: 'U8', shape: [0], data_offsets: [2, 2] },
    };
    throwsSt(parseBad(rawFile(inside, 4)), /tensors "a" \[0, 4\] and "e" \[2, 2\] overlap/);
  });

  test('holes: data not covered by any tensor', () => {
    const gap = {
      a: { dtype: 'U8', shape: [4], data_offsets: [0, 4] },
      b: { dtype: 'U8', shape: [4], data_offsets: [8, 12] },
    };
    throwsSt(parseBad(rawFile(gap, 12)), /data bytes \[4, 8\) are not covered by any tensor \(hole before tensor "b"\)/);
    throwsSt(parseBad(rawFile(ok('a', 'U8', [4], [4, 8]), 8)), /data bytes \[0, 4\) are not covered/);
    throwsSt(
      parseBad(rawFile(ok('a', 'U8', [4], [0, 4]), 6)),
      /the data buffer holds 6 bytes but the tensors cover only the first 4 \(2 trailing bytes/,
    );
    throwsSt(parseBad(rawFile('{}', 3)), /holds 3 bytes but the tensors cover only the first 0/);
    const p = join(tmp, 'trailing.safetensors');
    writeFileSync(p, rawFile(ok('a', 'U8', [4], [0, 4]), 5));
    throwsSt(() => readSafetensorsHeader(p), /holds 5 bytes but the tensors cover only the first 4/, p);
  });

  test('__metadata__ that is not an object of strings', () => {
    throwsSt(parseBad(rawFile({ __metadata__: { format: 1 } })), /"__metadata__" entry "format" must be a string, got number 1/);
    throwsSt(parseBad(rawFile({ __metadata__: { a: null } })), /"__metadata__" entry "a" must be a string, got null/);
    throwsSt(parseBad(rawFile({ __metadata__: { a: ['x'] } })), /must be a string, got array/);
    throwsSt(parseBad(rawFile({ __metadata__: ['pt'] })), /"__metadata__" must be an object of strings, got array/);
    throwsSt(parseBad(rawFile({ __metadata__: 'pt' })), /"__metadata__" must be an object of strings, got string/);
  });

  test('names and metadata must be well-formed Unicode (lone surrogates, as serde_json)', () => {
    throwsSt(parseBad(rawFile('{"a\\ud800":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1)), /name is not well-formed Unicode/);
    throwsSt(parseBad(rawFile('{"__metadata__":{"k":"\\udfff"}}')), /"__metadata__" entry "k" is not well-formed Unicode/);
  });

  test('what the Rust crate accepts is accepted', () => {
    // Any key order, unknown extra fields, null metadata, trailing JSON whitespace,
    // zero-size tensors sharing an offset, names that look like object internals.
    const header =
      '{"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4],"extra":true},' +
      '"__proto__":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},' +
      '"e1":{"dtype":"F32","shape":[0,5],"data_offsets":[4,4]},"e2":{"dtype":"I64","shape":[0],"data_offsets":[4,4]},' +
      '"__metadata__":null}\n\t \r';
    const f = parseSafetensors(rawFile(header, new Uint8Array([1, 2, 3, 4]), { pad: false }));
    assert.deepEqual([...f.tensors.keys()], ['__proto__', 'b', 'e1', 'e2']);
    assert.deepEqual([...f.tensors.get('__proto__')!.data], [1, 2]);
    assert.deepEqual([...f.tensors.get('b')!.data], [3, 4]);
    assert.deepEqual(f.metadata, {});
    const withProtoMeta = parseSafetensors(rawFile('{"__metadata__":{"__proto__":"x","constructor":"y"}}'));
    assert.deepEqual(Object.keys(withProtoMeta.metadata), ['__proto__', 'constructor']);
    assert.equal(Object.getPrototypeOf(withProtoMeta.metadata), Object.prototype);
    const p = join(tmp, 'proto.safetensors');
    writeFileSync(p, rawFile(header, new Uint8Array([1, 2, 3, 4]), { pad: false }));
    const head = readSafetensorsHeader(p);
    assert.deepEqual(Object.keys(head.header), ['__proto__', 'b', 'e1', 'e2']);
    assert.deepEqual(head.header['__proto__'], { dtype: 'U8', shape: [2], data_offsets: [0, 2] });
  });

  test('I/O failures and non-bytes input are SafetensorsErrors too', () => {
    const missing = join(tmp, 'missing.safetensors');
    throwsSt(() => readSafetensors(missing), /cannot read file \(ENOENT\)/, missing);
    throwsSt(() => readSafetensorsHeader(missing), /cannot open file \(ENOENT\)/, missing);
    throwsSt(() => readSafetensorsHeader(tmp), /not a regular file/, tmp);
    throwsSt(() => parseSafetensors('nope' as unknown as Uint8Array, 'bad.safetensors'), /expected the file contents as a Uint8Array/);
  });
});

// ---------------------------------------------------------------------------------------
// Writer validation

describe('writer validation', () => {
  const W = '<serialize>';
  test('names: non-empty, unique, not __metadata__, strings', () => {
    throwsSt(() => serializeSafetensors({ '': tensor('U8', [1]) }), /tensor name must not be empty/, W);
    throwsSt(
      () =>
        serializeSafetensors([
          ['a', tensor('U8', [1])],
          ['a', tensor('U8', [2])],
        ]),
      /duplicate tensor name "a"/,
      W,
    );
    throwsSt(() => serializeSafetensors({ __metadata__: tensor('U8', [1]) }), /"__metadata__" is reserved/, W);
    throwsSt(() => serializeSafetensors(new Map([[7 as unknown as string, tensor('U8', [1])]])), /tensor names must be strings/, W);
    throwsSt(() => serializeSafetensors({ 'x\ud800': tensor('U8', [1]) }), /not well-formed Unicode/, W);
  });

  test('dtype, shape and data length', () => {
    const bad = (t: unknown) => () => serializeSafetensors({ t: t as RawTensor });
    throwsSt(bad({ dtype: 'U16', shape: [1], data: new Uint8Array(2) }), /tensor "t": unknown dtype "U16"/, W);
    throwsSt(bad({ dtype: 'F32', shape: [-1], data: new Uint8Array(0) }), /tensor "t": shape must be an array/, W);
    throwsSt(bad({ dtype: 'F32', shape: [1.5], data: new Uint8Array(4) }), /shape must be an array/, W);
    throwsSt(
      bad({ dtype: 'F32', shape: [2, 2], data: new Uint8Array(12) }),
      /tensor "t": data holds 12 bytes but F32 \[2, 2\] needs 16/,
      W,
    );
    throwsSt(bad({ dtype: 'F32', shape: [], data: new Uint8Array(0) }), /data holds 0 bytes but F32 \[\] needs 4/, W);
    throwsSt(bad({ dtype: 'F32', shape: [2], data: new Float32Array(2) }), /data must be a Uint8Array .* got Float32Array/, W);
    throwsSt(bad({ dtype: 'F32', shape: [2], data: [1, 2] }), /data must be a Uint8Array/, W);
    throwsSt(bad(null), /tensor "t": expected \{dtype, shape, data\}, got null/, W);
  });

  test('metadata values must be strings', () => {
    throwsSt(
      () => serializeSafetensors({}, { epoch: 3 } as unknown as Record<string, string>),
      /metadata "epoch" must be a string, got number/,
      W,
    );
  });

  test('writeSafetensors refuses bad input before touching the disk, and cleans up on I/O errors', () => {
    const dir = mkdtempSync(join(tmp, 'wv-'));
    const path = join(dir, 'out.safetensors');
    throwsSt(() => writeSafetensors(path, { a: { dtype: 'F32', shape: [2], data: new Uint8Array(3) } }), /needs 8/, path);
    assert.deepEqual(readdirSync(dir), []);
    const nowhere = join(dir, 'no', 'such', 'dir', 'x.safetensors');
    throwsSt(() => writeSafetensors(nowhere, { a: tensor('U8', [1]) }), /cannot write file \(ENOENT\)/, nowhere);
    // Renaming over a non-empty directory fails: the temporary file must not be left behind.
    const blocker = join(dir, 'blocker.safetensors');
    mkdirSync(join(blocker, 'child'), { recursive: true });
    throwsSt(() => writeSafetensors(blocker, { a: tensor('U8', [1]) }), /cannot write file \((EISDIR|ENOTEMPTY|EEXIST)\)/, blocker);
    assert.deepEqual(readdirSync(dir).sort(), ['blocker.safetensors']);
  });
});

// ---------------------------------------------------------------------------------------
// Fuzzing

const INTERESTING = [
  0,
  1,
  2,
  3,
  4,
  7,
  8,
  15,
  16,
  -1,
  -8,
  0.5,
  2 ** 31,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 64,
  1e308,
  '1',
  null,
  true,
  [],
  {},
  [0],
  [1, 2],
];
const DTYPE_CHOICES = [...ALL_DTYPES, 'U16', 'U64', 'F8_E4M3', 'f32', '', 'constructor', '__proto__', 5, null];
const JSON_CHARS = Buffer.from('{}[]",:0123456789-.eE \\ntfu');
const INTERESTING_U64 = [
  0n,
  1n,
  7n,
  8n,
  2n ** 31n,
  2n ** 32n - 1n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 53n + 1n,
  2n ** 63n,
  2n ** 64n - 1n,
  100_000_000n,
  100_000_001n,
];

const isValidShapeForTest = (shape: unknown): shape is number[] =>
  Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);

function mutate(base: Uint8Array, rand: () => number): Uint8Array {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const int = (n: number) => Math.floor(rand() * n);
  let bytes: Uint8Array = new Uint8Array(base);
  const headerLen = () => (bytes.length >= 8 ? Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true)) : 0);
  switch (int(6)) {
    case 0: {
      // bit flips anywhere (the header is where they matter most: bias towards it)
      const flips = 1 + int(8);
      const span = rand() < 0.7 ? Math.min(bytes.length, 8 + headerLen()) : bytes.length;
      for (let i = 0; i < flips && span > 0; i++) {
        const at = int(span);
        bytes[at] = (bytes[at] as number) ^ (1 << int(8));
      }
      break;
    }
    case 1:
      bytes = bytes.slice(0, int(bytes.length));
      break;
    case 2: {
      const extra = randomBytesSeeded(rand, 1 + int(16));
      const out = new Uint8Array(bytes.length + extra.length);
      out.set(bytes);
      out.set(extra, bytes.length);
      bytes = out;
      break;
    }
    case 3: {
      // header byte edits: JSON-significant characters or random bytes
      const n = Math.min(headerLen(), bytes.length - 8);
      const edits = 1 + int(4);
      for (let i = 0; i < edits && n > 0; i++) {
        bytes[8 + int(n)] = rand() < 0.8 ? pick([...JSON_CHARS]) : int(256);
      }
      break;
    }
    case 4: {
      // structured JSON edits of dtypes, shapes and offsets
      const n = headerLen();
      let header: Record<string, any>;
      try {
        header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')) as Record<string, any>;
        if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new Error('not an object');
      } catch {
        // an earlier mutation broke the JSON: flip a header byte instead
        if (bytes.length > 8) bytes[8 + int(bytes.length - 8)] ^= 0x20;
        break;
      }
      const names = Object.keys(header).filter((k) => k !== '__metadata__');
      const edits = 1 + int(3);
      for (let i = 0; i < edits; i++) {
        const name = names.length > 0 ? pick(names) : 'new';
        const entry = (header[name] ??= { dtype: 'U8', shape: [1], data_offsets: [0, 1] });
        switch (int(11)) {
          case 9: {
            // shape edits that keep the element count: the file stays valid
            if (isValidShapeForTest(entry.shape)) {
              const count = numel(entry.shape);
              entry.shape = pick([[count], [1, count], [...entry.shape, 1], [1, ...entry.shape], count === 1 ? [] : [count, 1]]);
            }
            break;
          }
          case 10:
            header['__metadata__'] = { format: 'pt', note: pick(['', 'x', 'ü', '\u0000', '{"a":1}']) };
            break;
          case 0:
            entry.dtype = pick(DTYPE_CHOICES);
            break;
          case 1:
            if (Array.isArray(entry.shape) && entry.shape.length > 0) entry.shape[int(entry.shape.length)] = pick(INTERESTING);
            else entry.shape = [pick(INTERESTING)];
            break;
          case 2:
            entry.shape = rand() < 0.5 ? [...(entry.shape ?? [])].reverse() : pick(INTERESTING);
            break;
          case 3:
            if (Array.isArray(entry.data_offsets)) entry.data_offsets[int(2)] = pick(INTERESTING);
            break;
          case 4:
            if (Array.isArray(entry.data_offsets)) {
              const d = pick([-8, -4, -2, -1, 1, 2, 4, 8]);
              entry.data_offsets = entry.data_offsets.map((o: number) => o + d);
            }
            break;
          case 5:
            if (Array.isArray(entry.data_offsets)) entry.data_offsets = [...entry.data_offsets].reverse();
            break;
          case 6:
            delete entry[pick(['dtype', 'shape', 'data_offsets'])];
            break;
          case 7:
            if (rand() < 0.5) delete header[name];
            else header[`${name}.copy`] = { ...entry };
            break;
          default:
            header['__metadata__'] = pick([{ format: 'pt' }, { format: 1 }, null, 'pt', [], { a: { b: 'c' } }]);
        }
      }
      let text = JSON.stringify(header);
      if (rand() < 0.7) text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
      bytes = rawFile(text, bytes.subarray(Math.min(8 + n, bytes.length)), { pad: false });
      break;
    }
    default: {
      // length field edits
      if (bytes.length < 8) break;
      const n = BigInt(headerLen());
      const choice = int(3);
      const value =
        choice === 0
          ? pick(INTERESTING_U64)
          : choice === 1
            ? n + BigInt(pick([-9, -8, -1, 1, 8, 9]))
            : new DataView(randomBytesSeeded(rand, 8).buffer).getBigUint64(0, true);
      new DataView(bytes.buffer, bytes.byteOffset, 8).setBigUint64(0, BigInt.asUintN(64, value), true);
    }
  }
  return bytes;
}

describe('fuzz', () => {
  test('2,000 mutated files: each parses consistently or throws SafetensorsError; the header reader agrees', { timeout: 30_000 }, (t) => {
    const bases: Uint8Array[] = [
      serializeSafetensors(
        {
          w: tensor('F32', [2, 3]),
          b: tensor('BF16', [3]),
          s: tensor('I64', []),
          e: tensor('F16', [0, 4]),
          m: tensor('BOOL', [2, 2]),
          i: tensor('I8', [5]),
        },
        { format: 'pt', epoch: '3' },
      ),
      serializeSafetensors({ '0': tensor('U8', [3]), '10': tensor('I16', [2]), x: tensor('F64', [1]) }),
      serializeSafetensors({}),
      rawFile('{"a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}', 8, { pad: false }),
      readFileSync(join(FIXTURES, 'clipseg-tiny', 'learners', 'coop-d1', 'grads.safetensors')),
      readFileSync(join(FIXTURES, 'clipseg-tiny', 'learners', 'coop-d1', 'params_init.safetensors')),
    ];
    for (const b of bases) parseSafetensors(b); // the seeds themselves are valid

    const rand = prng(0x5eed_2024);
    const path = join(tmp, 'fuzz.safetensors');
    const CASES = 2000;
    let parsed = 0;
    let rejected = 0;
    let headerChecked = 0;
    const problems = new Map<string, number>();
    for (let c = 0; c < CASES; c++) {
      let bytes = mutate(bases[c % bases.length] as Uint8Array, rand);
      if (rand() < 0.2) bytes = mutate(bytes, rand); // stacked mutations
      let result: SafetensorsFile | undefined;
      let error: unknown;
      try {
        result = parseSafetensors(bytes, 'fuzz.safetensors');
      } catch (e) {
        error = e;
      }
      const what = `case ${c} (${Buffer.from(bytes.subarray(0, 120)).toString('latin1')})`;
      if (result) {
        parsed++;
        assertConsistent(result, bytes);
      } else {
        rejected++;
        assert.ok(error instanceof SafetensorsError, `${what}: threw ${String(error)}`);
        assert.equal(error.file, 'fuzz.safetensors');
        assert.ok(error.message.startsWith('fuzz.safetensors: '), what);
        const key = error.problem.startsWith('header is not valid JSON')
          ? 'header is not valid JSON'
          : error.problem
              .replace(/"(?:[^"\\]|\\.)*"/g, '"…"')
              .replace(/\[[^\]]*[\])]/g, '[…]')
              .replace(/\b\d+\b/g, 'N')
              .slice(0, 70);
        problems.set(key, (problems.get(key) ?? 0) + 1);
      }
      // The header-only reader agrees with the full parser (on a sample: writing files is slow).
      if (c % 8 !== 0) continue;
      headerChecked++;
      writeFileSync(path, bytes);
      let head: ReturnType<typeof readSafetensorsHeader> | undefined;
      let headError: unknown;
      try {
        head = readSafetensorsHeader(path);
      } catch (e) {
        headError = e;
      }
      if (result) {
        assert.ok(head, `${what}: header reader failed where the parser succeeded: ${String(headError)}`);
        assert.deepEqual(Object.keys(head.header).sort(), [...result.tensors.keys()].sort(), what);
        for (const [name, t] of result.tensors) {
          const h: SafetensorsHeaderEntry | undefined = head.header[name];
          assert.ok(h, `${what}: ${name} missing from the header reader's result`);
          assert.equal(h.dtype, t.dtype);
          assert.deepEqual(h.shape, t.shape);
          assert.equal(h.data_offsets[1] - h.data_offsets[0], t.data.byteLength);
          assert.equal(head.dataStart + h.data_offsets[0], t.data.byteOffset - bytes.byteOffset);
        }
      } else {
        assert.ok(headError instanceof SafetensorsError, `${what}: header reader threw ${String(headError)}`);
        assert.equal(headError.problem, (error as SafetensorsError).problem, what);
      }
    }
    t.diagnostic(`${parsed} parsed, ${rejected} rejected; errors by kind: ${[...problems].map(([k, v]) => `${v} x ${k}`).join(' | ')}`);
    assert.equal(parsed + rejected, CASES);
    assert.equal(headerChecked, CASES / 8);
    // The mutations exercise both outcomes and many distinct checks.
    assert.ok(parsed >= 50, `only ${parsed} mutated files parsed`);
    assert.ok(rejected >= 1000, `only ${rejected} mutated files were rejected`);
    assert.ok(problems.size >= 12, `only ${problems.size} kinds of error: ${[...problems.keys()].join(' | ')}`);
  });
});

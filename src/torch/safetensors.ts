/**
 * safetensors read/write in pure TypeScript.
 *
 * This layer maps files to raw little-endian byte views and back; it knows nothing about
 * the tensor engine (another module turns `RawTensor`s into native tensors).
 *
 * Format: an unsigned 64-bit little-endian header length N, then N bytes of UTF-8 JSON
 *   { "<name>": { "dtype": "F32", "shape": [2, 2], "data_offsets": [begin, end] }, ...,
 *     "__metadata__"?: { "<key>": "<string>" } }
 * then the data buffer. Offsets are relative to the start of the data buffer.
 *
 * Reading mirrors the validation of the reference Rust `safetensors` crate
 * (`SafeTensors::read_metadata` + `Metadata::validate`):
 *   - the file holds at least the 8-byte length field;
 *   - N <= 100,000,000 and 8 + N <= file size;
 *   - the header is valid UTF-8, starts with `{` and is a JSON object;
 *   - every entry has a known dtype, a shape of non-negative integers and two integer
 *     offsets with begin <= end, and end - begin == product(shape) * dtype size;
 *   - sorted by offsets, the tensors tile the data buffer exactly: the first begins at 0,
 *     each begins where the previous ended (no overlap, no hole) and the last ends at the
 *     end of the file (no trailing bytes);
 *   - `__metadata__`, when present (null counts as absent), maps strings to strings.
 * Names and metadata strings must be well-formed Unicode (serde_json rejects lone
 * surrogate escapes such as "\ud800"). Unknown fields inside an entry are ignored, as in Rust.
 * Deliberate differences: only the dtypes in `StDtype` are accepted (the crate also knows
 * U16/U32/U64 and FP8), and offsets/dimensions must be exact in a JS number (< 2^53).
 *
 * Writing follows the crate's layout with the project's fixture conventions: tensor keys
 * sorted by Unicode code point, data laid out contiguously in that order, `__metadata__`
 * (omitted when empty) after the tensors, compact JSON, header padded with spaces to a
 * multiple of 8 so that the data buffer starts 8-byte aligned. Re-serializing a parsed
 * fixture reproduces it byte for byte.
 *
 * Every failure on bad input is a `SafetensorsError` whose message starts with the file.
 *
 * Why one file over 450 lines: the format's reader, its validation (every header rule, each
 * with its own error) and the writer share one set of layout rules; the fuzz tests read it whole.
 */
import { writeChunksAtomic } from '../util/atomic-write.js';
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';

export type StDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Bytes per element of each supported dtype. */
export const DTYPE_BYTES: Readonly<Record<StDtype, number>> = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
});

const DTYPE_NAMES = Object.keys(DTYPE_BYTES) as StDtype[];

/** A tensor as raw bytes. `data.byteLength === product(shape) * DTYPE_BYTES[dtype]`. */
export interface RawTensor {
  dtype: StDtype;
  shape: number[];
  data: Uint8Array;
}

export interface SafetensorsFile {
  /** In data-offset order (for files written here: sorted by name). */
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

export interface SafetensorsHeaderEntry {
  dtype: StDtype;
  shape: number[];
  data_offsets: [number, number];
}

export interface SafetensorsHeader {
  header: Record<string, SafetensorsHeaderEntry>;
  metadata: Record<string, string>;
  /** Byte offset of the data buffer in the file (8 + header length). */
  dataStart: number;
}

export type SafetensorsInput = Map<string, RawTensor> | Record<string, RawTensor> | Iterable<readonly [string, RawTensor]>;

/** A malformed safetensors file or invalid tensors to write. `message` = `${file}: ${problem}`. */
export class SafetensorsError extends Error {
  readonly file: string;
  /** The problem, without the file prefix. */
  readonly problem: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.name = 'SafetensorsError';
    this.file = file;
    this.problem = problem;
  }
}

/** Largest header the reference implementation accepts (and that we write). */
export const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';
const BUFFER_SOURCE = '<buffer>';
const SERIALIZE_SOURCE = '<serialize>';

// ---------------------------------------------------------------------------------------
// Small helpers

const LONE_SURROGATE = /\p{Surrogate}/u;

function hasOwn(obj: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON-ish rendering of a value for messages, bounded in length and work. */
function show(v: unknown, max = 80): string {
  const s = render(v, 0, max);
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

function render(v: unknown, depth: number, max: number): string {
  if (typeof v === 'string') return JSON.stringify(v.length > max ? v.slice(0, max) : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (Array.isArray(v)) {
    if (depth >= 3) return '[...]';
    const items = v.slice(0, 8).map((x) => render(x, depth + 1, max));
    return `[${items.join(',')}${v.length > 8 ? ',...' : ''}]`;
  }
  if (typeof v === 'object') {
    if (depth >= 3) return '{...}';
    const keys = Object.keys(v);
    const items = keys.slice(0, 4).map((k) => `${render(k, depth + 1, max)}:${render((v as Record<string, unknown>)[k], depth + 1, max)}`);
    return `{${items.join(',')}${keys.length > 4 ? ',...' : ''}}`;
  }
  return typeof v;
}

/** Escapes control characters (JSON.parse quotes the offending input) and bounds the length. */
function printable(s: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const t = s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return t.length > max ? `${t.slice(0, max)}...` : t;
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function quote(name: string): string {
  return show(name, 200);
}

function shapeText(shape: readonly number[]): string {
  const s = `[${shape.join(', ')}]`;
  return s.length > 120 ? `${s.slice(0, 120)}...]` : s;
}

/** Sets an own enumerable property, even for keys like "__proto__". */
function defineOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Compares strings by Unicode code point (= UTF-8 byte order, Python/Rust string order). */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800..U+DFFF, code points >= U+10000) sort after U+E000..U+FFFF.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Number of elements, or a problem description. A zero dimension gives 0 elements whatever
 * the other dimensions are; otherwise the product must stay exact in a JS number.
 */
function elementCount(shape: readonly number[]): number | string {
  if (shape.includes(0)) return 0;
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) return `shape ${shapeText(shape)} has more than 2^53 elements`;
  }
  return n;
}

function isValidShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
}

function isDtype(v: unknown): v is StDtype {
  return typeof v === 'string' && hasOwn(DTYPE_BYTES, v);
}

// ---------------------------------------------------------------------------------------
// Reading

interface ParsedEntry {
  name: string;
  dtype: StDtype;
  shape: number[];
  begin: number;
  end: number;
}

interface ParsedHeader {
  entries: ParsedEntry[]; // sorted by data offsets
  metadata: Record<string, string>;
}

/**
 * Reads the u64 header length at the start of `first8` and checks it against the file
 * size. Returns N.
 */
function checkHeaderLength(first8: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) {
    throw new SafetensorsError(file, `file is ${fileSize} bytes, shorter than the 8-byte header length field`);
  }
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      file,
      `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt length field or not a safetensors file)`,
    );
  }
  const len = Number(n);
  if (len > fileSize - 8) {
    throw new SafetensorsError(
      file,
      `header length ${len} exceeds the ${fileSize - 8} bytes that follow the length field (truncated file?)`,
    );
  }
  return len;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** serde_json's recursion limit; a valid header nests 3 levels deep. */
const MAX_JSON_DEPTH = 128;

/**
 * Deepest `{`/`[` nesting outside strings, stopping early past MAX_JSON_DEPTH. Bytes work:
 * UTF-8 continuation bytes never look like ASCII. This keeps JSON.parse away from
 * pathological nesting, which costs V8 seconds per 10 MB.
 */
function nestingDepth(bytes: Uint8Array): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (inString) {
      if (b === 0x5c)
        i++; // skip the escaped byte
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) {
      inString = true;
    } else if (b === 0x7b || b === 0x5b) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > MAX_JSON_DEPTH) break;
      }
    } else if (b === 0x7d || b === 0x5d) {
      depth--;
    }
  }
  return deepest;
}

/** Decodes and validates a header against a data buffer of `dataLength` bytes. */
function parseHeader(headerBytes: Uint8Array, dataLength: number, file: string): ParsedHeader {
  let text: string;
  try {
    text = utf8.decode(headerBytes);
  } catch (e) {
    throw new SafetensorsError(file, 'header is not valid UTF-8', { cause: e });
  }
  if (!text.startsWith('{')) {
    const start = text.trimStart();
    const what = start.length === 0 ? 'is empty' : `starts with ${show(text.slice(0, 16).trimEnd())}`;
    throw new SafetensorsError(file, `header is not a JSON object: it ${what}, expected "{"`);
  }
  if (nestingDepth(headerBytes) > MAX_JSON_DEPTH) {
    throw new SafetensorsError(file, `header JSON nests more than ${MAX_JSON_DEPTH} levels deep`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(file, `header is not valid JSON: ${printable(e instanceof Error ? e.message : String(e))}`, {
      cause: e,
    });
  }
  if (!isPlainObject(json)) {
    throw new SafetensorsError(file, `header is not a JSON object (got ${kind(json)})`);
  }

  const metadata: Record<string, string> = {};
  const entries: ParsedEntry[] = [];
  for (const name of Object.keys(json)) {
    const value = json[name];
    if (name === METADATA_KEY) {
      if (value === null) continue; // Option::None in the reference implementation
      if (!isPlainObject(value)) {
        throw new SafetensorsError(file, `"__metadata__" must be an object of strings, got ${kind(value)}`);
      }
      for (const key of Object.keys(value)) {
        const v = value[key];
        if (typeof v !== 'string') {
          throw new SafetensorsError(file, `"__metadata__" entry ${quote(key)} must be a string, got ${kind(v)} ${show(v, 40)}`);
        }
        if (LONE_SURROGATE.test(key) || LONE_SURROGATE.test(v)) {
          throw new SafetensorsError(file, `"__metadata__" entry ${quote(key)} is not well-formed Unicode (lone surrogate)`);
        }
        defineOwn(metadata, key, v);
      }
      continue;
    }
    entries.push(parseEntry(name, value, dataLength, file));
  }

  entries.sort((a, b) => a.begin - b.begin || a.end - b.end || compareCodePoints(a.name, b.name));
  let cursor = 0;
  let previous: ParsedEntry | undefined;
  for (const e of entries) {
    if (e.begin < cursor) {
      const prev = previous === undefined ? 'another tensor' : `${quote(previous.name)} [${previous.begin}, ${previous.end}]`;
      throw new SafetensorsError(file, `tensors ${prev} and ${quote(e.name)} [${e.begin}, ${e.end}] overlap`);
    }
    if (e.begin > cursor) {
      throw new SafetensorsError(
        file,
        `data bytes [${cursor}, ${e.begin}) are not covered by any tensor (hole before tensor ${quote(e.name)})`,
      );
    }
    cursor = e.end;
    if (e.end > e.begin) previous = e;
  }
  if (cursor !== dataLength) {
    throw new SafetensorsError(
      file,
      `the data buffer holds ${dataLength} bytes but the tensors cover only the first ${cursor} ` +
        `(${dataLength - cursor} trailing bytes not covered by any tensor)`,
    );
  }
  return { entries, metadata };
}

function parseEntry(name: string, value: unknown, dataLength: number, file: string): ParsedEntry {
  const where = `tensor ${quote(name)}`;
  if (LONE_SURROGATE.test(name)) {
    throw new SafetensorsError(file, `${where}: name is not well-formed Unicode (lone surrogate)`);
  }
  if (!isPlainObject(value)) {
    throw new SafetensorsError(file, `${where}: entry is not an object (got ${kind(value)})`);
  }
  for (const field of ['dtype', 'shape', 'data_offsets']) {
    if (!hasOwn(value, field)) throw new SafetensorsError(file, `${where}: missing "${field}"`);
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (!isDtype(dtype)) {
    throw new SafetensorsError(file, `${where}: unknown dtype ${show(dtype, 40)} (supported: ${DTYPE_NAMES.join(', ')})`);
  }
  if (!isValidShape(shape)) {
    throw new SafetensorsError(file, `${where}: shape must be an array of non-negative integers below 2^53, got ${show(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new SafetensorsError(file, `${where}: data_offsets must be two non-negative integers below 2^53, got ${show(offsets)}`);
  }
  const begin = offsets[0] as number;
  const end = offsets[1] as number;
  if (begin > end) {
    throw new SafetensorsError(file, `${where}: data_offsets [${begin}, ${end}] begin after they end`);
  }
  const count = elementCount(shape);
  if (typeof count === 'string') throw new SafetensorsError(file, `${where}: ${count}`);
  const need = count * DTYPE_BYTES[dtype];
  if (!Number.isSafeInteger(need)) {
    throw new SafetensorsError(file, `${where}: ${dtype} ${shapeText(shape)} needs more than 2^53 bytes`);
  }
  if (end - begin !== need) {
    throw new SafetensorsError(
      file,
      `${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${dtype} ${shapeText(shape)} needs ${need}`,
    );
  }
  if (end > dataLength) {
    throw new SafetensorsError(file, `${where}: data_offsets [${begin}, ${end}] run past the end of the ${dataLength}-byte data buffer`);
  }
  // Normalise -0 (JSON "-0") to 0.
  return { name, dtype, shape: shape.map((d) => d + 0), begin: begin + 0, end: end + 0 };
}

/**
 * Parses a whole safetensors file held in memory. Tensor data are views into `bytes`
 * (no copy): keep `bytes` alive and unmodified while they are used.
 */
export function parseSafetensors(bytes: Uint8Array, source: string = BUFFER_SOURCE): SafetensorsFile {
  const file = typeof source === 'string' ? source : BUFFER_SOURCE;
  if (!(bytes instanceof Uint8Array)) {
    throw new SafetensorsError(file, `expected the file contents as a Uint8Array, got ${kind(bytes)}`);
  }
  const n = checkHeaderLength(bytes, bytes.byteLength, file);
  const dataStart = 8 + n;
  const { entries, metadata } = parseHeader(bytes.subarray(8, dataStart), bytes.byteLength - dataStart, file);
  const tensors = new Map<string, RawTensor>();
  for (const e of entries) {
    tensors.set(e.name, {
      dtype: e.dtype,
      shape: e.shape,
      data: bytes.subarray(dataStart + e.begin, dataStart + e.end),
    });
  }
  return { tensors, metadata };
}

/**
 * Reads and parses a safetensors file. Tensor data are views into one buffer holding the
 * whole file; the data buffer starts 8-byte aligned in it when the writer padded the header.
 */
export function readSafetensors(path: string): SafetensorsFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw ioError(path, 'cannot read file', e);
  }
  return parseSafetensors(bytes, path);
}

/**
 * Reads and validates only the header of a safetensors file (the data bytes are not read,
 * but the offsets are checked against the file size).
 */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw ioError(path, 'cannot open file', e);
  }
  try {
    let size: number;
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new SafetensorsError(path, 'not a regular file');
      size = st.size;
    } catch (e) {
      if (e instanceof SafetensorsError) throw e;
      throw ioError(path, 'cannot stat file', e);
    }
    const first8 = new Uint8Array(8);
    readFully(fd, first8, 0, Math.min(8, size), path);
    const n = checkHeaderLength(first8, size, path);
    const headerBytes = new Uint8Array(n);
    readFully(fd, headerBytes, 8, n, path);
    const dataStart = 8 + n;
    const { entries, metadata } = parseHeader(headerBytes, size - dataStart, path);
    const header: Record<string, SafetensorsHeaderEntry> = {};
    for (const e of entries) {
      defineOwn(header, e.name, { dtype: e.dtype, shape: e.shape, data_offsets: [e.begin, e.end] });
    }
    return { header, metadata, dataStart };
  } finally {
    try {
      closeSync(fd);
    } catch {
      // nothing useful to do
    }
  }
}

function readFully(fd: number, into: Uint8Array, position: number, length: number, file: string): void {
  let done = 0;
  while (done < length) {
    let got: number;
    try {
      got = readSync(fd, into, done, length - done, position + done);
    } catch (e) {
      throw ioError(file, 'cannot read file', e);
    }
    if (got === 0) {
      throw new SafetensorsError(file, `file shrank while reading (expected ${length} bytes at offset ${position})`);
    }
    done += got;
  }
}

function ioError(file: string, what: string, cause: unknown): SafetensorsError {
  const code = (cause as { code?: unknown } | null)?.code;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new SafetensorsError(file, `${what}${typeof code === 'string' ? ` (${code})` : ''}: ${detail}`, {
    cause,
  });
}

// ---------------------------------------------------------------------------------------
// Writing

interface WritePlan {
  /** Length field + header JSON + padding. */
  head: Buffer;
  /** Tensor data in file order. */
  chunks: Uint8Array[];
  dataLength: number;
}

function entriesOf(tensors: SafetensorsInput, file: string): Array<[unknown, unknown]> {
  if (tensors instanceof Map) return [...tensors.entries()];
  if (typeof tensors !== 'object' || tensors === null) {
    throw new SafetensorsError(file, `expected a Map, an object or pairs of tensors, got ${kind(tensors)}`);
  }
  const iter = (tensors as { [Symbol.iterator]?: unknown })[Symbol.iterator];
  if (typeof iter === 'function') {
    const out: Array<[unknown, unknown]> = [];
    for (const pair of tensors as Iterable<unknown>) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new SafetensorsError(file, `expected [name, tensor] pairs, got ${show(pair, 40)}`);
      }
      out.push([pair[0], pair[1]]);
    }
    return out;
  }
  return Object.keys(tensors).map((k) => [k, (tensors as Record<string, unknown>)[k]]);
}

function planWrite(tensors: SafetensorsInput, metadata: Record<string, string> | undefined, file: string): WritePlan {
  const seen = new Set<string>();
  const items: Array<{ name: string; tensor: RawTensor }> = [];
  for (const [name, tensor] of entriesOf(tensors, file)) {
    if (typeof name !== 'string') {
      throw new SafetensorsError(file, `tensor names must be strings, got ${kind(name)} ${show(name, 40)}`);
    }
    if (name.length === 0) throw new SafetensorsError(file, 'tensor name must not be empty');
    if (name === METADATA_KEY) {
      throw new SafetensorsError(file, `"${METADATA_KEY}" is reserved and cannot name a tensor`);
    }
    if (LONE_SURROGATE.test(name)) {
      throw new SafetensorsError(file, `tensor ${quote(name)}: name is not well-formed Unicode (lone surrogate)`);
    }
    if (seen.has(name)) throw new SafetensorsError(file, `duplicate tensor name ${quote(name)}`);
    seen.add(name);
    items.push({ name, tensor: checkTensor(name, tensor, file) });
  }

  const meta: Array<[string, string]> = [];
  if (metadata !== undefined && metadata !== null) {
    if (!isPlainObject(metadata)) {
      throw new SafetensorsError(file, `metadata must be an object of strings, got ${kind(metadata)}`);
    }
    for (const key of Object.keys(metadata)) {
      const v: unknown = metadata[key];
      if (typeof v !== 'string') {
        throw new SafetensorsError(file, `metadata ${quote(key)} must be a string, got ${kind(v)}`);
      }
      if (LONE_SURROGATE.test(key) || LONE_SURROGATE.test(v)) {
        throw new SafetensorsError(file, `metadata ${quote(key)} is not well-formed Unicode (lone surrogate)`);
      }
      meta.push([key, v]);
    }
  }

  items.sort((a, b) => compareCodePoints(a.name, b.name));
  meta.sort((a, b) => compareCodePoints(a[0], b[0]));

  // Built by hand: a JS object would move integer-like keys ("0", "10") to the front.
  const parts: string[] = [];
  let offset = 0;
  for (const { name, tensor } of items) {
    const end = offset + tensor.data.byteLength;
    if (!Number.isSafeInteger(end)) throw new SafetensorsError(file, 'total tensor data exceeds 2^53 bytes');
    parts.push(
      `${JSON.stringify(name)}:{"dtype":${JSON.stringify(tensor.dtype)},"shape":[${tensor.shape.join(',')}],` +
        `"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  if (meta.length > 0) {
    const body = meta.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',');
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${body}}`);
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded > MAX_HEADER_BYTES) {
    throw new SafetensorsError(file, `header would be ${padded} bytes, over the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const head = Buffer.alloc(8 + padded, 0x20); // pad with spaces
  head.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(head, 8);
  return { head, chunks: items.map((i) => i.tensor.data), dataLength: offset };
}

function checkTensor(name: string, tensor: unknown, file: string): RawTensor {
  const where = `tensor ${quote(name)}`;
  if (!isPlainObject(tensor)) {
    throw new SafetensorsError(file, `${where}: expected {dtype, shape, data}, got ${kind(tensor)}`);
  }
  const { dtype, shape, data } = tensor;
  if (!isDtype(dtype)) {
    throw new SafetensorsError(file, `${where}: unknown dtype ${show(dtype, 40)} (supported: ${DTYPE_NAMES.join(', ')})`);
  }
  if (!isValidShape(shape)) {
    throw new SafetensorsError(file, `${where}: shape must be an array of non-negative integers, got ${show(shape)}`);
  }
  if (!(data instanceof Uint8Array)) {
    throw new SafetensorsError(
      file,
      `${where}: data must be a Uint8Array of raw little-endian bytes, got ${
        ArrayBuffer.isView(data) ? (data as object).constructor.name : kind(data)
      } (wrap typed arrays: new Uint8Array(a.buffer, a.byteOffset, a.byteLength))`,
    );
  }
  const count = elementCount(shape);
  if (typeof count === 'string') throw new SafetensorsError(file, `${where}: ${count}`);
  const need = count * DTYPE_BYTES[dtype];
  if (data.byteLength !== need) {
    throw new SafetensorsError(file, `${where}: data holds ${data.byteLength} bytes but ${dtype} ${shapeText(shape)} needs ${need}`);
  }
  return { dtype, shape: shape.map((d) => d + 0), data };
}

/**
 * Serializes tensors (keys sorted, data contiguous in key order, header space-padded to a
 * multiple of 8) into one Buffer. `metadata` is written as `__metadata__` when non-empty.
 */
export function serializeSafetensors(tensors: SafetensorsInput, metadata?: Record<string, string>): Buffer {
  const plan = planWrite(tensors, metadata, SERIALIZE_SOURCE);
  const total = plan.head.byteLength + plan.dataLength;
  if (total > bufferConstants.MAX_LENGTH) {
    throw new SafetensorsError(
      SERIALIZE_SOURCE,
      `${total} bytes do not fit in one Buffer (max ${bufferConstants.MAX_LENGTH}); use writeSafetensors`,
    );
  }
  const out = Buffer.allocUnsafe(total);
  plan.head.copy(out, 0);
  let pos = plan.head.byteLength;
  for (const chunk of plan.chunks) {
    out.set(chunk, pos);
    pos += chunk.byteLength;
  }
  return out;
}

/**
 * Writes a safetensors file atomically: the bytes go to a temporary file in the same
 * folder, which is fsync'ed and then renamed over `path`. Tensor data are streamed, never
 * concatenated in memory.
 */
export function writeSafetensors(path: string, tensors: SafetensorsInput, metadata?: Record<string, string>): void {
  const plan = planWrite(tensors, metadata, path);
  try {
    writeChunksAtomic(path, [plan.head, ...plan.chunks]);
  } catch (e) {
    throw ioError(path, 'cannot write file', e);
  }
}

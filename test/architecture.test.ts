// The layer rule, checked on the code: LAYERS (scripts/architecture/layers.ts, the one description
// of the layers) gives the order; every relative import in src/ (static, dynamic, type-only,
// re-export) must stay in its own layer or go up the table, every folder of src/ must have a row,
// there is no cycle, and docs/architecture.md's table is what `npm run docs:architecture` writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { repoRoot } from './helpers.js';
import { layerOrders } from '../scripts/architecture/layers.js';
import { layerTable, renderArchitecturePage, TABLE_BEGIN, TABLE_END } from '../scripts/architecture/write.js';

const src = join(repoRoot(), 'src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative import specifiers of a file, resolved to src-relative .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm)) {
    out.push(relative(src, normalize(join(dirname(file), m[1]!))).replace(/\.js$/, '.ts'));
  }
  return out;
}

const top = (rel: string): string | null => (rel.includes(sep) ? rel.split(sep)[0]! : null);

test('the layers place every folder of src/', () => {
  const layers = layerOrders();
  assert.ok(layers.size >= 12, `the layer table was read (${[...layers.keys()].join(', ')})`);
  for (const n of readdirSync(src)) {
    if (statSync(join(src, n)).isDirectory())
      assert.ok(layers.has(n), `src/${n}/ has no layer in scripts/architecture/layers.ts (then run npm run docs:architecture)`);
  }
});

test('no module under src/ imports a layer below its own', () => {
  const layers = layerOrders();
  const bad: string[] = [];
  for (const file of tsFiles(src)) {
    const me = relative(src, file);
    const myLayer = top(me);
    for (const target of importsOf(file)) {
      const theirs = top(target);
      if (target.startsWith('..')) bad.push(`${me} imports ${target}, outside src/`);
      else if (theirs === null) {
        if (myLayer !== null) bad.push(`${me} imports src/${target}: the public API facade is for users, not for the library`);
      } else if (myLayer !== null && layers.get(theirs)! > layers.get(myLayer)!) {
        bad.push(`${me} (layer ${layers.get(myLayer)}, src/${myLayer}) imports ${target} (layer ${layers.get(theirs)}, src/${theirs})`);
      } else if (myLayer === null && theirs === 'cli') bad.push(`${me} imports the CLI`);
    }
  }
  assert.deepEqual(bad, []);
});

test('src/ has no import cycle', () => {
  const graph = new Map(tsFiles(src).map((f) => [relative(src, f), importsOf(f)]));
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (n: string, path: string[]): void => {
    if (state.get(n) === 'done') return;
    if (state.get(n) === 'open') {
      cycles.push([...path.slice(path.indexOf(n)), n].join(' -> '));
      return;
    }
    state.set(n, 'open');
    for (const m of graph.get(n) ?? []) if (graph.has(m)) visit(m, [...path, n]);
    state.set(n, 'done');
  };
  for (const n of graph.keys()) visit(n, []);
  assert.deepEqual(cycles, []);
});

test('the check sees a violation when there is one', () => {
  // A guard against a check that passes because it reads nothing: the regex finds the imports
  // of a known file, and the table orders a known pair.
  const layers = layerOrders();
  assert.ok(importsOf(join(src, 'cli', 'sweep.ts')).some((t) => t.startsWith(`sweep${sep}`) || t.startsWith(`experiment${sep}`)));
  assert.ok(layers.get('torch')! < layers.get('train')! && layers.get('train')! < layers.get('cli')!);
});

test("src/sweep (the public tunevlseg/sweep) knows no learner: TuneVLSeg's spaces sit in src/experiment", () => {
  const reach = tsFiles(join(src, 'sweep')).flatMap((f) =>
    importsOf(f)
      .filter((t) => t.startsWith(`learners${sep}`))
      .map((t) => `${relative(src, f)} imports ${t}`),
  );
  assert.deepEqual(reach, []);
});

test("docs/architecture.md's layer table is what `npm run docs:architecture` writes", () => {
  const file = join(repoRoot(), 'docs', 'architecture.md');
  const page = readFileSync(file, 'utf8');
  const table = (text: string): string => text.slice(text.indexOf(TABLE_BEGIN), text.indexOf(TABLE_END));
  // Compared as tables (not whole pages) so that the failure shows the rows that differ.
  assert.equal(
    table(page),
    table(renderArchitecturePage(page, repoRoot())),
    'docs/architecture.md is stale: run `npm run docs:architecture`',
  );
});

test('the written table follows the code: a new module or folder changes it', () => {
  const table = layerTable(repoRoot());
  assert.match(table, /^\| 0 \| `src\/util\/` \| \d+ \| itself only \|/m);
  const withExtra = layerTable(repoRoot(), [
    { order: 0, folders: ['util'], holds: 'x' },
    { order: 1, folders: ['torch'], holds: 'y' },
  ]);
  const utilFiles = readdirSync(join(src, 'util')).filter((n) => n.endsWith('.ts')).length;
  assert.match(withExtra, new RegExp(`^\\| 0 \\| \`src/util/\` \\| ${utilFiles} \\| itself only \\| x \\|$`, 'm'));
  assert.match(withExtra, /^\| 1 \| `src\/torch\/` \| \d+ \| `util` \| y \|$/m);
  assert.throws(() => renderArchitecturePage('# no markers\n', repoRoot(), 'page.md'), /page\.md: the layer table's markers are missing/);
});

test('every CLI file is thin: at most 150 lines (parse flags, call one library function, print)', () => {
  const cli = join(repoRoot(), 'src', 'cli');
  const long = readdirSync(cli)
    .filter((n) => n.endsWith('.ts'))
    .map((n) => [n, readFileSync(join(cli, n), 'utf8').split('\n').length - 1] as const)
    .filter(([, lines]) => lines > 150);
  assert.deepEqual(long, [], `CLI files over 150 lines (move the work into the library or a flags module): ${JSON.stringify(long)}`);
});

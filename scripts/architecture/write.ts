// `npm run docs:architecture`: writes the layer table of docs/architecture.md from LAYERS
// (scripts/architecture/layers.ts) and the files under src/; `-- --check` only says whether the
// page is up to date (exit 1 when not). The page's prose around the table is written by hand.
import { readdirSync, readFileSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LAYERS, type Layer } from './layers.js';

export const TABLE_BEGIN = '<!-- layer table: written by `npm run docs:architecture` from scripts/architecture/layers.ts; edit there -->';
export const TABLE_END = '<!-- end of layer table -->';

/** The .ts modules under a folder, at any depth. */
function countModules(dir: string): number {
  return readdirSync(dir).reduce((n, name) => {
    const p = join(dir, name);
    return n + (statSync(p).isDirectory() ? countModules(p) : name.endsWith('.ts') ? 1 : 0);
  }, 0);
}

function mayImport(layer: Layer, layers: readonly Layer[]): string {
  const below = layers.filter((l) => l.order < layer.order).flatMap((l) => l.folders);
  if (below.length === 0) return 'itself only';
  const names = below.map((f) => `\`${f}\``);
  return names.length <= 2 ? names.join(', ') : `${names[0]} … ${names[names.length - 1]} (${names.length} folders)`;
}

/** The Markdown table (between the markers) for the layers and the src/ folder under root. */
export function layerTable(root: string, layers: readonly Layer[] = LAYERS): string {
  const src = join(root, 'src');
  const rows = [...layers]
    .sort((a, b) => a.order - b.order)
    .map((l) => {
      const folders = l.folders.map((f) => `\`src/${f}/\``).join(', ');
      const files = l.folders.map((f) => String(countModules(join(src, f)))).join(', ');
      return `| ${l.order} | ${folders} | ${files} | ${mayImport(l, layers)} | ${l.holds} |`;
    });
  return ['| order | folder | .ts files | may import | what lives there |', '|---|---|---|---|---|', ...rows].join('\n');
}

/** The page with its table replaced by what layerTable writes now; throws naming the file when the markers are missing. */
export function renderArchitecturePage(page: string, root: string, file = 'docs/architecture.md'): string {
  const begin = page.indexOf(TABLE_BEGIN);
  const end = page.indexOf(TABLE_END);
  if (begin < 0 || end < begin) {
    throw new Error(
      `${file}: the layer table's markers are missing (a line "${TABLE_BEGIN}" before the table and "${TABLE_END}" after it)`,
    );
  }
  return `${page.slice(0, begin + TABLE_BEGIN.length)}\n${layerTable(root)}\n${page.slice(end)}`;
}

function main(argv: string[]): number {
  const root = fileURLToPath(new URL('../../..', import.meta.url)); // dist/scripts/architecture/ -> the package
  const file = join(root, 'docs', 'architecture.md');
  const page = readFileSync(file, 'utf8');
  const next = renderArchitecturePage(page, root);
  if (argv.includes('--check')) {
    if (next === page) return 0;
    console.error(`${file}: the layer table differs from the code's layers: run \`npm run docs:architecture\``);
    return 1;
  }
  if (next === page) {
    console.log(`${file}: up to date`);
    return 0;
  }
  writeFileSync(`${file}.tmp`, next);
  renameSync(`${file}.tmp`, file);
  console.log(`${file}: layer table written (${LAYERS.length} layers)`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href)
  process.exitCode = main(process.argv.slice(2));

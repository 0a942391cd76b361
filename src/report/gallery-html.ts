/**
 * The galleries rendered: an HTML table per dataset whose thumbnails open larger with CSS only
 * (`:target`: a link to the tile's own id; the enlarged image is the same inline image, so the
 * page carries each picture once, and a full-window link closes it), and a Markdown summary.
 */
import type { Gallery, GalleryRank } from './gallery.js';
import { htmlEscape } from './tables-render.js';

const RANK: Record<GalleryRank, string> = { best: 'Best', median: 'Median', worst: 'Worst' };

const pct = (d: number | null): string => (d === null ? '–' : `${(d * 100).toFixed(1)}%`);

/** The CSS the galleries need (zoom included); part of the report's one stylesheet. */
export const GALLERY_CSS = `
.gallery { border-collapse: collapse; margin: 6px 0 18px; }
.gallery th { text-align: center; font-weight: 600; padding: 2px 6px; font-size: 12.5px; vertical-align: bottom; }
.gallery th.zero-shot { font-style: italic; }
.gallery td { padding: 4px 6px; vertical-align: top; font-size: 12px; text-align: center; }
.gallery td.info { max-width: 200px; color: var(--muted); text-align: left; }
.gallery tr.median td, .gallery tr.worst td { border-top: 1px solid var(--line); }
.tile { margin: 0; }
.tile img { display: block; margin: 0 auto; border: 1px solid var(--line); height: auto; image-rendering: pixelated; cursor: zoom-in;
  /* As wide as asked, but narrower when the columns would not fit the page (many methods). */
  width: min(var(--thumb), calc((min(100vw, 1400px) - 260px) / var(--cols) - 14px)); min-width: 48px; }
.tile figcaption { font-variant-numeric: tabular-nums; margin-top: 2px; }
.tile .close, .tile .what { display: none; }
.tile:target .what { display: inline; }
.tile:target .close { display: block; position: fixed; inset: 0; z-index: 10; background: rgba(0, 0, 0, 0.82); cursor: zoom-out; }
.tile:target .close span { position: absolute; top: 12px; right: 18px; color: #fff; font-size: 14px; }
.tile:target .open img { position: fixed; z-index: 11; left: 50%; top: 50%; transform: translate(-50%, -50%); width: min(88vw, 88vh); max-height: 88vh; object-fit: contain; pointer-events: none; border: 0; }
.tile:target figcaption { position: fixed; z-index: 11; left: 0; right: 0; bottom: 16px; color: #fff; font-size: 15px; pointer-events: none; }
.legend-swatch { display: inline-block; width: 11px; height: 11px; vertical-align: -1px; margin: 0 3px 0 6px; border: 1px solid #555; }
`;

function tile(id: string, back: string, uri: string | null, alt: string, caption: string, what: string): string {
  if (!uri) return '<span class="missing" title="no prediction of this image">–</span>';
  return (
    `<figure class="tile" id="${id}"><a class="open" href="#${id}" aria-label="enlarge ${htmlEscape(alt)}"><img src="${uri}" alt="${htmlEscape(alt)}"></a>` +
    `<a class="close" href="#${back}" aria-label="close"><span>close ✕</span></a><figcaption><span class="what">${htmlEscape(what)}: </span>${htmlEscape(caption)}</figcaption></figure>`
  );
}

/** One dataset's gallery as HTML (`width`: thumbnail display width in px). */
export function galleryHtml(g: Gallery, width: number): string {
  const ds = htmlEscape(g.dataset);
  const back = `gallery-${ds}`;
  const head = [
    '<th></th><th>Ground truth</th>',
    ...g.columns.map((c) => `<th class="${c.kind}" scope="col">${htmlEscape(c.label)}</th>`),
  ].join('');
  const rows = g.rows.map((r, i) => {
    const cells = [
      `<td class="info"><b>${RANK[r.rank]}</b><br>mean Dice ${pct(r.meanDice)}<br><code>${htmlEscape(r.name)}</code>${r.prompt ? `<br>“${htmlEscape(r.prompt)}”` : ''}</td>`,
      `<td>${tile(`g-${ds}-${i}-gt`, back, r.groundTruth, `${g.datasetLabel} ${r.name}: ground truth`, 'ground truth', r.name)}</td>`,
      ...r.tiles.map(
        (t, j) =>
          `<td>${tile(`g-${ds}-${i}-${j}`, back, t.uri, `${g.datasetLabel} ${r.name}: ${g.columns[j]!.label}, Dice ${pct(t.dice)}`, `Dice ${pct(t.dice)}`, `${r.name}, ${g.columns[j]!.label}`)}</td>`,
      ),
    ];
    return `<tr class="${r.rank}">${cells.join('')}</tr>`;
  });
  const methods = g.columns.filter((c) => c.kind === 'method').length;
  return [
    `<h3 id="${back}">${htmlEscape(g.datasetLabel)}</h3>`,
    `<p class="meta">${g.rows.length} of ${g.samples} test images, chosen by their mean Dice over the ${methods} tuned method${methods === 1 ? '' : 's'} (best, median, worst). ` +
      `Prediction<span class="legend-swatch" style="background: rgb(230, 159, 0)"></span>tinted, ground truth<span class="legend-swatch" style="background: rgb(0, 114, 178)"></span>outlined. Click an image to enlarge it.</p>`,
    `<table class="gallery" data-dataset="${ds}" style="--thumb: ${width}px; --cols: ${g.columns.length + 1}"><thead><tr>${head}</tr></thead><tbody>`,
    ...rows,
    '</tbody></table>',
    g.notes.length ? `<ul class="notes">${g.notes.map((n) => `<li>${htmlEscape(n)}</li>`).join('')}</ul>` : '',
  ].join('\n');
}

/** The galleries in Markdown: the chosen images and each column's Dice (the images are in report.html). */
export function galleryMarkdown(gs: readonly Gallery[]): string[] {
  const out: string[] = ['## Predictions', '', 'Test images by mean Dice over the tuned methods (images in report.html):', ''];
  for (const g of gs) {
    out.push(
      `**${g.datasetLabel}**`,
      '',
      `| image | ${g.columns.map((c) => c.label).join(' | ')} |`,
      `| --- | ${g.columns.map(() => '---:').join(' | ')} |`,
    );
    for (const r of g.rows) out.push(`| ${RANK[r.rank]}: \`${r.name}\` | ${r.tiles.map((t) => pct(t.dice)).join(' | ')} |`);
    out.push('');
  }
  return out;
}

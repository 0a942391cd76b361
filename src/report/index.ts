/** Result tables, figures and the HTML report of a bench folder (docs/report.md). No libtorch needed. */
export * from './load.js';
export * from './tables.js';
export * from './figures.js';
export * from './gallery.js';
export * from './html.js';
export * from './tsne.js';
export * from './stats.js';
export * from './paper.js';
export * from './protocol.js';

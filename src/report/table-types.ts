// The shape of a result table (Tables 3-5): built by tables.ts, rendered by tables-render.ts.

export interface TableValue {
  /** In percent. */
  mean: number;
  /** Sample std (over seeds for a cell, over datasets for a Mean ± Std summary); null: none. */
  std: number | null;
  n: number;
}

export interface TableColumn {
  key: string;
  label: string;
}

/** method: a tuned cell; reference: a published number; baseline: an untuned score of this bench (zero-shot, trivial); average. */
export type RowKind = 'method' | 'reference' | 'baseline' | 'average';

export interface TableRow {
  kind: RowKind;
  /** One per label column. */
  labels: string[];
  values: Array<TableValue | null>;
  summary: TableValue | null;
  /** The summary covers fewer columns than the table has (some cells are missing). */
  partial: boolean;
  bold: boolean[];
  summaryBold: boolean;
  /** The cell folder behind each value (method rows), for tracing a number back. */
  cells: Array<string | null>;
  /** Rows of one group (Table 3's method family) form a block, set off from the next. */
  group?: string;
}

export interface ResultTable {
  id: string;
  title: string;
  caption: string;
  labelHeaders: string[];
  /** Column groups over the data columns (contiguous spans), or null. */
  groups: Array<{ label: string; span: number }> | null;
  columns: TableColumn[];
  summaryHeader: string;
  /** The summary column is mean ± std over the row's columns (Tables 4, 5) rather than a mean. */
  summaryStd: boolean;
  rows: TableRow[];
  notes: string[];
  digits: number;
}

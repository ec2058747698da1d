/**
 * patronictl's output formats: `pretty` (a PrettyTable-like ASCII table whose top border carries the
 * title, e.g. `+ Cluster: demo (7268...) ---+`), `tsv`, `json` and `yaml`. Operators parse the
 * machine formats, so key names and the omission rules follow patronictl's print_output.
 */
import Table from 'cli-table3';
import { stringify } from 'yaml';
import { pythonJsonDumps } from '@pgha/core';

export const OUTPUT_FORMATS = ['pretty', 'tsv', 'json', 'yaml', 'yml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number] | 'topology';
/** A table value: strings and numbers; objects (tags) stay objects in json/yaml output. */
export type Cell = unknown;
export type Align = 'l' | 'r' | 'c';

const ASCII_CHARS = {
  top: '-', 'top-mid': '+', 'top-left': '+', 'top-right': '+',
  bottom: '-', 'bottom-mid': '+', 'bottom-left': '+', 'bottom-right': '+',
  left: '|', 'left-mid': '+', mid: '-', 'mid-mid': '+', right: '|', 'right-mid': '+', middle: '|',
};

const ALIGN_NAMES = { l: 'left', r: 'right', c: 'center' } as const;

/** PyYAML's safe_dump as patronictl calls it: sorted keys, block style (or flow), width 200. */
export function formatYaml(data: unknown, flow = false): string {
  return stringify(data, {
    version: '1.1', sortMapEntries: true, singleQuote: true, lineWidth: 200, indentSeq: false, collectionStyle: flow ? 'flow' : 'block',
  });
}

function cellText(v: Cell): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/**
 * An ASCII table with a frame; rows are separated only when a cell spans several lines (PrettyTable
 * FRAME vs ALL). A title replaces the start of the top border, as patronictl's header does.
 */
export function prettyTable(columns: readonly string[], rows: readonly (readonly Cell[])[], o: { title?: string; align?: Readonly<Record<string, Align>> } = {}): string {
  const text = rows.map((r) => columns.map((_, i) => cellText(r[i])));
  const multiline = text.some((r) => r.some((c) => c.includes('\n')));
  const table = new Table({
    head: [...columns],
    chars: ASCII_CHARS,
    colAligns: columns.map((c) => ALIGN_NAMES[o.align?.[c] ?? 'l']),
    style: { head: [], border: [], compact: !multiline, 'padding-left': 1, 'padding-right': 1 },
  });
  for (const r of text) table.push(r);
  const lines = table.toString().split('\n');
  if (o.title && lines.length) {
    const top = lines[0]!;
    const title = o.title.slice(0, top.length - 2);
    lines[0] = top[0] + title + top.slice(1 + title.length);
  }
  return lines.join('\n');
}

export interface PrintOptions {
  readonly fmt: OutputFormat;
  /** Table title; when set, machine formats drop empty values (as patronictl's list does). */
  readonly title?: string;
  readonly align?: Readonly<Record<string, Align>>;
  readonly delimiter?: string;
}

/** Render columns and rows in the requested format, as the text to print. */
export function formatOutput(columns: readonly string[] | null, rows: readonly (readonly Cell[])[], o: PrintOptions): string {
  const cols = columns ?? [];
  if (o.fmt === 'json' || o.fmt === 'yaml' || o.fmt === 'yml') {
    const elements = rows.map((r) => {
      const e: Record<string, unknown> = {};
      cols.forEach((c, i) => {
        const v = r[i];
        if (!o.title || cellText(v) !== '') e[c] = v ?? null;
      });
      return e;
    });
    // click.echo(json.dumps(...)): Python's separators, so scripts that compare text see patronictl's bytes.
    return o.fmt === 'json' ? pythonJsonDumps(elements) : formatYaml(elements).replace(/\n$/, '');
  }
  // `list` tables start with the Cluster column; pretty output shows it in the title instead.
  const listCluster = !!o.title && cols[0] === 'Cluster';
  let c = cols;
  let r = rows;
  if (listCluster && o.fmt !== 'tsv') {
    c = cols.slice(1);
    r = rows.map((x) => x.slice(1));
  }
  if (o.fmt === 'tsv') {
    const d = o.delimiter ?? '\t';
    return [...(columns ? [c] : []), ...r].map((x) => x.map((v) => cellText(v)).join(d)).join('\n');
  }
  // PrettyTable names unnamed columns `Field 1`, `Field 2`... (query's error rows have no header).
  if (!columns && r.length) c = r[0]!.map((_, i) => `Field ${i + 1}`);
  return prettyTable(c, r, { title: o.title, align: o.align });
}

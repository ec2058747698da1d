/**
 * pgha's own measurements for `GET /metrics`: how long each HA cycle takes and how long each DCS
 * call takes. The agent records into one `HaMetrics`; the API renders it. Recording is O(buckets)
 * and allocation-free, so it can sit on the hot path of every cycle and every DCS call.
 */

/** HA cycle: from gathering facts to publishing the member key (loop_wait is usually 10 s). */
export const LOOP_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** One DCS round trip (retry_timeout is usually 10 s). */
export const DCS_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A Prometheus histogram: counts per upper bound (not cumulative here; rendering accumulates). */
export class Histogram {
  private readonly counts: number[];
  private total = 0;
  private n = 0;

  constructor(readonly buckets: readonly number[]) {
    this.counts = new Array<number>(buckets.length + 1).fill(0);
  }

  observe(value: number): void {
    if (!Number.isFinite(value) || value < 0) return;
    let i = 0;
    while (i < this.buckets.length && value > this.buckets[i]!) i++;
    this.counts[i]!++;
    this.total += value;
    this.n++;
  }

  get count(): number { return this.n; }
  get sum(): number { return this.total; }

  /** `[le, cumulative count]` pairs, ending with `+Inf`. */
  cumulative(): Array<[string, number]> {
    let acc = 0;
    const out: Array<[string, number]> = [];
    this.buckets.forEach((b, i) => { acc += this.counts[i]!; out.push([String(b), acc]); });
    out.push(['+Inf', this.n]);
    return out;
  }
}

/** A DCS operation name as a label value: `load cluster` -> `load_cluster`. */
export function operationLabel(what: string): string {
  return what.trim().toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '') || 'unknown';
}

/** Distinct DCS operations kept; the facade has about 20, so this only guards against a runaway caller. */
const MAX_OPERATIONS = 64;

export class HaMetrics {
  readonly loop = new Histogram(LOOP_BUCKETS);
  private readonly dcs = new Map<string, { duration: Histogram; errors: number }>();
  /** Operation name -> label, so a call costs no regular expression after the first. */
  private readonly labels = new Map<string, string>();

  observeLoop(seconds: number): void { this.loop.observe(seconds); }

  observeDcsCall(operation: string, seconds: number, ok: boolean): void {
    let op = this.labels.get(operation);
    if (op === undefined) {
      op = operationLabel(operation);
      if (this.labels.size < MAX_OPERATIONS) this.labels.set(operation, op);
    }
    let entry = this.dcs.get(op);
    if (!entry) {
      if (this.dcs.size >= MAX_OPERATIONS) return;
      entry = { duration: new Histogram(DCS_BUCKETS), errors: 0 };
      this.dcs.set(op, entry);
    }
    entry.duration.observe(seconds);
    if (!ok) entry.errors++;
  }

  /** Operations in name order, so the output is stable between scrapes. */
  dcsOperations(): Array<[string, { readonly duration: Histogram; readonly errors: number }]> {
    return [...this.dcs.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

/**
 * Linearizability checker for one register with read, write and compare-and-swap, in the style of
 * Wing & Gong / Lowe (and Knossos): depth-first search for a total order that respects real time
 * (an operation that completed before another was invoked comes first) and the register's
 * sequential semantics, memoizing (set of linearized operations, register value) to prune.
 *
 * Operations whose completion is unknown (timeout, crash) have `complete: null`: they may take
 * effect at any point after their invocation, or never (unless `tookEffect`); a result, when
 * recorded, is checked either way.
 */
export type RegisterOp =
  | { readonly kind: 'read'; readonly result?: string | null }
  | { readonly kind: 'write'; readonly value: string }
  | { readonly kind: 'cas'; readonly expected: string | null; readonly value: string; readonly result?: boolean };

export interface HistoryOp {
  readonly op: RegisterOp;
  readonly client: number;
  readonly invoke: number;
  /** Completion time, or null when the client never learned the outcome. */
  readonly complete: number | null;
  /** Known to have taken effect (e.g. found in the log) although the client timed out. */
  readonly tookEffect?: boolean;
}

export interface CheckResult {
  readonly ok: boolean;
  /** Search states visited (to spot histories too large to check). */
  readonly explored: number;
}

type Value = string | null;

/** Apply `op` to `state`: the new state, or null when the recorded result contradicts it. */
function step(op: RegisterOp, state: Value): Value | undefined {
  switch (op.kind) {
    case 'read':
      return op.result === undefined || op.result === state ? state : undefined;
    case 'write':
      return op.value;
    case 'cas': {
      const swapped = state === op.expected;
      if (op.result !== undefined && op.result !== swapped) return undefined;
      return swapped ? op.value : state;
    }
  }
}

export function checkLinearizable(history: readonly HistoryOp[], initial: Value = null, budget = 2_000_000): CheckResult {
  const ops = history.map((h) => ({ ...h, end: h.complete ?? Infinity, determinate: h.complete !== null || !!h.tookEffect }));
  const n = ops.length;
  const mustDo = ops.filter((o) => o.determinate).length;
  const done = new Uint8Array(n);
  const memo = new Set<string>();
  let explored = 0;

  const search = (state: Value, doneDeterminate: number): boolean => {
    if (doneDeterminate === mustDo) return true;
    if (++explored > budget) throw new Error(`linearizability check exceeded ${budget} states`);
    let minEnd = Infinity;
    for (let i = 0; i < n; i++) if (!done[i] && ops[i]!.end < minEnd) minEnd = ops[i]!.end;
    for (let i = 0; i < n; i++) {
      const o = ops[i]!;
      // Candidates: not yet linearized and invoked before every pending operation's completion.
      if (done[i] || o.invoke > minEnd) continue;
      const next = step(o.op, state);
      if (next === undefined) continue;
      done[i] = 1;
      const key = `${String(next)}|${Buffer.from(done).toString('base64')}`;
      if (!memo.has(key)) {
        memo.add(key);
        if (search(next, doneDeterminate + (o.determinate ? 1 : 0))) return true;
      }
      done[i] = 0;
    }
    return false;
  };

  return { ok: search(initial, 0), explored };
}

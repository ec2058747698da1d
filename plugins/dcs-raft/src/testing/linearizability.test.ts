import { describe, expect, it } from 'vitest';
import { checkLinearizable, type HistoryOp } from './linearizability.js';

const op = (client: number, invoke: number, complete: number | null, o: HistoryOp['op'], tookEffect?: boolean): HistoryOp => ({ client, invoke, complete, op: o, ...(tookEffect ? { tookEffect } : {}) });

describe('linearizability checker (CAS register)', () => {
  it('accepts overlapping operations that can be ordered', () => {
    const h = [
      op(0, 0, 10, { kind: 'write', value: 'a' }),
      op(1, 5, 20, { kind: 'cas', expected: 'a', value: 'b', result: true }),
      op(2, 6, 15, { kind: 'read', result: 'a' }),
      op(2, 21, 25, { kind: 'read', result: 'b' }),
    ];
    expect(checkLinearizable(h).ok).toBe(true);
  });

  it('rejects a stale read after a completed write', () => {
    const h = [op(0, 0, 10, { kind: 'write', value: 'a' }), op(1, 11, 12, { kind: 'read', result: null })];
    expect(checkLinearizable(h).ok).toBe(false);
  });

  it('rejects two successful CAS from the same expected value', () => {
    const h = [
      op(0, 0, 1, { kind: 'write', value: 'a' }),
      op(1, 2, 10, { kind: 'cas', expected: 'a', value: 'b', result: true }),
      op(2, 2, 10, { kind: 'cas', expected: 'a', value: 'c', result: true }),
    ];
    expect(checkLinearizable(h).ok).toBe(false);
  });

  it('lets an unknown-outcome write explain a later read, or be left out', () => {
    const w = op(0, 0, null, { kind: 'write', value: 'a' });
    expect(checkLinearizable([w, op(1, 50, 51, { kind: 'read', result: 'a' })]).ok).toBe(true);
    expect(checkLinearizable([w, op(1, 50, 51, { kind: 'read', result: null })]).ok).toBe(true);
    // ...unless it is known to have taken effect, and it cannot precede its invocation.
    expect(checkLinearizable([op(0, 0, null, { kind: 'write', value: 'a' }, true), op(1, 50, 51, { kind: 'read', result: null }), op(1, 52, 53, { kind: 'read', result: 'x' })]).ok).toBe(false);
    expect(checkLinearizable([op(1, 0, 1, { kind: 'read', result: 'a' }), op(0, 5, null, { kind: 'write', value: 'a' })]).ok).toBe(false);
  });

  it('a failed CAS needs a different value at its linearization point', () => {
    const h = [op(0, 0, 1, { kind: 'write', value: 'a' }), op(1, 2, 3, { kind: 'cas', expected: 'a', value: 'b', result: false })];
    expect(checkLinearizable(h).ok).toBe(false);
  });
});

/** Timeline history files: parsing, and telling two histories with the same timeline number apart. */
import { describe, expect, it } from 'vitest';
import { parseTimelineHistory, sameHistory } from './divergence.js';

describe('timeline history', () => {
  const a = '1\t0/3000000\tno recovery target specified\n\n2\t0/5000060\tno recovery target specified\n';
  it('parses parent timelines and switch points', () => {
    expect(parseTimelineHistory(a)).toEqual([[1, 0x3000000n, 'no recovery target specified'], [2, 0x5000060n, 'no recovery target specified']]);
  });
  it('the same timeline number with another switch point is another history (a collision)', () => {
    expect(sameHistory(a, a.replace(/\t+no recovery target specified/g, '\treason'))).toBe(true);
    expect(sameHistory(a, a.replace('0/5000060', '0/5000108'))).toBe(false);
    expect(sameHistory(a, '1\t0/3000000\tx\n')).toBe(false);
  });
});

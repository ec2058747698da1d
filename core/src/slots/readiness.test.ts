import { describe, expect, it } from 'vitest';
import { readyLogicalSlots } from './readiness.js';

describe('logical slot copies safe after a failover (Patroni _ready_logical_slots)', () => {
  const standby = new Map([['cdc', '750'], ['old', '700']]);
  it.each<[string, Map<string, string | null>, string | null, string[]]>([
    ['primary xmin <= physical <= copy: safe', new Map([['cdc', '700']]), '720', ['cdc']],
    ['physical slot has no catalog_xmin yet (no feedback)', new Map([['cdc', '700']]), null, []],
    ['physical behind the primary\'s logical slot', new Map([['cdc', '700']]), '690', []],
    ['physical ahead of the copy: the copy may need rows already gone', new Map([['cdc', '700']]), '760', []],
    ['the primary\'s xmin not known yet', new Map([['cdc', null]]), '720', []],
    ['a copy that is gone is no longer pending', new Map([['gone', null]]), null, ['gone']],
    ['several at once', new Map([['cdc', '700'], ['old', '710']]), '720', ['cdc']],
  ])('%s', (_n, pending, physical, want) => {
    expect(readyLogicalSlots(pending, physical, standby)).toEqual(want);
  });
});

import { describe, expect, it } from 'vitest';
import { jsonTextDepthExceeds, parseJsonBounded } from './json.js';

const nested = (levels: number, open = '{"a":', close = '}') => open.repeat(levels) + '1' + close.repeat(levels);

describe('jsonTextDepthExceeds', () => {
  it.each([
    ['a flat object', '{"a":1,"b":"x"}', 2, false],
    ['exactly the limit', nested(3), 3, false],
    ['one past the limit', nested(4), 3, true],
    ['arrays count as levels', '[[[[1]]]]', 3, true],
    ['mixed brackets', '{"a":[{"b":[1]}]}', 3, true],
    ['many siblings, shallow', `[${Array.from({ length: 200 }, () => '{}').join(',')}]`, 3, false],
    ['brackets inside strings do not nest', `{"a":"${'{['.repeat(100)}"}`, 3, false],
    ['an escaped quote does not end the string', `{"a":"\\"${'{'.repeat(100)}"}`, 3, false],
    ['deep after a string with brackets', `{"s":"[[[[",${'"x":{'.repeat(4)}1${'}'.repeat(4)}}`, 3, true],
  ])('%s', (_what, text, limit, exceeds) => {
    expect(jsonTextDepthExceeds(text, limit)).toBe(exceeds);
  });

  it('parseJsonBounded refuses a value nested deeper than maxDepth and parses one at it', () => {
    expect(parseJsonBounded(nested(5), { maxDepth: 4 })).toEqual({ ok: false, reason: 'nested deeper than 4 levels' });
    expect(parseJsonBounded(nested(4), { maxDepth: 4 })).toMatchObject({ ok: true });
  });
});

import { describe, expect, it } from 'vitest';
import { BASEBACKUP_NOT_ALLOWED, INITDB_NOT_ALLOWED, processUserOptions } from './user-options.js';

function run(options: unknown, notAllowed: readonly string[] = []) {
  const errors: string[] = [];
  const args = processUserOptions('foo', options, notAllowed, (m) => errors.push(m));
  return { args, errors };
}

describe('processUserOptions (the seed examples)', () => {
  it('dict of key/values', () => expect(run({ foo: 'bar' })).toEqual({ args: ['--foo=bar'], errors: [] }));
  it('list of single strings', () => expect(run(['yes'])).toEqual({ args: ['--yes'], errors: [] }));
  it('list of key/value dicts', () => expect(run([{ foo: 'bar' }])).toEqual({ args: ['--foo=bar'], errors: [] }));
  it('combination of strings and key/values', () => expect(run(['yes', { foo: 'bar' }])).toEqual({ args: ['--yes', '--foo=bar'], errors: [] }));
  it('values with spaces stay one argv element', () => expect(run([{ foo: 'bar baz' }]).args).toEqual(['--foo=bar baz']));
  it('quoted values are unquoted once', () => {
    expect(run([{ foo: '"bar baz"' }]).args).toEqual(['--foo=bar baz']);
    expect(run({ foo: "'bar baz'" }).args).toEqual(['--foo=bar baz']);
    expect(run([{ foo: '""x""' }]).args).toEqual(['--foo="x"']);
  });
});

describe('processUserOptions error cases', () => {
  it('a multi-key dict in the list form', () => {
    const r = run([{ foo: 'bar', baz: 'qux' }, 'ok']);
    expect(r.args).toEqual(['--ok']);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatch(/only one key-value is allowed/);
  });
  it('a non-string value in the list form', () => {
    const r = run([{ foo: 1 }]);
    expect(r.args).toEqual([]);
    expect(r.errors[0]).toMatch(/value should be a string/);
  });
  it('wrong item types in the list', () => {
    const r = run([1, null, ['x']]);
    expect(r.args).toEqual([]);
    expect(r.errors).toHaveLength(3);
    expect(r.errors[0]).toMatch(/value should be string value or a single key-value pair/);
  });
  it('options that are neither a list nor a dict', () => {
    for (const bad of ['--foo', 42, null, true]) {
      const r = run(bad);
      expect(r.args).toEqual([]);
      expect(r.errors).toEqual(['foo options must be list or dict']);
    }
  });
  it('not-allowed keys in every form', () => {
    const r = run({ pgdata: '/x', encoding: 'UTF8' }, INITDB_NOT_ALLOWED);
    expect(r.args).toEqual(['--encoding=UTF8']);
    expect(r.errors).toEqual(['pgdata option for foo is not allowed']);
    expect(run(['nosync', { 'sync-only': 'x' }, { pwfile: 'y' }, 'version'], INITDB_NOT_ALLOWED).errors).toHaveLength(4);
    expect(run([{ 'wal-method': 'fetch' }, { 'max-rate': '100M' }], BASEBACKUP_NOT_ALLOWED).args).toEqual(['--max-rate=100M']);
  });
  it('an initdb-style handler that throws stops processing', () => {
    expect(() => processUserOptions('initdb', ['pgdata'], INITDB_NOT_ALLOWED, (m) => { throw new Error(m); })).toThrow('pgdata option for initdb is not allowed');
  });
});

describe('processUserOptions dict details', () => {
  it('keeps the written order, skips empty values, numbers are stringified, true is a bare flag', () => {
    expect(run({ encoding: 'UTF8', 'data-checksums': true, empty: '', none: null, 'max-rate': 100 }).args)
      .toEqual(['--encoding=UTF8', '--data-checksums', '--max-rate=100']);
  });
});

import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStorage } from './file-storage.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'pgha-raft-fs-'));
  dirs.push(d);
  return d;
};
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

const e = (index: number, term: number, data = `d${index}`) => ({ index, term, data });

describe('FileStorage', () => {
  it('keeps term, vote, log truncations and snapshots across reopen', () => {
    const dir = tempDir();
    const a = new FileStorage(dir);
    expect(a.load()).toEqual({ hard: { term: 0, votedFor: null }, snapshot: null, entries: [] });
    a.save([{ kind: 'hard', hard: { term: 2, votedFor: 'n2' } }, { kind: 'append', from: 1, entries: [e(1, 1), e(2, 1), e(3, 2)] }]);
    a.save([{ kind: 'append', from: 3, entries: [e(3, 3), e(4, 3)] }]);
    a.close();
    const b = new FileStorage(dir);
    expect(b.load()).toEqual({ hard: { term: 2, votedFor: 'n2' }, snapshot: null, entries: [e(1, 1), e(2, 1), e(3, 3), e(4, 3)] });
    b.save([{ kind: 'snapshot', snapshot: { index: 2, term: 1, data: 'img' } }]);
    b.save([{ kind: 'append', from: 5, entries: [e(5, 3)] }]);
    b.close();
    const c = new FileStorage(dir);
    expect(c.load()).toEqual({ hard: { term: 2, votedFor: 'n2' }, snapshot: { index: 2, term: 1, data: 'img' }, entries: [e(3, 3), e(4, 3), e(5, 3)] });
    c.close();
  });

  it('ignores a torn last record', () => {
    const dir = tempDir();
    const a = new FileStorage(dir);
    a.load();
    a.save([{ kind: 'append', from: 1, entries: [e(1, 1)] }]);
    a.close();
    appendFileSync(join(dir, 'log.jsonl'), '{"e":{"index":2,"te');
    const b = new FileStorage(dir);
    expect(b.load().entries).toEqual([e(1, 1)]);
    b.close();
  });
});

/**
 * The callback executor with real processes: one at a time, a newer call kills the running one
 * (process group) and starts once it is gone, the newest of several pending calls wins, leftovers
 * of a finished callback are killed, and on_reload runs beside the others (Patroni's OnReloadExecutor).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CallbackRunner, silentLogger } from '@pgha/core';
import { waitFor } from '../helpers/procs.js';

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const started: number[] = [];
afterEach(() => { for (const pid of started.splice(0)) try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } });

function setup(script: string) {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-cb-'));
  const out = join(dir, 'out');
  writeFileSync(out, '');
  writeFileSync(join(dir, 'cb.sh'), `OUT=${out}\n${script}\n`);
  const cmd = `sh ${join(dir, 'cb.sh')}`;
  const runner = new CallbackRunner(() => ({ on_start: cmd, on_stop: cmd, on_restart: cmd, on_role_change: cmd, on_reload: cmd }), 'demo', silentLogger);
  const lines = () => readFileSync(out, 'utf8').split('\n').filter(Boolean);
  return { runner, lines, dir };
}

describe('CallbackRunner (Patroni CallbackExecutor)', () => {
  it('a newer callback kills the running one and starts only after it is gone', async () => {
    const { runner, lines } = setup('echo "begin $1 $$" >> $OUT; sleep 30; echo "end $1" >> $OUT');
    runner.call('on_start', 'replica');
    await waitFor(() => lines().length === 1, 5000, 'on_start to begin');
    const first = Number(lines()[0]!.split(' ')[2]);
    started.push(first);
    runner.call('on_role_change', 'promoted');
    await waitFor(() => lines().length === 2, 5000, 'on_role_change to begin');
    started.push(Number(lines()[1]!.split(' ')[2]));
    expect(alive(first)).toBe(false);
    expect(lines().map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(['begin on_start', 'begin on_role_change']);
  });

  it('of several calls arriving while one is being killed, only the newest runs', async () => {
    const { runner, lines } = setup('echo "begin $1 $2 $3" >> $OUT; trap "" TERM; sleep 30');
    runner.call('on_start', 'replica');
    await waitFor(() => lines().length === 1, 5000, 'on_start to begin');
    runner.call('on_stop', 'replica');
    runner.call('on_restart', 'replica');
    runner.call('on_role_change', 'promoted');
    await waitFor(() => lines().length === 2, 5000, 'the newest call');
    started.push(runner.running.main!);
    await new Promise((r) => setTimeout(r, 500));
    expect(lines()).toEqual(['begin on_start replica demo', 'begin on_role_change primary demo']);
  });

  it('kills what a finished callback left running (its process group)', async () => {
    const { runner, lines } = setup('sleep 60 & echo "child $!" >> $OUT');
    runner.call('on_start', 'replica');
    await waitFor(() => lines().length === 1, 5000, 'the callback to start its child');
    const child = Number(lines()[0]!.split(' ')[1]);
    await waitFor(() => !alive(child), 5000, 'the leftover child to be killed');
  });

  it('on_reload runs beside an on_role_change and only replaces another on_reload', async () => {
    const { runner, lines } = setup('echo "begin $1 $$" >> $OUT; sleep 30; echo "end $1" >> $OUT');
    runner.call('on_role_change', 'promoted');
    await waitFor(() => lines().length === 1, 5000, 'on_role_change');
    const roleChange = Number(lines()[0]!.split(' ')[2]);
    started.push(roleChange);
    runner.call('on_reload', 'primary');
    await waitFor(() => lines().length === 2, 5000, 'on_reload');
    const reload1 = Number(lines()[1]!.split(' ')[2]);
    started.push(reload1);
    expect(alive(roleChange)).toBe(true);
    runner.call('on_reload', 'primary');
    await waitFor(() => lines().length === 3, 5000, 'the second on_reload');
    started.push(Number(lines()[2]!.split(' ')[2]));
    expect(alive(reload1)).toBe(false);
    expect(alive(roleChange)).toBe(true);
  });

  it('a command that cannot start does not block the next one', async () => {
    const { lines, dir } = setup('echo "ran $1" >> $OUT');
    const runner = new CallbackRunner(() => ({ on_start: '/nonexistent/cb', on_stop: `sh ${join(dir, 'cb.sh')}` }), 'demo', silentLogger);
    runner.call('on_start', 'replica');
    runner.call('on_stop', 'replica');
    await waitFor(() => lines().length === 1, 5000, 'on_stop');
    expect(lines()).toEqual(['ran on_stop']);
  });
});

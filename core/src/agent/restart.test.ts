import { describe, expect, it } from 'vitest';
import { restartMismatch, scheduledRestartData } from './restart.js';

const primary15 = { role: 'primary', serverVersion: 150010, pendingRestart: false };

describe('restart filters (Patroni restart_matches)', () => {
  it.each<[string, Parameters<typeof restartMismatch>[0], string | null]>([
    ['no filter', {}, null],
    ['role matches', { role: 'primary' }, null],
    ['master means primary', { role: 'master' }, null],
    ['role differs', { role: 'replica' }, 'host role mismatch'],
    ['running an older version than asked: restart', { postgresVersion: '15.11' }, null],
    ['running that version already', { postgresVersion: '15.10' }, 'postgres version mismatch'],
    ['running a newer one', { postgresVersion: '15.2' }, 'postgres version mismatch'],
    ['a newer major', { postgresVersion: '16.0' }, null],
    ['pending restart asked, none pending', { restartPending: true }, 'pending restart flag is not set'],
  ])('%s', (_n, req, want) => {
    expect(restartMismatch(req, primary15)).toBe(want);
  });

  it('pending restart set; unknown server version never matches a version filter', () => {
    expect(restartMismatch({ restartPending: true }, { ...primary15, pendingRestart: true })).toBeNull();
    expect(restartMismatch({ postgresVersion: '99.0' }, { ...primary15, serverVersion: null })).toBe('postgres version mismatch');
    expect(restartMismatch({ role: 'primary' }, null)).toBe('host role mismatch');
  });

  it('a scheduled restart keeps every filter and the timeout', () => {
    expect(scheduledRestartData({ role: 'replica', postgresVersion: '15.4', timeout: 30, restartPending: true })).toEqual({
      schedule: null, role: 'replica', postgres_version: '15.4', timeout: 30, restart_pending: true,
    });
  });
});

describe('the restart timeout is that start\'s primary_start_timeout', async () => {
  const { decide } = await import('../ha/decide.js');
  const { runningPrimary, scenario } = await import('../ha/scenario.js');
  it('a starting primary waits for the restart timeout, not the configured one', () => {
    const starting = { ...runningPrimary, starting: true };
    const p = decide(scenario({ pg: starting, settings: { primaryStartTimeout: 300 }, memory: { startedAt: 1_000_000 - 4_000, startTimeout: 10 } })).plan;
    expect(p.message).toBe('PostgreSQL is still starting up, 6 seconds until timeout');
    expect(decide(scenario({ pg: starting, settings: { primaryStartTimeout: 300 }, memory: { startedAt: 1_000_000 - 4_000 } })).plan.message)
      .toBe('PostgreSQL is still starting up, 296 seconds until timeout');
  });
  it('is forgotten once PostgreSQL runs', () => {
    expect(decide(scenario({ pg: runningPrimary, memory: { recovering: true, startTimeout: 10 } })).memory).toMatchObject({ recovering: false, startTimeout: undefined });
  });
  it('a restart request starts the deadline (an event, folded into memory by the decision)', () => {
    const m = decide({ ...scenario({ pg: { ...runningPrimary, starting: true } }), events: [{ type: 'start_deadline', since: 999_000, seconds: 7 }] }).memory;
    expect(m).toMatchObject({ recovering: true, startedAt: 999_000, startTimeout: 7 });
  });
});

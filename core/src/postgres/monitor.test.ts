import { describe, expect, it } from 'vitest';
import { MONITOR_QUERY, parseStatus, PENDING_RESTART_QUERY, PendingSettings, type NamedQuery } from './monitor.js';

/** A connection that answers the pending-restart query from a script and records every query asked. */
function scripted(answers: Array<boolean | Error>) {
  const asked: string[] = [];
  const settings = new PendingSettings(async (q: NamedQuery) => {
    asked.push(q.name);
    const a = answers.shift();
    if (a === undefined) throw new Error('no scripted answer left');
    if (a instanceof Error) throw a;
    return [{ pending: a }];
  });
  return { settings, asked };
}

describe('PendingSettings: pg_settings.pending_restart read only when the configuration was loaded anew', () => {
  it('asks once per load time; a new load time (reload, new backend, restart) asks again', async () => {
    const { settings, asked } = scripted([false, true, false]);
    expect(await settings.pending('2026-12-01 02:00:00.1+00')).toBe(false);
    expect(await settings.pending('2026-12-01 02:00:00.1+00')).toBe(false);
    expect(await settings.pending('2026-12-01 02:00:00.1+00')).toBe(false);
    expect(asked).toEqual(['pgha_pending_restart']);
    expect(await settings.pending('2026-12-01 02:05:00.2+00')).toBe(true); // after a reload
    expect(await settings.pending('2026-12-01 02:05:00.2+00')).toBe(true);
    expect(await settings.pending('2026-12-01 02:09:00.3+00')).toBe(false); // after the restart
    expect(asked).toHaveLength(3);
  });

  it('a failed read keeps the last answer and is retried on the next call', async () => {
    const { settings, asked } = scripted([true, new Error('connection lost'), false]);
    expect(await settings.pending('t1')).toBe(true);
    expect(await settings.pending('t2')).toBe(true); // the read failed: last answer stands
    expect(await settings.pending('t2')).toBe(false); // asked again
    expect(await settings.pending('t2')).toBe(false);
    expect(asked).toHaveLength(3);
  });

  it('without a load time (an unexpected row) it asks every time rather than trust a stale answer', async () => {
    const { settings, asked } = scripted([false, true]);
    expect(await settings.pending(null)).toBe(false);
    expect(await settings.pending(null)).toBe(true);
    expect(asked).toHaveLength(2);
  });
});

describe('the monitoring query', () => {
  it('is a named statement without pg_settings in it (prepared once per connection)', () => {
    expect(MONITOR_QUERY.name).toBe('pgha_monitor');
    expect(MONITOR_QUERY.text).not.toMatch(/pg_settings/);
    expect(MONITOR_QUERY.text).toMatch(/pg_conf_load_time\(\)::text AS conf_load_time/);
    expect(PENDING_RESTART_QUERY.text).toMatch(/pending_restart\) AS pending FROM pg_catalog\.pg_settings/);
  });

  it('takes the pending flag it is given (the row has no pending_restart of its own)', () => {
    const row = { in_recovery: false, start_time: 1.5, timeline: 3, write_lsn: '100', server_version: 150010, conf_load_time: '2026-12-01 02:00:00+00', pending_restart: true };
    expect(parseStatus(row, true)).toMatchObject({ role: 'primary', timeline: 3, writeLsn: 100n, pendingRestart: true });
    expect(parseStatus(row)).toMatchObject({ pendingRestart: false });
  });
});

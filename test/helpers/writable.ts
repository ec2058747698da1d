import pg from 'pg';

/**
 * Does the PostgreSQL on 127.0.0.1:`port` acknowledge a write within `timeoutMs`? A frozen, stopped
 * or read-only server answers false (connection timeout, statement timeout or error).
 */
export async function acceptsWrites(port: number, user: string, password: string, timeoutMs = 400): Promise<boolean> {
  const c = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres', connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs + 100, statement_timeout: timeoutMs });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('CREATE TABLE IF NOT EXISTS write_probe (t timestamptz); INSERT INTO write_probe VALUES (now())');
    return true;
  } catch {
    return false;
  } finally {
    c.end().catch(() => undefined);
  }
}

/**
 * Patroni's synchronous user scripts around PostgreSQL's state changes: `pre_promote` (a fencing
 * script; non-zero exit refuses the promotion, then the lock is released with a backoff) and
 * `before_stop` (run and waited for before every shutdown; its exit code is only logged). They run
 * in the agent's working directory, as the PostgreSQL OS user, cancellable through `signal`.
 */
import type { Logger } from '../log.js';
import { runCommand, shlexSplit, userCommandCwd, type RunAs } from './exec.js';

/** The pre_promote script refused the promotion (Patroni then releases the lock and backs off). */
export class PrePromoteFailed extends Error { override readonly name = 'PrePromoteFailed'; }

interface HookOptions { readonly runAs: RunAs | null; readonly logger: Logger; readonly signal?: AbortSignal }

async function run(cmd: string, o: HookOptions): Promise<number | null> {
  const [bin, ...args] = shlexSplit(cmd);
  const r = await runCommand(bin!, args, { runAs: o.runAs, logger: o.logger, cwd: userCommandCwd(), signal: o.signal });
  return r.code;
}

/** True to promote, false when cancelled; throws PrePromoteFailed on a non-zero exit. */
export async function prePromote(cmd: string | null, o: HookOptions): Promise<boolean> {
  if (!cmd) return true;
  const code = await run(cmd, o);
  if (o.signal?.aborted) return false;
  o.logger.info(`pre_promote script \`${cmd}\` exited with ${code}`);
  if (code !== 0) throw new PrePromoteFailed(`pre_promote script exited with ${code}; not promoting`);
  return true;
}

export async function beforeStop(cmd: string | null, o: HookOptions): Promise<void> {
  if (!cmd) return;
  try {
    o.logger.info(`before_stop script \`${cmd}\` exited with ${await run(cmd, o)}`);
  } catch (e) {
    o.logger.error(`Exception when calling \`${cmd}\`: ${e instanceof Error ? e.message : String(e)}`);
  }
}

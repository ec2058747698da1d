/**
 * Patroni's `postgresql.callbacks` (on_start, on_stop, on_restart, on_reload, on_role_change): the
 * command, split like a shell would, gets `<action> <role> <scope>` appended and runs without
 * waiting, in the agent's working directory (relative paths work as under Patroni). One callback at
 * a time: a new one kills the previous one's process group, as Patroni's CallbackExecutor does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../log.js';
import { killByPid, shlexSplit, userCommandCwd, type RunAs } from '../postgres/exec.js';
import { isPlainObject } from '../util/json.js';

export type CallbackAction = 'on_start' | 'on_stop' | 'on_restart' | 'on_reload' | 'on_role_change';

export class CallbackRunner {
  private running: ChildProcess | null = null;

  constructor(
    private readonly callbacks: () => unknown,
    private readonly scope: string,
    private readonly logger: Logger,
    private readonly runAs: RunAs | null = null,
  ) {}

  /** Start the callback for `action`, if configured; never throws, never waits. */
  call(action: CallbackAction, role: string): void {
    const section = this.callbacks();
    const cmd = isPlainObject(section) ? section[action] : undefined;
    if (typeof cmd !== 'string' || !cmd.trim()) return;
    const argv = [...shlexSplit(cmd), action, role === 'promoted' ? 'primary' : role, this.scope];
    try {
      const prev = this.running;
      if (prev?.pid && prev.exitCode === null && prev.signalCode === null) killByPid(prev.pid, 1000);
      const child = spawn(argv[0]!, argv.slice(1), {
        cwd: userCommandCwd(), stdio: 'ignore', detached: true,
        ...(this.runAs && process.getuid?.() === 0 ? { uid: this.runAs.uid, gid: this.runAs.gid } : {}),
      });
      child.on('error', (e) => this.logger.error(`callback ${argv.join(' ')} failed: ${e.message}`));
      child.unref();
      this.running = child;
      this.logger.debug(`calling callback: ${argv.join(' ')}`);
    } catch (e) {
      this.logger.error(`callback ${argv.join(' ')} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

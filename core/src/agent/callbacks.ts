/**
 * Patroni's `postgresql.callbacks` (on_start, on_stop, on_restart, on_reload, on_role_change), as its
 * CallbackExecutor runs them:
 *  - the command, split like a shell would, gets `<action> <role> <scope>` appended (role `primary`
 *    for a promoted node) and runs without the agent waiting, in the agent's working directory;
 *  - ONE callback at a time: a new call kills the running one (its whole process group) and starts
 *    only once it is gone; calls arriving meanwhile replace each other (the newest runs);
 *  - whatever a callback left running when it exits (its process group) is killed too;
 *  - on_reload has an executor of its own: it only ever replaces a running on_reload, so a reload
 *    never kills an on_role_change that moves a virtual IP.
 * No timeout (Patroni has none): a hung callback runs until the next one replaces it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../log.js';
import { shlexSplit, userCommandCwd, type RunAs } from '../postgres/exec.js';
import { isPlainObject } from '../util/json.js';

export type CallbackAction = 'on_start' | 'on_stop' | 'on_restart' | 'on_reload' | 'on_role_change';

/**
 * SIGKILL a callback's process group (callbacks run detached: the group is theirs). `orPid`: fall back
 * to the process itself (only while it is known to be alive: an exited PID may be reused).
 */
function killGroup(pid: number, orPid: boolean): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    if (orPid) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
}

/** One-at-a-time executor: the newest command wins, started after the previous one is dead. */
class Executor {
  private running: ChildProcess | null = null;
  private pending: string[] | null = null;

  constructor(private readonly spawnCmd: (argv: string[]) => ChildProcess | null) {}

  call(argv: string[]): void {
    this.pending = argv;
    if (this.running?.pid) {
      killGroup(this.running.pid, true);
      return; // its exit starts the pending one
    }
    this.startPending();
  }

  private startPending(): void {
    const argv = this.pending;
    this.pending = null;
    if (!argv) return;
    const child = this.spawnCmd(argv);
    if (!child) return this.startPending();
    this.running = child;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      if (child.pid) killGroup(child.pid, false); // children it left behind
      this.running = null;
      this.startPending();
    };
    child.once('exit', end);
    child.once('error', end);
  }

  /** The callback running now (tests, shutdown). */
  get pid(): number | null { return this.running?.pid ?? null; }
}

export class CallbackRunner {
  private readonly main: Executor;
  private readonly reload: Executor;

  constructor(
    private readonly callbacks: () => unknown,
    private readonly scope: string,
    private readonly logger: Logger,
    private readonly runAs: RunAs | null = null,
  ) {
    this.main = new Executor((argv) => this.spawn(argv));
    this.reload = new Executor((argv) => this.spawn(argv));
  }

  /** A start, stop, restart or role change was announced (configured or not): Patroni's cb_called. */
  called = false;

  /** Start the callback for `action`, if configured; never throws, never waits. */
  call(action: CallbackAction, role: string): void {
    if (action !== 'on_reload') this.called = true;
    const section = this.callbacks();
    const cmd = isPlainObject(section) ? section[action] : undefined;
    if (typeof cmd !== 'string' || !cmd.trim()) return;
    let argv: string[];
    try {
      argv = [...shlexSplit(cmd), action, role === 'promoted' ? 'primary' : role, this.scope];
    } catch (e) {
      this.logger.error(`callback ${action}: cannot parse ${JSON.stringify(cmd)}: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    this.logger.debug(`calling callback: ${argv.join(' ')}`);
    (action === 'on_reload' ? this.reload : this.main).call(argv);
  }

  /** PIDs of the callbacks running now: the main executor's and on_reload's. */
  get running(): { main: number | null; reload: number | null } { return { main: this.main.pid, reload: this.reload.pid }; }

  private spawn(argv: string[]): ChildProcess | null {
    try {
      const child = spawn(argv[0]!, argv.slice(1), {
        cwd: userCommandCwd(), stdio: 'ignore', detached: true,
        ...(this.runAs && process.getuid?.() === 0 ? { uid: this.runAs.uid, gid: this.runAs.gid } : {}),
      });
      child.on('error', (e) => this.logger.error(`callback ${argv.join(' ')} failed: ${e.message}`));
      child.unref();
      return child;
    } catch (e) {
      this.logger.error(`callback ${argv.join(' ')} failed: ${e instanceof Error ? e.message : String(e)}`);
      return null;
    }
  }
}

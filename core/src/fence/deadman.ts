/**
 * The deadman: a second, independent timer beside the fence, so that freezing the agent and the
 * fence together (SIGSTOP of both, a stuck Node runtime) still cannot leave a primary running past
 * its deadline. It is a few lines of bash (about 3 MB, no Node runtime to stall) reading commands on
 * stdin from the fence:
 *   `arm <seconds> <postmaster pid>`  fire unless another command arrives within <seconds>
 *   `disarm`                          wait without a deadline
 * When the deadline passes it stops the postmaster and every child (SIGSTOP, then SIGKILL), by PID.
 * When its stdin closes (the fence died) it exits: the postmaster the fence started gets the
 * parent-death signal then, so nothing is left to guard. It runs outside the agent's process tree
 * (see LAUNCH), so a SIGSTOP of that whole tree leaves it running.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, openSync, rmSync, writeSync } from 'node:fs';
import { pidAlive } from '../postgres/postmaster.js';

const SCRIPT = `
set -u
DATADIR=\${DATADIR:-}
T=""; PM=""
children() {
  for s in /proc/[0-9]*/stat; do
    { read -r line < "$s"; } 2>/dev/null || continue
    set -- \${line##*) }
    if [ "$2" = "$PM" ]; then p=\${s#/proc/}; echo "\${p%/stat}"; fi
  done
}
# The fence died: PostgreSQL processes it had frozen may have lost their postmaster (parent-death
# signal) and would stay stopped for ever; kill those (stopped, re-parented to init, in DATADIR).
orphans() {
  for d in /proc/[0-9]*; do
    [ "$(readlink "$d/cwd" 2>/dev/null)" = "$DATADIR" ] || continue
    case "$(readlink "$d/exe" 2>/dev/null)" in */postgres) ;; *) continue ;; esac
    { read -r line < "$d/stat"; } 2>/dev/null || continue
    set -- \${line##*) }
    [ "$1" = "T" ] && [ "$2" = "1" ] && kill -KILL "\${d#/proc/}" 2>/dev/null
  done
}
fire() {
  # The PID must still be a postgres (never signal a recycled PID).
  { read -r -d '' argv0 < "/proc/$PM/cmdline"; } 2>/dev/null
  case "\${argv0:-}" in *postgres*) ;; *) return ;; esac
  kill -STOP "$PM" 2>/dev/null
  kids=$(children)
  for k in $kids; do kill -STOP "$k" 2>/dev/null; done
  for k in $kids; do kill -KILL "$k" 2>/dev/null; done
  kill -KILL "$PM" 2>/dev/null
  echo "$(date -u +%FT%TZ) pgha-deadman[$$]: deadline passed: killed PostgreSQL (postmaster $PM)" >&2
}
while :; do
  if [ -n "$T" ]; then
    if read -r -t "$T" cmd a b; then :; else
      rc=$?
      if [ "$rc" -gt 128 ]; then fire; T=""; continue; fi
      orphans; exit 0
    fi
  else
    read -r cmd a b || { orphans; exit 0; }
  fi
  case "$cmd" in
    arm) T=$a; PM=$b ;;
    disarm) T="" ;;
  esac
done
`;

/**
 * Started detached from the fence's process tree (the launching shell exits at once, so the deadman
 * is re-parented to init, in a session of its own): freezing or killing the agent's whole process
 * tree does not reach it. It reads a FIFO the fence holds open (read-write and non-blocking, so a
 * dead or frozen deadman can never block the fence); when the fence dies the deadman sees EOF.
 */
const LAUNCH = '( DATADIR="$2" exec setsid bash -c "$0" <"$1" >/dev/null ) </dev/null & echo $!';

export class Deadman {
  private fd: number | null = null;
  private _pid: number | null = null;

  constructor(private readonly fifo: string, private readonly dataDir: string, private readonly log: (msg: string) => void) {}

  get pid(): number | null { return this._pid !== null && pidAlive(this._pid) ? this._pid : null; }

  private ensure(): number | null {
    if (this.fd !== null && this._pid !== null && pidAlive(this._pid)) return this.fd;
    this.close();
    try {
      rmSync(this.fifo, { force: true });
      const r = spawnSync('mkfifo', ['-m', '600', this.fifo]);
      if (r.status !== 0) throw new Error(`mkfifo ${this.fifo} failed: ${String(r.stderr ?? r.error)}`);
      this.fd = openSync(this.fifo, constants.O_RDWR | constants.O_NONBLOCK);
      const launched = spawnSync('bash', ['-c', LAUNCH, SCRIPT, this.fifo, this.dataDir], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 5000 });
      const pid = Number(String(launched.stdout ?? '').trim());
      if (!(pid > 0)) throw new Error('the deadman did not start');
      this._pid = pid;
      return this.fd;
    } catch (e) {
      this.log(`deadman: ${e instanceof Error ? e.message : String(e)}`);
      return this.fd;
    }
  }

  private send(line: string, start: boolean): void {
    const fd = start ? this.ensure() : this.fd;
    if (fd === null) return;
    try { writeSync(fd, line); } catch { /* full or gone: a dead deadman is replaced at the next arm */ }
  }

  /** Kill the postmaster `pm` unless armed again or disarmed within `ms`. */
  arm(ms: number, pm: number): void {
    this.send(`arm ${(Math.max(1, ms) / 1000).toFixed(3)} ${pm}\n`, true);
  }

  disarm(): void {
    this.send('disarm\n', false);
  }

  private close(): void {
    if (this.fd !== null) try { closeSync(this.fd); } catch { /* closed */ }
    this.fd = null;
  }

  /** Stop it (closing the FIFO ends it; SIGKILL makes sure). It is init's child: nothing to reap. */
  async stop(): Promise<void> {
    const pid = this.pid;
    this.close();
    this._pid = null;
    if (pid !== null) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    rmSync(this.fifo, { force: true });
  }
}

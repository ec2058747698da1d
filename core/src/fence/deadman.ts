/**
 * The deadman: a second, independent timer beside the fence, so that freezing the agent and the
 * fence together (SIGSTOP of both, a stuck Node runtime) still cannot leave a primary running past
 * its deadline. It is a few lines of bash (about 3 MB, no Node runtime to stall) reading commands on
 * stdin from the fence:
 *   `arm <seconds> <postmaster pid>`  fire unless another command arrives within <seconds>
 *   `disarm`                          wait without a deadline
 * When the deadline passes it stops the postmaster and every child (SIGSTOP, then SIGKILL), by PID.
 * When its stdin closes (the fence died) it exits: the postmaster the fence started gets the
 * parent-death signal then, so nothing is left to guard.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const SCRIPT = `
set -u
T=""; PM=""
children() {
  for s in /proc/[0-9]*/stat; do
    { read -r line < "$s"; } 2>/dev/null || continue
    set -- \${line##*) }
    if [ "$2" = "$PM" ]; then p=\${s#/proc/}; echo "\${p%/stat}"; fi
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
      exit 0
    fi
  else
    read -r cmd a b || exit 0
  fi
  case "$cmd" in
    arm) T=$a; PM=$b ;;
    disarm) T="" ;;
  esac
done
`;

export class Deadman {
  private child: ChildProcess | null = null;

  constructor(private readonly log: (msg: string) => void) {}

  get pid(): number | null { return this.child?.pid ?? null; }

  private ensure(): ChildProcess | null {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return this.child;
    const c = spawn('bash', ['-c', SCRIPT], { stdio: ['pipe', 'ignore', 'inherit'] });
    c.on('error', (e) => this.log(`deadman: ${e.message}`));
    c.stdin!.on('error', () => undefined);
    c.once('exit', (code, sig) => {
      if (this.child === c) this.child = null;
      if (sig || code) this.log(`deadman exited (${sig ?? code})`);
    });
    this.child = c;
    return c;
  }

  /** Kill the postmaster `pm` unless armed again or disarmed within `ms`. */
  arm(ms: number, pm: number): void {
    this.ensure()?.stdin!.write(`arm ${(Math.max(1, ms) / 1000).toFixed(3)} ${pm}\n`);
  }

  disarm(): void {
    if (this.child) this.child.stdin!.write('disarm\n');
  }

  stop(): void {
    this.child?.kill('SIGKILL');
    this.child = null;
  }
}

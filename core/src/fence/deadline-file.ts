/**
 * `<base>.deadline`: the deadline the agent last set for the fence, written every cycle and read by
 * the fence and the deadman only when their own deadline comes (fence-script.ts, deadman.ts). It
 * holds the deadline twice, `<ms> <ms>`, in uptime milliseconds (as /proc/uptime counts, which is
 * what bash can read without forking), and is rewritten in place: a reader that meets a write half
 * done sees two different numbers and reads again, so it never acts on a torn value.
 */
import { closeSync, constants, openSync, readFileSync, writeSync } from 'node:fs';

/** Time since boot in ms, counted exactly as the fence counts it (/proc/uptime, 10 ms steps). */
export function uptimeMs(): number {
  const up = readFileSync('/proc/uptime', 'latin1');
  const [s, cs] = up.slice(0, up.indexOf(' ')).split('.');
  return (Number(s) * 100 + Number(cs)) * 10;
}

/**
 * Uptime from the monotonic clock plus an offset taken from /proc/uptime (`sync()`), so a cycle
 * reads no file. Never ahead of the fence's clock: /proc/uptime is rounded down, and a suspend
 * (which /proc/uptime counts and the monotonic clock does not) only makes it lag until the next
 * sync. A lagging clock sets earlier deadlines, never later ones.
 */
export class UptimeClock {
  private offset: number | null = null;
  constructor(private readonly monotonic: () => number = () => performance.now()) {}
  sync(): void { this.offset = uptimeMs() - this.monotonic(); }
  now(): number {
    if (this.offset === null) this.sync();
    return Math.floor(this.monotonic() + this.offset!);
  }
}

/**
 * The readers' side, in bash, for the fence and the deadman: `clock` sets `now` to the uptime in ms
 * (as uptimeMs() counts it); `written_deadline FILE` sets `wd` to the deadline FILE holds, reading
 * again (up to three times, 10 ms apart) when it meets two different numbers, and fails when there
 * is none.
 */
export const DEADLINE_FNS = String.raw`
clock() { local up; read -r up _ < /proc/uptime; up=${"$"}{up/./}; now=$(( 10#$up * 10 )); }
written_deadline() {
  local d="" e="" i
  for i in 1 2 3; do
    { read -r d e _ < "$1"; } 2>/dev/null || return 1
    [ "$d" = "$e" ] && break
    sleep 0.01
  done
  [[ $d =~ ^[0-9]{1,15}$ ]] && [ "$d" = "$e" ] || return 1
  wd=$d
}`;

const WIDTH = 40;

/** The writer (the agent). One open descriptor, rewritten in place with one write per deadline. */
export class DeadlineFile {
  private fd: number | null = null;
  constructor(readonly path: string) {}

  /** Open (again): the fence removes the file when it exits, so a new fence needs a new file. */
  reopen(): void {
    this.close();
    this.fd = openSync(this.path, constants.O_WRONLY | constants.O_CREAT, 0o600);
  }

  /** Throws when it cannot be written. */
  write(at: number): void {
    if (this.fd === null) this.reopen();
    writeSync(this.fd!, `${at} ${at}`.padEnd(WIDTH - 1) + '\n', 0);
  }

  close(): void {
    if (this.fd !== null) try { closeSync(this.fd); } catch { /* closed */ }
    this.fd = null;
  }

  /** The deadline in the file, or null (none, or a write in progress). */
  static read(path: string): number | null {
    try {
      const [a, b] = readFileSync(path, 'latin1').trim().split(/\s+/);
      const d = Number(a);
      return a === b && Number.isSafeInteger(d) && d > 0 ? d : null;
    } catch {
      return null;
    }
  }
}

import { DEADLINE_FNS } from './deadline-file.js';
import { NEXT_LINE_FN } from './next-line.js';

/**
 * The deadman: a second, independent timer beside the fence, so that freezing the agent and the
 * fence together (SIGSTOP of both, a stuck Node runtime) still cannot leave a primary running past
 * its deadline. It is a few lines of bash (about 3 MB, no Node runtime to stall) reading commands on
 * stdin from the fence (fence-script.ts starts it, detached, and writes to it only while it runs):
 *   `arm <seconds> <postmaster pid>`  fire unless another command arrives within <seconds>, or
 *                                     DEADLINE_FILE (uptime in ms, written by the agent) then
 *                                     holds a later deadline: wait for that one instead
 *   `disarm`                          wait without a deadline
 * When the deadline passes it stops the postmaster and every child (SIGSTOP, then SIGKILL), by PID.
 * When its stdin closes (the fence died) it exits: the postmaster the fence started gets the
 * parent-death signal then, so nothing is left to guard. It runs outside the agent's process tree
 * (re-parented to init, in a session of its own), so a SIGSTOP of that whole tree leaves it running.
 */
export const DEADMAN_SCRIPT = `
set -u
DATADIR=\${DATADIR:-}
T=""; PM=""
${DEADLINE_FNS}
# The deadline the agent last wrote, when still ahead: the seconds left into T.
later() {
  [ -n "\${DEADLINE_FILE:-}" ] && written_deadline "$DEADLINE_FILE" || return 1
  clock; [ "$wd" -gt "$now" ] || return 1
  printf -v T '%d.%03d' $(( (wd - now) / 1000 )) $(( (wd - now) % 1000 ))
}
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
${NEXT_LINE_FN}
exec 3<&0
while :; do
  next_line "$T"
  case $? in
    0) read -r cmd a b <<<"$line" ;;
    1) orphans; exit 0 ;;
    2) later && continue; fire; T=""; continue ;;
    *) continue ;;
  esac
  case "$cmd" in
    arm) T=$a; PM=$b ;;
    disarm) T="" ;;
  esac
done
`;

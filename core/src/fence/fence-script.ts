import { DEADLINE_FNS } from './deadline-file.js';
import { NEXT_LINE_FN } from './next-line.js';

/**
 * The fence: a small bash supervisor (about 4 MB; a Node process costs 45 MB) that starts and
 * parents PostgreSQL and guards it while it is a primary. It runs outside the agent's process tree
 * (re-parented to init, in a session of its own), so no single pgha process has to survive:
 *  - PostgreSQL runs as the fence's child with the parent-death signal set to SIGKILL: killing the
 *    fence kills the postmaster at once;
 *  - the agent dies (the command FIFO reaches end-of-file: the agent held its only write end) while
 *    armed: freeze PostgreSQL (SIGSTOP) so no write is acknowledged; a new agent that still holds
 *    the lock feeds it and it thaws, with no failover;
 *  - the deadline passes (agent dead or frozen): kill PostgreSQL. The agent sets the deadline to
 *    `ttl - safety_margin` after the lease renewal that keeps its lock alive was sent. It writes
 *    every deadline to `BASE.deadline` (deadline-file.ts) and sends a `feed` only to arm, to
 *    shorten, or once the fence's own deadline is three quarters spent: when its deadline comes, the fence
 *    (and the deadman) read that file and carry on to the later deadline it holds, so a cycle
 *    costs the fence nothing and no deadline is ever later than the agent set it;
 *  - the fence itself frozen with the agent: the deadman (DEADMAN_SCRIPT), fed with every deadline,
 *    kills PostgreSQL when it passes.
 * Protocol (FIFOs `BASE.cmd`, agent -> fence, and `BASE.reply`): `<seq> feed <ms>`, `<seq> disarm`,
 * `<seq> fire`, `<seq> status`, `<seq> spawn` (the request in `BASE.spawn`); each gets one line
 * `<seq> <json reply>`. The state is also written to `BASE.state` for anyone else to read (its
 * `deadlineAt`, uptime in ms, is the fence's own; `BASE.deadline` may hold a later one).
 * Timing uses /proc/uptime (monotonic): a wall-clock step never moves a deadline.
 * Usage: bash -c FENCE_SCRIPT pgha-fence BASE DATA_DIR   (env DEADMAN_SCRIPT)
 */
export const FENCE_SCRIPT = String.raw`
set -u
trap '' PIPE
BASE=$1; DATADIR=$2
armed=0; deadline=0; frozen=""; fired=0; child=""; dm=""; attached=0; pm=""; st=""
log() { printf '%(%Y-%m-%dT%H:%M:%S)TZ pgha-fence[%d]: %s\n' -1 "$$" "$1" >&2; }
${DEADLINE_FNS}
later() { # the deadline the agent last wrote, when it is still ahead: into deadline
  written_deadline "$BASE.deadline" && [ "$wd" -gt "$now" ] || return 1
  deadline=$wd
}
pm_of() {
  pm=""; local p c
  { read -r p < "$DATADIR/postmaster.pid"; } 2>/dev/null || return 1
  [[ $p =~ ^[0-9]+$ ]] || return 1
  { read -r -d '' c < "/proc/$p/cmdline"; } 2>/dev/null
  [[ ${"$"}{c:-} == *postgres* ]] || return 1
  pm=$p
}
kids() { # the direct children of $1 into KIDS
  KIDS=(); local p=$1 s line
  for s in /proc/[0-9]*/stat; do
    { read -r line < "$s"; } 2>/dev/null || continue
    set -- ${"$"}{line##*) }
    if [ "$2" = "$p" ]; then s=${"$"}{s#/proc/}; KIDS+=("${"$"}{s%/stat}"); fi
  done
}
sig_tree() { # SIGNAL PM: the postmaster first (so it forks no new child), then its children
  local k; kill "-$1" "$2" 2>/dev/null; kids "$2"
  for k in "${"$"}{KIDS[@]}"; do kill "-$1" "$k" 2>/dev/null; done
}
secs() { printf -v secs '%d.%03d' $(( $1 / 1000 )) $(( $1 % 1000 )); }
# Stopped, the postmaster forks nothing and its children are still its children: list them before
# the kill (once it dies they belong to init, and a stopped orphan would hold the shared memory for
# ever: no new postmaster could start), then kill them and it.
kill_pg() {
  local k; sig_tree STOP "$1"; kids "$1"
  for k in "${"$"}{KIDS[@]}"; do kill -KILL "$k" 2>/dev/null; done
  kill -KILL "$1" 2>/dev/null
  reap "$1"
}
reap() { # a killed process: wait (at most a second) until it is gone, reaping it if it is our child
  local pid=$1 i line
  for ((i = 0; i < 100; i++)); do
    { read -r line < "/proc/$pid/stat"; } 2>/dev/null || return 0
    set -- ${"$"}{line##*) }
    if [ "$1" = Z ]; then [ "$pid" != "$child" ] || wait "$pid" 2>/dev/null; return 0; fi
    sleep 0.01
  done
}
child_alive() { # our own child still running (bash reaps it on SIGCHLD, so a dead one is gone from /proc)
  local line; [ -n "$child" ] || return 1
  { read -r line < "/proc/$child/stat"; } 2>/dev/null || { child=""; return 1; }
  set -- ${"$"}{line##*) }
  [ "$2" = "$$" ] && [ "$1" != Z ] || { child=""; return 1; }
}
leftovers() { # processes a dead postmaster of DATADIR left behind (re-parented to init)
  local d line comm n=0
  for d in /proc/[0-9]*; do
    { read -r comm < "$d/comm"; } 2>/dev/null || continue
    [ "$comm" = postgres ] || [ "$comm" = postmaster ] || continue
    [ "$(readlink "$d/cwd" 2>/dev/null)" = "$DATADIR" ] || continue
    { read -r line < "$d/stat"; } 2>/dev/null || continue
    set -- ${"$"}{line##*) }
    [ "$2" = 1 ] && kill -KILL "${"$"}{d#/proc/}" 2>/dev/null && n=$((n+1))
  done
  [ "$n" = 0 ] || log "killed $n processes a dead postmaster left behind"
}
dm_alive() {
  local line; [ -n "$dm" ] || return 1
  { read -r line < "/proc/$dm/stat"; } 2>/dev/null || { dm=""; return 1; }
  set -- ${"$"}{line##*) }
  [ "$1" != Z ] || { dm=""; return 1; }
  dmstate=$1
}
dm_send() { # never block on a deadman that does not read: write only while it runs
  if ! dm_alive; then
    [ "$1" = arm ] || return 0
    rm -f "$BASE.deadman"; mkfifo -m 600 "$BASE.deadman" || return 0
    exec 6<>"$BASE.deadman"
    ( ( DATADIR="$DATADIR" DEADLINE_FILE="$BASE.deadline" exec setsid bash -c "$DEADMAN_SCRIPT" <"$BASE.deadman" >/dev/null 3<&- 4<&- 6<&- ) & echo $! >"$BASE.dmpid" ) 3<&- 4<&-
    read -r dm < "$BASE.dmpid" || dm=""
    dm_alive || return 0
  fi
  [ "$dmstate" = T ] && return 0
  echo "$*" >&6
}
disarm() { armed=0; dm_send disarm; }
unfreeze() { [ -n "$frozen" ] || return 0; sig_tree CONT "$frozen"; log "thawed PostgreSQL (postmaster $frozen)"; frozen=""; }
fire() {
  pm_of || pm=$frozen
  disarm; frozen=""
  if [ -n "$pm" ]; then kill_pg "$pm"; fired=$((fired+1)); log "$1: killed PostgreSQL (postmaster $pm)"; else log "$1: PostgreSQL is not running"; fi
}
state() {
  local left=null at=null c=null d=null a=false f=false
  if [ "$armed" = 1 ]; then a=true; clock; left=$((deadline-now)); [ "$left" -ge 0 ] || left=0; at=$deadline; fi
  [ -z "$frozen" ] || f=true
  child_alive && c=$child
  dm_alive && d=$dm
  printf -v st '{"armed":%s,"frozen":%s,"fired":%d,"deadlineLeftMs":%s,"deadlineAt":%s,"pid":%d,"child":%s,"deadman":%s}' "$a" "$f" "$fired" "$left" "$at" "$$" "$c" "$d"
  # Rewritten in place at one padded size: truncating it first (>) was about a fifth of a feed's cost.
  printf '%-255s\n' "$st" 1<>"$BASE.state"
}
finish() {
  exec 6>&- 2>/dev/null; [ -z "$dm" ] || kill -KILL "$dm" 2>/dev/null
  rm -f "$BASE.cmd" "$BASE.reply" "$BASE.deadman" "$BASE.dmpid" "$BASE.spawn" "$BASE.state" "$BASE.pid" "$BASE.deadline"
  exit 0
}
maybe_exit() { [ "$armed" = 0 ] && [ -z "$frozen" ] && [ "$attached" = 0 ] && ! child_alive && finish; }
spawn() {
  child_alive && { err="PostgreSQL already runs as the fence's child (pid $child)"; return 1; }
  local FILE="" CWD="" LOGF=""; local -a ARGS=() ENVV=() CREDS=()
  source "$BASE.spawn" || { err="cannot read $BASE.spawn"; return 1; }
  leftovers
  ( cd "$CWD" && exec env -i "${"$"}{ENVV[@]}" setpriv --pdeathsig KILL "${"$"}{CREDS[@]}" -- "$FILE" "${"$"}{ARGS[@]}" ) \
    </dev/null >>"$LOGF" 2>&1 3<&- 4<&- 6<&- &
  child=$!
  log "started PostgreSQL (postmaster $child)"
  if [ "$armed" = 1 ]; then clock; secs $((deadline-now)); dm_send arm "$secs" "$child"; fi
}
handle() { # SEQ CMD ARG
  local ok=1; err=""
  case "$2" in
    feed)
      if [[ ${"$"}{3:-} =~ ^[0-9]+$ ]] && [ "$3" -gt 0 ]; then
        clock; deadline=$((now + $3)); armed=1; unfreeze
        pm_of && { secs "$3"; dm_send arm "$secs" "$pm"; }
      else ok=0; err="deadlineMs must be positive"; fi ;;
    disarm) disarm; unfreeze ;;
    fire) fire "asked by the agent" ;;
    spawn) spawn || ok=0 ;;
    status) ;;
    *) ok=0; err="unknown command" ;;
  esac
  state
  # No reader (the agent died meanwhile): the write fails with EPIPE, which is ignored.
  if [ "$ok" = 1 ]; then echo "$1 {\"ok\":true,\"state\":$st}" >&4; else echo "$1 {\"ok\":false,\"error\":\"${"$"}{err//\"/\'}\"}" >&4; fi 2>/dev/null
}
on_signal() { # a trap does not interrupt the loop's read: do everything here
  [ "$armed" = 1 ] && fire "received $1 while armed"
  if child_alive; then
    log "received $1: stopping PostgreSQL (postmaster $child) before exiting"
    kill -INT "$child" 2>/dev/null; wait "$child" 2>/dev/null
  fi
  finish
}
${NEXT_LINE_FN}
trap 'on_signal SIGTERM' TERM; trap 'on_signal SIGINT' INT; trap 'on_signal SIGHUP' HUP
echo "$$" > "$BASE.pid"
exec 3<>"$BASE.cmd" 4>"$BASE.reply"
log "guarding $DATADIR on $BASE"
state
echo "0 ready" >&4
while :; do
  if [ "$armed" = 1 ]; then
    clock; left=$((deadline-now))
    if [ "$left" -le 0 ]; then
      # The agent wrote a later deadline since its last feed: carry on to it (and tell the deadman).
      if later; then pm_of && { secs $((deadline-now)); dm_send arm "$secs" "$pm"; }; state; continue; fi
      fire "feed deadline passed"; state; maybe_exit; continue
    fi
    secs "$left"; t=$secs
  elif [ "$attached" = 0 ]; then t=10
  else t=""; fi
  next_line "$t"; rc=$?
  if [ "$rc" = 0 ]; then
    read -r seq cmd arg <<<"$line"
    if [ "$attached" = 0 ]; then exec 5<"$BASE.cmd"; exec 3<&5 5<&-; attached=1; fi
    handle "$seq" "$cmd" "${"$"}{arg:-}"
  elif [ "$rc" = 1 ]; then
    # End of file: the agent is gone. Wait for the next one on a read-write descriptor (never EOF).
    attached=0; exec 3<>"$BASE.cmd"
    if [ "$armed" = 1 ] && pm_of; then
      sig_tree STOP "$pm"; frozen=$pm
      clock; log "agent connection lost while armed: froze PostgreSQL (postmaster $pm); $((deadline-now)) ms until it is killed"
    fi
    state; maybe_exit
  elif [ "$attached" = 0 ]; then
    state; maybe_exit
  fi
done
`;

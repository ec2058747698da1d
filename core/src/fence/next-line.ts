/**
 * `next_line [SECONDS]`: one command line from fd 3 into `line`, waiting at most SECONDS (none: no
 * limit), for the fence and the deadman (both bash). Returns 0 for a line, 1 at end of file, 2 when
 * the wait ran out, 3 for an empty line.
 * Never "read -t" a whole line: when the timer fires mid-line, bash keeps the part it read and the
 * rest would be taken for the next command (a lost command, a garbled one after it). One character
 * is read with the timer; the writers (agent, fence) write each line with a single write(), so the
 * rest of it is already there.
 */
export const NEXT_LINE_FN = String.raw`
next_line() {
  local c="" rest="" rc=0
  IFS= read -r ${"$"}{1:+-t "$1"} -n 1 -u 3 c || rc=$?
  if [ -z "$c" ]; then
    line=""
    [ "$rc" = 0 ] && return 3
    [ "$rc" -le 128 ] && return 1
    return 2
  fi
  IFS= read -r -u 3 rest
  line=$c$rest
}`;

# Background steps whose exit status survives: sourced by scripts/test (needs $work, a private directory).
#
#   run_bg NAME COMMAND...   COMMAND (a program or a shell function) in the background; its output goes to
#                            $work/NAME.log and its exit status to $work/NAME.status
#   bg_status NAME           waits until that status is written and returns it
#
# Not `wait PID`, possibly many minutes later: bash drops the saved status of a finished background child as
# soon as it forks another child that gets the same PID, and PIDs wrap within minutes on a busy machine (a CI run
# failed so: "wait: pid 18063 is not a child of this shell", exit 127, although the step had succeeded). The
# file also works from any shell, not only the one that started the step.
declare -A bg_pid=()

run_bg() {
  local name="$1"
  shift
  rm -f "$work/$name.status"
  ( set +e; "$@"; echo "$?" > "$work/$name.status.tmp" && mv "$work/$name.status.tmp" "$work/$name.status" ) \
    > "$work/$name.log" 2>&1 &
  bg_pid[$name]=$!
}

bg_status() {
  local name="$1" status="$work/$1.status"
  until [ -s "$status" ]; do
    if ! kill -0 "${bg_pid[$name]:-0}" 2>/dev/null; then
      sleep 1  # ended: its status is written, or it was killed before it could be
      [ -s "$status" ] || { echo "$name ended without an exit status (killed?)" >&2; echo 1 > "$status"; }
    else
      sleep 0.5
    fi
  done
  return "$(cat "$status")"
}

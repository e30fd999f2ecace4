#!/usr/bin/env bash
# Restart one gunicorn instance without losing a request: the new code starts
# before the old stops, on the same listening socket.
#
#   deploy/gunicorn-reexec.sh /run/flask-api/8001/gunicorn.pid
#
# (systemd runs it as ExecReload of flask-api@.service: `systemctl reload`.)
#
# 1. USR2 to the running master: it forks and execs a new master (same command
#    line and working directory, the code now on disk) that inherits the
#    listening socket and writes its pid to PIDFILE.2. From then on the workers
#    of both masters accept connections from that one socket.
# 2. Wait until every worker of the new master has loaded the app
#    (gunicorn.conf.py's post_worker_init writes its pid to PIDFILE.2.ready).
#    If the new master exits (a release that cannot start) or is not ready in
#    BOOT_TIMEOUT seconds, it is stopped and the old one keeps serving: exit 1.
# 3. Write the new master's pid into PIDFILE, so systemd's PIDFile= follows the
#    service to it when the old master exits.
# 4. TERM to the old master: it closes its copy of the socket, and its workers
#    finish the requests they are serving, then exit. The socket itself stays
#    open in the new master, so the connections still waiting in its backlog
#    are served by the new workers instead of being reset -- which is what a
#    plain stop and start does to them.
# 5. Wait (at most DRAIN_TIMEOUT seconds) for the old master to exit.
#
# gunicorn's WINCH (stop the old workers first) is not used: gunicorn ignores it
# unless daemonized, and TERM already lets in-flight requests finish.
# Every wait is bounded. Needs procps (ps, pgrep).
set -euo pipefail

PIDFILE=${1:?usage: gunicorn-reexec.sh PIDFILE}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-60}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-45} # above gunicorn's graceful_timeout (30 s)
NEW_PIDFILE="$PIDFILE.2"
READY_FILE="$PIDFILE.2.ready"

say() { echo "gunicorn-reexec: $*" >&2; }

# A process that has exited but not been reaped yet (a zombie) counts as gone.
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $state != Z* ]]
}

read_pid() { [[ -s $1 ]] && tr -dc 0-9 <"$1"; }

# wait_until SECONDS COMMAND...: run COMMAND every 0.2 s until it succeeds.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# Every current worker of master $1 has reported ready, and there is one at least.
workers_ready() {
  local workers pid
  workers=$(pgrep -P "$1" || true)
  [[ -n $workers && -f $READY_FILE ]] || return 1
  for pid in $workers; do
    grep -qx "$pid" "$READY_FILE" || return 1
  done
}

old=$(read_pid "$PIDFILE") || true
if [[ -z $old ]] || ! alive "$old"; then
  say "no running master in $PIDFILE"
  exit 1
fi
if [[ -s $NEW_PIDFILE ]] && alive "$(read_pid "$NEW_PIDFILE")"; then
  say "a re-exec is already under way ($NEW_PIDFILE)"
  exit 1
fi
rm -f "$NEW_PIDFILE" "$READY_FILE"
started=$SECONDS

say "USR2 to master $old"
kill -USR2 "$old"

new_master_started() {
  local pid
  pid=$(read_pid "$NEW_PIDFILE") && [[ $pid != "$old" ]] && alive "$pid"
}
new_master_gone() { ! alive "$new"; }
new_master_ready() {
  alive "$new" || return 0 # stop waiting; checked below
  workers_ready "$new" || return 1
  sleep 0.5 # a master spawns its workers within a fraction of a second:
  workers_ready "$new" # check again, so a worker still being forked counts
}

if ! wait_until "$BOOT_TIMEOUT" new_master_started; then
  say "no new master wrote $NEW_PIDFILE in ${BOOT_TIMEOUT}s; master $old keeps serving"
  exit 1
fi
new=$(read_pid "$NEW_PIDFILE")
if ! wait_until "$BOOT_TIMEOUT" new_master_ready || ! alive "$new"; then
  if alive "$new"; then
    say "new master $new not ready in ${BOOT_TIMEOUT}s: stopping it"
    kill -TERM "$new" 2>/dev/null || true
    wait_until "$DRAIN_TIMEOUT" new_master_gone || kill -KILL "$new" 2>/dev/null || true
  else
    say "new master $new exited (see its log)"
  fi
  rm -f "$NEW_PIDFILE" "$READY_FILE"
  say "master $old keeps serving"
  exit 1
fi

say "new master $new ready; TERM to master $old"
printf '%s\n' "$new" >"$PIDFILE.tmp.$$"
mv -f "$PIDFILE.tmp.$$" "$PIDFILE"
kill -TERM "$old"

old_master_gone() { ! alive "$old"; }
if ! wait_until "$DRAIN_TIMEOUT" old_master_gone; then
  say "master $old still running after ${DRAIN_TIMEOUT}s; it ends by itself after graceful_timeout"
  exit 1
fi
# The new master renames PIDFILE.2 to PIDFILE once it sees its parent gone.
promoted() { [[ ! -e $NEW_PIDFILE ]]; }
wait_until 5 promoted || say "$NEW_PIDFILE still there (harmless: PIDFILE holds $new)"
rm -f "$READY_FILE"
say "master $old -> $new in $((SECONDS - started))s"

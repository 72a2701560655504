#!/usr/bin/env bash
# Stop the cluster that start-cluster.sh DIR started: cancel its jobs, stop slurmd/slurmctld/slurmdbd/mariadbd/munged
# by their pid files under DIR, then end any process still marked as belonging to this cluster (slurmstepd, job
# processes). Touches no other process. Safe to run twice or on a half-started DIR. Leaves DIR in place
# (logs, accounting database); delete it yourself if you don't need them.
#
#   stop-cluster.sh DIR
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
[ -d "$1" ] || { echo "stop-cluster: $1: no such directory (nothing to stop)" >&2; exit 0; }
DIR=$(cd "$1" && pwd -P)
export SLURM_CONF="$DIR/etc/slurm.conf"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }

stop_pid() { # PIDFILE NAME [SECONDS]: TERM, wait, KILL
  local f=$1 name=$2 t=${3:-15} pid
  alive "$f" || { rm -f "$f"; return 0; }
  pid=$(cat "$f")
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq $((t * 5))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "stop-cluster: $name ($pid) did not stop in ${t}s, killing" >&2
    kill -KILL "$pid" 2>/dev/null; sleep 0.2
  fi
  rm -f "$f"
}

# 1. cancel every job of this cluster so job processes end through SLURM (slurmstepd kills them)
if alive "$DIR/run/slurmctld.pid" && [ -f "$SLURM_CONF" ]; then
  jobs=$(timeout 10 squeue -h -o %A 2>/dev/null | sort -u)
  if [ -n "$jobs" ]; then
    # shellcheck disable=SC2086
    timeout 10 scancel $jobs 2>/dev/null
    for _ in $(seq 50); do [ -z "$(timeout 5 squeue -h -o %A 2>/dev/null)" ] && break; sleep 0.2; done
  fi
fi

# 2. slurm daemons, then accounting, then munge (slurmctld flushes to slurmdbd on shutdown)
stop_pid "$DIR/run/slurmd.pid" slurmd
stop_pid "$DIR/run/slurmctld.pid" slurmctld 30
stop_pid "$DIR/run/slurmdbd.pid" slurmdbd
stop_pid "$DIR/run/mariadbd.pid" mariadbd 60
stop_pid "$DIR/run/munged.pid" munged

# 3. leftovers: processes whose environment carries this cluster's marker (set by start-cluster.sh on the daemons,
#    inherited by slurmstepd), and job processes of this cluster (SLURM_JOB_ID set and SLURM_CONF pointing here;
#    the test process itself has SLURM_CONF but no SLURM_JOB_ID)
left=""
for e in /proc/[0-9]*/environ; do
  pid=${e#/proc/}; pid=${pid%/environ}
  [ "$pid" = $$ ] && continue
  env=$({ tr '\0' '\n' < "$e"; } 2>/dev/null) || continue
  if grep -qxF "SRR_SLURM_TEST_CLUSTER=$DIR" <<<"$env" \
     || { grep -qxF "SLURM_CONF=$DIR/etc/slurm.conf" <<<"$env" && grep -q '^SLURM_JOB_ID=' <<<"$env"; }; then
    left="$left $pid"
  fi
done
if [ -n "${left// /}" ]; then
  echo "stop-cluster: ending leftover processes:$left" >&2
  # shellcheck disable=SC2086
  kill -TERM $left 2>/dev/null; sleep 1
  # shellcheck disable=SC2086
  kill -KILL $left 2>/dev/null
fi
rm -f "$DIR/munge/munge.socket.2" "$DIR/munge/munge.socket.2.lock" "$DIR/run/mysqld.sock"
exit 0

#!/bin/sh
# notify-failure.sh UNIT: report that the gilbench nightly UNIT failed, and why.
# Run by gilbench-nightly-failure@.service, which systemd (>= 251) gives MONITOR_EXIT_STATUS,
# MONITOR_SERVICE_RESULT and MONITOR_INVOCATION_ID of the failed unit. The first line goes to
# the journal; with GILBENCH_NOTIFY set (a shell command, e.g. `mail -s gilbench root`), the
# subject + the failed run's last journal lines are piped to it (subject also in the
# environment as GILBENCH_SUBJECT).
set -eu
unit=${1:?usage: notify-failure.sh UNIT}
status=${MONITOR_EXIT_STATUS:-unknown}
result=${MONITOR_SERVICE_RESULT:-unknown}
machine=${GILBENCH_MACHINE:-$(hostname)}

if [ "$status" = 3 ] && [ "$result" = exit-code ]; then
  what="regression flagged"
else
  what="error (result $result, exit status $status)"
fi
GILBENCH_SUBJECT="gilbench nightly on $machine: $what"
export GILBENCH_SUBJECT
echo "$GILBENCH_SUBJECT ($unit)"

if [ -n "${GILBENCH_NOTIFY:-}" ]; then
  if [ -n "${MONITOR_INVOCATION_ID:-}" ]; then
    log=$(journalctl --no-pager -o cat -n 80 "_SYSTEMD_INVOCATION_ID=$MONITOR_INVOCATION_ID" 2>&1 || true)
  else
    log=$(journalctl --no-pager -o cat -n 80 -u "$unit" 2>&1 || true)
  fi
  printf '%s\n\nunit %s; journalctl -u %s for the full log\n\n%s\n' \
    "$GILBENCH_SUBJECT" "$unit" "$unit" "$log" | sh -c "$GILBENCH_NOTIFY"
fi

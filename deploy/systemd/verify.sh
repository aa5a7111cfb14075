#!/bin/sh
# verify.sh: `systemd-analyze verify` on the gilbench units, as if installed from this checkout
# (the units' /opt/gilbench paths are pointed at it, so the commands they name must exist).
# Exit 0 when verify passes silently or systemd-analyze is missing (it says so), 1 on any
# error or warning. Usage: deploy/systemd/verify.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
checkout=$(cd "$here/../.." && pwd)
if ! command -v systemd-analyze > /dev/null 2>&1; then
  echo "verify.sh: systemd-analyze not found: the units were NOT verified"
  exit 0
fi
[ -x "$checkout/.venv/bin/python" ] || {
  echo "verify.sh: $checkout/.venv/bin/python missing: run 'make setup' first" >&2
  exit 2
}
# verify does not load OnFailure= targets: check they are shipped here (templates by name)
missing=$(sed -n 's/^OnFailure=//p' "$here"/*.service | tr ' ' '\n' | while read -r target; do
  file=$(printf '%s' "$target" | sed 's/@[^.]*\.service$/@.service/')
  if [ -n "$target" ] && [ ! -f "$here/$file" ]; then echo "$target (no $file)"; fi
done)
if [ -n "$missing" ]; then
  echo "verify.sh: OnFailure= names units not shipped here: $missing" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for unit in gilbench-nightly.service gilbench-nightly.timer gilbench-nightly-failure@.service; do
  sed "s#/opt/gilbench#$checkout#g" "$here/$unit" > "$work/$unit"
done
cp "$work/gilbench-nightly-failure@.service" "$work/gilbench-nightly-failure@gilbench-nightly.service.service"
cd "$work"
status=0
SYSTEMD_UNIT_PATH="$work:" systemd-analyze verify --man=no \
  gilbench-nightly.service gilbench-nightly.timer \
  gilbench-nightly-failure@gilbench-nightly.service.service > "$work/out" 2>&1 || status=$?
if [ "$status" != 0 ] || [ -s "$work/out" ]; then
  # a warning (unknown key, ignored setting) counts as a failure too
  cat "$work/out" >&2
  echo "verify.sh: systemd-analyze verify FAILED" >&2
  exit 1
fi
echo "verify.sh: systemd-analyze verify passed ($(systemd-analyze --version | head -n 1))"

#!/usr/bin/env bash
# Install smtp-iac into .venv and run the main job on the embedded defaults:
# a SQLite store in .smtp-iac/ and a local SMTP sink on 127.0.0.1:2525 (no real relay needed).
#   validate -> tenants load -> plan (saved) -> apply the saved plan (verify by real SMTP first)
#   -> drift -> effective settings of an organization.
# It leaves you where you can go on: the sink keeps running in the background (its process id in
# .smtp-iac/sink.pid, its log in .smtp-iac/sink.log) and the dev stack's password stays in
# stacks/.dev-password, so `smtp-iac plan stacks/dev.yaml` works in any new shell.
# Run it again at any time: it reuses both.
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
export PATH="$PWD/.venv/bin:$PATH"

mkdir -p .smtp-iac
# The dev stack reads its SMTP password from this file ({file: .dev-password}, beside it);
# the sink accepts any login. Made once, random, readable by you alone.
if [ ! -s stacks/.dev-password ]; then
  (umask 077 && "$PWD/.venv/bin/python" -c 'import secrets; print("dev-" + secrets.token_urlsafe(18))' \
    > stacks/.dev-password)
fi

SINK_PORT=2525
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$SINK_PORT") 2>/dev/null; }
sink_running() { [ -s .smtp-iac/sink.pid ] && kill -0 "$(cat .smtp-iac/sink.pid)" 2>/dev/null; }

if sink_running && port_open; then
  echo "The SMTP sink from an earlier run is still up (pid $(cat .smtp-iac/sink.pid)); using it."
else
  if port_open; then
    echo "port $SINK_PORT on 127.0.0.1 is already in use; stop what listens there (the dev stack points at it)" >&2
    exit 1
  fi
  # In the background and in a session of its own, so it outlives this script and its terminal.
  nohup setsid smtp-iac sink --host 127.0.0.1 --port "$SINK_PORT" > .smtp-iac/sink.log 2>&1 < /dev/null &
  echo $! > .smtp-iac/sink.pid
  for _ in $(seq 50); do
    if port_open; then break; fi
    if ! sink_running; then
      echo "the SMTP sink did not start (is port $SINK_PORT taken?):" >&2; cat .smtp-iac/sink.log >&2; exit 1
    fi
    sleep 0.1
  done
fi

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step smtp-iac validate stacks/dev.yaml stacks/example.yaml
step smtp-iac tenants load examples/dev-tenants.yaml
# --detailed-exitcode: 2 means "there are changes", which is what a first run has (0: none).
step smtp-iac plan stacks/dev.yaml --out .smtp-iac/dev-plan.json --detailed-exitcode || [ $? -eq 2 ]
step smtp-iac apply .smtp-iac/dev-plan.json --yes
step smtp-iac drift stacks/dev.yaml
step smtp-iac effective partners/acme/organizations/acme-us
step smtp-iac effective acme-eu

echo
echo "Test e-mails the sink received (.smtp-iac/sink.log):"
grep -E '^(Subject|X-Smtp-Iac-Verify):' .smtp-iac/sink.log || true

cat <<NEXT

Done. The SMTP sink keeps running on 127.0.0.1:$SINK_PORT (pid $(cat .smtp-iac/sink.pid)); stop it with
  kill \$(cat .smtp-iac/sink.pid)
Go on in any shell:
  source .venv/bin/activate               # puts smtp-iac on PATH
  smtp-iac plan stacks/dev.yaml           # "No changes": the store matches the stack
  smtp-iac tokens create --role sysadmin --name me    # then: smtp-iac serve, and open
                                                      # http://127.0.0.1:8025/ with that token
NEXT

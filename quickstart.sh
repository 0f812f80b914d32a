#!/usr/bin/env bash
# Install smtp-iac into .venv and run the main job on the embedded defaults:
# a SQLite store in .smtp-iac/ and a local SMTP sink on 127.0.0.1:2525 (no real relay needed).
#   validate -> tenants load -> plan (saved) -> apply the saved plan (verify by real SMTP first)
#   -> drift -> effective settings of an organization.
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
export PATH="$PWD/.venv/bin:$PATH"

# The dev stack reads its SMTP password from this variable; the sink accepts any login.
export SMTP_DEV_PASSWORD="${SMTP_DEV_PASSWORD:-dev-$(date +%s)-password}"
SINK_PORT=2525
mkdir -p .smtp-iac

if (exec 3<>"/dev/tcp/127.0.0.1/$SINK_PORT") 2>/dev/null; then
  echo "port $SINK_PORT on 127.0.0.1 is already in use; stop what listens there (the dev stack points at it)" >&2
  exit 1
fi
smtp-iac sink --host 127.0.0.1 --port "$SINK_PORT" > .smtp-iac/sink.log 2>&1 &
SINK_PID=$!
trap 'kill "$SINK_PID" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$SINK_PORT") 2>/dev/null; then break; fi
  if ! kill -0 "$SINK_PID" 2>/dev/null; then
    echo "the SMTP sink did not start (is port $SINK_PORT taken?):" >&2; cat .smtp-iac/sink.log >&2; exit 1
  fi
  sleep 0.1
done

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step smtp-iac validate stacks/dev.yaml stacks/example.yaml
step smtp-iac tenants load examples/dev-tenants.yaml
# --detailed-exitcode: 2 means "there are changes", which is what a first run has.
step smtp-iac plan stacks/dev.yaml --out .smtp-iac/dev-plan.json --detailed-exitcode || [ $? -eq 2 ]
step smtp-iac apply .smtp-iac/dev-plan.json --yes
step smtp-iac drift stacks/dev.yaml
step smtp-iac effective partners/acme/organizations/acme-us
step smtp-iac effective acme-eu

echo
echo "Test e-mails the sink received (.smtp-iac/sink.log):"
grep -E '^(Subject|X-Smtp-Iac-Verify):' .smtp-iac/sink.log || true

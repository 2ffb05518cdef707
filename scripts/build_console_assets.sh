#!/usr/bin/env bash
# Build the agent console's third-party browser assets (坐席台前端依赖).
#
# Installs from the npm registry with the ordinary npm client, into a throw-away directory, and copies
# the browser bundles into callcenter/plugins/console/static/vendor/:
#   * the chart library (Apache ECharts, Apache-2.0): its minified dist file;
#   * the SIP-over-WebSocket library of the browser softphone (JsSIP, MIT), bundled by esbuild (MIT,
#     also from npm) into one IIFE exposing `window.JsSIP`.
# Nothing is downloaded at run time; the vendored files are git-ignored
# (callcenter/plugins/console/static/vendor/.gitignore). The console works without them (charts are
# then replaced by a notice and tables; the softphone says its library is missing).
#
#   scripts/build_console_assets.sh            # install what is missing
#   scripts/build_console_assets.sh --force    # reinstall
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR="$ROOT/callcenter/plugins/console/static/vendor"
ECHARTS_VERSION="${ECHARTS_VERSION:-5.6.0}"
JSSIP_VERSION="${JSSIP_VERSION:-3.13.8}"
ESBUILD_VERSION="${ESBUILD_VERSION:-0.28.2}"
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

mkdir -p "$VENDOR"
have() { [ "$FORCE" = 0 ] && [ -s "$VENDOR/$1" ] && grep -q "^$2 $3 " "$VENDOR/VERSIONS" 2>/dev/null; }
need_echarts=1; need_jssip=1
have echarts.min.js echarts "$ECHARTS_VERSION" && need_echarts=0
have jssip.min.js jssip "$JSSIP_VERSION" && need_jssip=0
if [ "$need_echarts" = 0 ] && [ "$need_jssip" = 0 ]; then
  echo "console assets present (echarts $ECHARTS_VERSION, jssip $JSSIP_VERSION)"
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "npm is missing: apt-get install npm (the console still works without charts and softphone)" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
npm init -y >/dev/null
touch "$VENDOR/VERSIONS"
record() { grep -v "^$1 " "$VENDOR/VERSIONS" > "$WORK/versions" || true; echo "$1 $2 $3" >> "$WORK/versions"; cp "$WORK/versions" "$VENDOR/VERSIONS"; }

if [ "$need_echarts" = 1 ]; then
  npm install --no-audit --no-fund --ignore-scripts --silent "echarts@$ECHARTS_VERSION" >/dev/null
  SRC="$WORK/node_modules/echarts/dist/echarts.min.js"
  [ -s "$SRC" ] || { echo "echarts $ECHARTS_VERSION has no dist/echarts.min.js" >&2; exit 1; }
  cp "$SRC" "$VENDOR/echarts.min.js"
  cp "$WORK/node_modules/echarts/LICENSE" "$VENDOR/ECHARTS-LICENSE"
  record echarts "$ECHARTS_VERSION" "(npm registry, Apache-2.0)"
  echo "vendored echarts $ECHARTS_VERSION into $VENDOR"
fi

if [ "$need_jssip" = 1 ]; then
  # esbuild's platform binary comes as an optional dependency; its install script is not needed
  npm install --no-audit --no-fund --ignore-scripts --silent "jssip@$JSSIP_VERSION" "esbuild@$ESBUILD_VERSION" >/dev/null
  printf 'import JsSIP from "jssip";\nwindow.JsSIP = JsSIP;\n' > entry.js
  "$WORK/node_modules/.bin/esbuild" entry.js --bundle --minify --format=iife --target=es2019 \
    --legal-comments=eof --log-level=warning --outfile="$VENDOR/jssip.min.js"
  [ -s "$VENDOR/jssip.min.js" ] || { echo "esbuild produced no jssip bundle" >&2; exit 1; }
  cp "$WORK/node_modules/jssip/LICENSE" "$VENDOR/JSSIP-LICENSE" 2>/dev/null || true
  record jssip "$JSSIP_VERSION" "(npm registry, MIT; bundled with esbuild $ESBUILD_VERSION)"
  echo "vendored jssip $JSSIP_VERSION into $VENDOR"
fi

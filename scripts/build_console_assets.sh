#!/usr/bin/env bash
# Build the agent console's third-party browser assets (坐席台前端依赖).
#
# Installs the chart library (Apache ECharts, Apache-2.0) from the npm registry with the ordinary npm
# client into a throw-away directory and copies its minified browser bundle into
# callcenter/plugins/console/static/vendor/. Nothing is downloaded at run time; the vendored file is git-ignored
# (callcenter/plugins/console/static/vendor/.gitignore). The console works without it (charts are then replaced
# by a notice and tables).
#
#   scripts/build_console_assets.sh            # install if missing
#   scripts/build_console_assets.sh --force    # reinstall
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR="$ROOT/callcenter/plugins/console/static/vendor"
ECHARTS_VERSION="${ECHARTS_VERSION:-5.6.0}"
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

mkdir -p "$VENDOR"
if [ "$FORCE" = 0 ] && [ -s "$VENDOR/echarts.min.js" ] && grep -q "$ECHARTS_VERSION" "$VENDOR/VERSIONS" 2>/dev/null; then
  echo "console assets present (echarts $ECHARTS_VERSION)"
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "npm is missing: apt-get install npm (the console still works without charts)" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
npm init -y >/dev/null
npm install --no-audit --no-fund --ignore-scripts --silent "echarts@$ECHARTS_VERSION" >/dev/null
SRC="$WORK/node_modules/echarts/dist/echarts.min.js"
[ -s "$SRC" ] || { echo "echarts $ECHARTS_VERSION has no dist/echarts.min.js" >&2; exit 1; }
cp "$SRC" "$VENDOR/echarts.min.js"
cp "$WORK/node_modules/echarts/LICENSE" "$VENDOR/ECHARTS-LICENSE"
printf 'echarts %s (npm registry, Apache-2.0)\n' "$ECHARTS_VERSION" > "$VENDOR/VERSIONS"
echo "vendored echarts $ECHARTS_VERSION into $VENDOR"

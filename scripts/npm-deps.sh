#!/usr/bin/env bash
# Install the Node.js packages of js/ (yjs, y-websocket, ws, @y/websocket-server),
# exactly as pinned in js/package-lock.json, for the collaboration module's
# interop test, lesson and benchmark.
#
#   bash scripts/npm-deps.sh
#
# Runs `npm ci` only when js/node_modules is missing or older than the lock
# file (a stamp records the last good install), so it is quick to call often.
# Without node/npm it explains what to install and exits 0 (the Node parts are
# skipped), except under CI=true, where it exits 1: CI must not pass with the
# interop test silently skipped.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
js="$here/js"
stamp="$js/node_modules/.rtlab-installed"

missing=()
command -v node >/dev/null 2>&1 || missing+=(node)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "npm-deps: ${missing[*]} not found: the Node.js Yjs parts (interop test, JS benchmark) need"
    echo "          Node.js 18 or newer with npm. Debian/Ubuntu: apt-get install nodejs npm;"
    echo "          macOS: brew install node. Then run: bash scripts/npm-deps.sh"
    if [[ "${CI:-}" == "true" ]]; then
        echo "npm-deps: CI=true, so this is a failure"
        exit 1
    fi
    exit 0
fi

major="$(node -p 'process.versions.node.split(".")[0]')"
if (( major < 18 )); then
    echo "npm-deps: node $(node --version) is too old; Node.js 18 or newer is needed"
    exit 1
fi

if [[ -f "$stamp" && "$stamp" -nt "$js/package-lock.json" && "$stamp" -nt "$js/package.json" ]]; then
    exit 0  # up to date
fi

echo "==> npm ci in js/ (yjs, y-websocket, ws, @y/websocket-server, as locked)"
# @y/websocket-server imports its optional LevelDB persistence (y-leveldb,
# leveldown) even unused, so optional packages are installed too.
(cd "$js" && npm ci --no-audit --no-fund --loglevel=error)
touch "$stamp"

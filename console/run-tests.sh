#!/usr/bin/env bash
# Browser tests of the web console: builds eldercare-server if needed, then runs the Playwright
# tests (playwright-core driving Debian's Chromium; no browser download) with node's own test
# runner. Each test file starts its own demo server on free ports with a temporary data folder
# and stops it at the end. Screenshots and measurements go to console/test-artifacts/.
#
#   console/run-tests.sh                    # all tests
#   console/run-tests.sh tests/scope.test.mjs
#   PERF_LIVE_SECONDS=60 console/run-tests.sh tests/perf.test.mjs
#
# Needs: node >= 20 with npm, /usr/bin/chromium (or CHROMIUM=/path), a Chinese font
# (fonts-wqy-zenhei), cargo. scripts/test installs the Debian packages when they are missing.
set -euo pipefail
cd "$(dirname "$0")"

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
    echo "console tests: no Chromium at $CHROMIUM (Debian: apt-get install chromium)" >&2
    exit 1
fi
if command -v fc-list >/dev/null && [ -z "$(fc-list :lang=zh family 2>/dev/null | head -1)" ]; then
    echo "console tests: no Chinese font, the zh-CN check would see boxes (Debian: apt-get install fonts-wqy-zenhei)" >&2
    exit 1
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "console tests: node and npm are needed" >&2
    exit 1
fi
if [ ! -d node_modules/playwright-core ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(cd .. && pwd)/target}"
if [ -z "${ELDERCARE_SERVER_BIN:-}" ]; then
    (cd .. && cargo build --quiet -p eldercare-server)
    export ELDERCARE_SERVER_BIN="$CARGO_TARGET_DIR/debug/eldercare-server"
fi
export CHROMIUM
mkdir -p test-artifacts

if [ "$#" -eq 0 ]; then
    set -- tests/*.test.mjs
fi
# One file at a time: each runs a server and a browser, and the machine may have two cores.
exec node --test --test-concurrency=1 "$@"

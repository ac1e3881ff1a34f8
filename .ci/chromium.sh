#!/usr/bin/env bash
# Debian's chromium for the real-browser tests in tests/browser (issue #4). Idempotent: a machine that
# already has it is left as it is.
#
# Why Debian's package and not `playwright install`: that downloads a browser build from Playwright's
# CDN, which CI cannot reach (only the PyPI, Debian and npm registries). The Python `playwright`
# package (a dev extra) is only the driver; tests/browser/conftest.py points it at this binary.
# --no-install-recommends keeps out desktop pieces (upower, printer setup) a headless run never uses;
# the fonts are named because they are only recommended, and without them pages render in tofu.
set -euo pipefail

BINARY=/usr/lib/chromium/chromium
FONT=/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf

if [ -x "$BINARY" ] && [ -f "$FONT" ]; then
  echo "chromium.sh: $("$BINARY" --version 2>/dev/null || echo chromium) already installed"
  exit 0
fi

# Installing needs root: sudo when it can ask (a terminal) or need not (NOPASSWD), else one line
# naming the command (#11: `make test` calls this on a fresh machine).
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! { command -v sudo >/dev/null && { [ -t 0 ] || sudo -n true 2>/dev/null; }; }; then
    echo "chromium.sh: chromium is missing and installing it needs root: sudo bash .ci/chromium.sh" >&2
    exit 1
  fi
  sudo=(sudo)
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# Quiet when it works; the whole apt log when it does not.
if ! {
  "${sudo[@]}" apt-get update -qq \
    && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      chromium fonts-liberation fonts-dejavu-core
} >"$log" 2>&1; then
  cat "$log" >&2
  echo "chromium.sh: installing chromium failed" >&2
  exit 1
fi
echo "chromium.sh: installed $("$BINARY" --version)"

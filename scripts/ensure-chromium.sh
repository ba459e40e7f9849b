#!/usr/bin/env bash
# Makes sure Debian's Chromium is present for the browser tests (Playwright drives it; its own
# browser download is never used). Never fails: without a browser those tests skip and say why.
set -uo pipefail
CHROMIUM=${VIDENT_CHROMIUM:-/usr/lib/chromium/chromium}
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "Chromium is missing and cannot be installed here (needs root and apt-get): the browser tests will skip." >&2
  exit 0
fi
echo "Installing Chromium (Debian package 'chromium') for the browser tests..."
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; then
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
    || echo "Chromium could not be installed: the browser tests will skip." >&2
fi
exit 0

#!/usr/bin/env bash
# Makes sure Debian's libarchive (libarchive.so.13) is present: libarchive-c loads it to open
# 7z and rar archives at ingest. Without it those archives are error items, not members.
set -euo pipefail
PATH="$PATH:/sbin:/usr/sbin"
if ldconfig -p 2>/dev/null | grep -q 'libarchive\.so\.13'; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "libarchive is missing: install Debian's 'libarchive13' package (needs root), or run 'make pytest' as root." >&2
  exit 1
fi
echo "Installing libarchive (Debian package 'libarchive13')..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends libarchive13 >/dev/null

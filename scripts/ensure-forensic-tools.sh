#!/usr/bin/env bash
# Makes sure the tools that build disk images for the ingest tests are present: ewfacquire
# (E01), mkfs.vfat and mtools (FAT, files written and deleted), mkfs.ext4 and debugfs (ext4),
# mkntfs and ntfscp (NTFS), sfdisk (partition tables). Tests that need a missing one skip and
# say which.
set -euo pipefail
PATH="$PATH:/usr/sbin:/sbin"
missing=0
for tool in ewfacquire mkfs.vfat mcopy mdel mkfs.ext4 debugfs mkntfs ntfscp sfdisk; do
  command -v "$tool" >/dev/null 2>&1 || missing=1
done
if [ "$missing" = "0" ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "Disk-image tools are missing: install Debian's 'ewf-tools dosfstools mtools e2fsprogs ntfs-3g fdisk' (needs root); the disk-image tests skip without them." >&2
  exit 0
fi
echo "Installing disk-image tools (Debian packages ewf-tools dosfstools mtools e2fsprogs ntfs-3g fdisk)..."
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq >/dev/null &&
  apt-get install -y -qq --no-install-recommends ewf-tools dosfstools mtools e2fsprogs ntfs-3g fdisk >/dev/null; }; then
  echo "Could not install the disk-image tools; the disk-image tests skip." >&2
fi

#!/usr/bin/env sh
# What reports need from the operating system (issue 17): headless Chromium to print and to test
# them, Noto CJK fonts for Chinese, poppler-utils (pdftotext, pdfinfo) to read the PDFs back; and
# jemalloc, the views follower's allocator (adapters/allocator.py).
# Installs them as root when missing (Debian/Ubuntu apt-get); otherwise says which command to run.
set -eu
PACKAGES="chromium fonts-noto-cjk poppler-utils libjemalloc2"
missing=""
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing="$missing chromium"
fc-list 2>/dev/null | grep -q "Noto Sans CJK" || missing="$missing fonts-noto-cjk"
command -v pdftotext >/dev/null 2>&1 || missing="$missing poppler-utils"
jemalloc=""
for lib in /usr/lib/*-linux-gnu/libjemalloc.so.2 /usr/lib64/libjemalloc.so.2 /usr/lib/libjemalloc.so.2; do
    if [ -e "$lib" ]; then jemalloc="$lib"; fi
done
[ -n "$jemalloc" ] || missing="$missing libjemalloc2"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing$missing (apt-get) ..."
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $PACKAGES >/dev/null
    exit 0
fi
echo "missing system packages:$missing" >&2
echo "install them as root, then run make test again:" >&2
echo "    apt-get install $PACKAGES" >&2
exit 1

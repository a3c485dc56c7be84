#!/usr/bin/env bash
# The browser test's system packages: Chromium (driven by playwright-python through
# /usr/bin/chromium, so playwright never downloads a browser) and a CJK font, without which
# the page's Chinese renders as empty boxes in screenshots; poppler-utils (pdftotext) reads
# back the printed summary's page numbers; nginx-light runs the reverse-proxy example
# (deploy/nginx) in front of the service in its test. Idempotent: installs only what is
# missing, and does nothing when all are present. Needs root (or passwordless sudo) and apt.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
command -v pdftotext >/dev/null || missing+=(poppler-utils)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || missing+=(nginx-light)
if [ ${#missing[@]} -eq 0 ]; then
  echo "ci-browser-deps: chromium, fonts-noto-cjk, poppler-utils and nginx already installed"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "ci-browser-deps: need root to install ${missing[*]}" >&2; exit 1; }
  sudo=(sudo -n)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y "${missing[@]}"
echo "ci-browser-deps: installed ${missing[*]}"

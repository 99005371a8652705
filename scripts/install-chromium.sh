#!/usr/bin/env bash
# Installs Debian's `chromium` package (headless Chromium for the web page's browser test) if
# it is missing; a no-op once installed. Playwright's own browser download is not used.
# `--print-path` prints the browser's path (CROSS_MARGIN_CHROMIUM, else /usr/bin/chromium).
source "$(dirname "$0")/common.sh"

browser="${CROSS_MARGIN_CHROMIUM:-/usr/bin/chromium}"
if [[ "${1:-}" == --print-path ]]; then
  echo "$browser"
  exit 0
fi
if [[ -x "$browser" ]]; then
  exit 0
fi
if [[ -n "${CROSS_MARGIN_CHROMIUM:-}" ]]; then
  echo "error: CROSS_MARGIN_CHROMIUM=$browser is not an executable" >&2
  exit 1
fi
step "apt-get install chromium (the web page's browser test)"
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
"$browser" --version 2>/dev/null

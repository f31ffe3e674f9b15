#!/bin/bash
# Headless Chromium opens URL through the edge, with the CA trusted (or not) in its own NSS database.
#   browser.sh URL OUT_DIR CA|none|home:DIR   (home:DIR: Chromium runs with HOME=DIR and its NSS database)
# Writes OUT_DIR/page.png (screenshot) and OUT_DIR/dom.html (the DOM after scripts ran). Exits with Chromium's status.
set -euo pipefail
url=$1 out=$2 ca=$3
mkdir -p "$out"
if [[ $ca == home:* ]]; then
  home=${ca#home:}  # a HOME whose ~/.pki/nssdb is used as it is (what `devenv trust` wrote there)
else
  home=$(mktemp -d)
  trap 'rm -rf "$home"' EXIT
  mkdir -p "$home/.pki/nssdb"
  certutil -N -d "sql:$home/.pki/nssdb" --empty-password
  if [ "$ca" != none ]; then
    certutil -A -d "sql:$home/.pki/nssdb" -n devenv-root-ca -t "C,," -i "$ca"
  fi
fi
chrome=$(command -v chromium || command -v chromium-browser)
flags=(--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --window-size=1280,900
       --virtual-time-budget=15000 --user-data-dir="$home/profile")
HOME=$home timeout 90 "$chrome" "${flags[@]}" --screenshot="$out/page.png" "$url" >"$out/chromium.log" 2>&1
HOME=$home timeout 90 "$chrome" "${flags[@]}" --dump-dom "$url" >"$out/dom.html" 2>>"$out/chromium.log"

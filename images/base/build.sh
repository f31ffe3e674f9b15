#!/usr/bin/env bash
# Build the local base image (Debian bookworm, minbase) with debootstrap + docker import.
# Usage: images/base/build.sh IMAGE_TAG [MIRROR]
# The mirror defaults to the first bookworm mirror found in this machine's apt sources,
# so the image uses the same Debian mirror the host already trusts.
set -euo pipefail
tag=${1:?usage: build.sh IMAGE_TAG [MIRROR]}
mirror=${2:-}
suite=bookworm

if [ "$(id -u)" != 0 ]; then
  echo "build.sh: debootstrap needs root; run as root or use devenv_image_source=upstream" >&2
  exit 2
fi
command -v debootstrap >/dev/null || { echo "build.sh: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 2; }

if [ -z "$mirror" ]; then
  # deb822 sources first, then one-line sources; skip security and source entries.
  mirror=$(awk '/^URIs:/ {u=$2} /^Suites:/ && u!="" && $0 ~ (" " s "( |$)") {print u; exit}' s="$suite" \
             /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  if [ -z "$mirror" ]; then
    mirror=$(awk '$1=="deb" && $3==s {print $2; exit}' s="$suite" /etc/apt/sources.list 2>/dev/null || true)
  fi
fi
[ -n "$mirror" ] || { echo "build.sh: no $suite mirror found in apt sources; pass one as the second argument" >&2; exit 2; }

root=$(mktemp -d /tmp/devenv-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.log" 2>&1 || {
  echo "build.sh: debootstrap failed; last lines:" >&2; tail -n 20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
# Keep the image small and apt usable inside docker build.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$root/etc/apt/apt.conf.d/99devenv"
# Recipes install from PyPI during docker build. Give them the CAs this host trusts (a proxy or
# corporate CA included), so pip verifies TLS the way the host does. PIP_CERT points pip at them.
host_ca=/etc/ssl/certs/ca-certificates.crt
changes=(--change 'ENV LANG=C.UTF-8')
if [ -s "$host_ca" ]; then
  install -D -m 0644 "$host_ca" "$root/etc/devenv/host-ca.pem"
  changes+=(--change 'ENV PIP_CERT=/etc/devenv/host-ca.pem')
fi
tar -C "$root" -c . | docker import "${changes[@]}" \
  --change 'CMD ["/bin/bash"]' \
  --change "LABEL io.colima-services.owner=devenv io.colima-services.recipe=base" \
  - "$tag" >/dev/null
echo "built $tag from $mirror"

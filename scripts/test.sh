#!/usr/bin/env bash
# The test command (`make test`). From a fresh Linux machine it installs what it needs,
# starts a Docker engine if none answers, and runs every stage:
#   deps engine venv images unit lint build molecule compat
# (ansible-test sanity cannot run on this kind of machine: see docs/testing.md.)
# Run some stages only with: scripts/test.sh unit lint   (the setup stages run as needed).
# Whatever it starts (dockerd), it stops. Ends with one summary line.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${DEVENV_VENV:-$ROOT/.venv}
CACHE=$ROOT/.cache
mkdir -p "$CACHE"
export PATH="$VENV/bin:$PATH"
export ANSIBLE_CONFIG=$ROOT/ansible.cfg
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 ANSIBLE_NOCOLOR=1
export ANSIBLE_HOME=$CACHE/ansible

ALL_STAGES="deps engine venv images unit lint build molecule compat"
STAGES=${*:-$ALL_STAGES}
PASSED=() FAILED=() DOCKERD_PID=""
START=$(date +%s)

log() { printf '\n=== %s [%ss]\n' "$*" "$(( $(date +%s) - START ))"; }

cleanup() {
  if [ -n "$DOCKERD_PID" ]; then
    log "stopping the dockerd this run started (pid $DOCKERD_PID)"
    kill "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 1; done
  fi
}
trap cleanup EXIT

want() { case " $STAGES " in *" $1 "*) return 0;; esac; return 1; }

stage() {  # stage NAME COMMAND...: run a stage, record the outcome
  local name=$1; shift
  log "stage $name"
  if "$@"; then PASSED+=("$name"); else FAILED+=("$name"); echo "stage $name FAILED"; fi
}

deps() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v node >/dev/null || missing+=(nodejs)  # checks the MongoDB healthcheck script; parses the dashboards' LogQL
  command -v npm >/dev/null || missing+=(npm)  # installs that LogQL grammar (@grafana/lezer-logql) into .cache/node
  command -v chromium >/dev/null || missing+=(chromium)  # the edge scenario's real browser
  command -v certutil >/dev/null || missing+=(libnss3-tools)  # trusts the Vault root CA in Chromium's NSS database
  [ ${#missing[@]} -eq 0 ] && { echo "system packages present"; return 0; }
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "missing ${missing[*]}: install them (needs root and apt-get)"; return 1
  fi
  echo "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >"$CACHE/apt.log" 2>&1 \
    || { tail -n 20 "$CACHE/apt.log"; return 1; }
}

engine() {
  if docker info >/dev/null 2>&1; then echo "Docker engine answers"; return 0; fi
  if [ "$(id -u)" != 0 ]; then echo "no Docker engine answers and this is not root: start one"; return 1; fi
  echo "starting dockerd"
  dockerd >"$CACHE/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && { echo "dockerd up"; return 0; }; sleep 1; done
  tail -n 20 "$CACHE/dockerd.log"; return 1
}

venv() {
  local stamp="$VENV/.devenv-stamp" want_stamp
  want_stamp=$(cat requirements.txt constraints.txt | sha256sum | cut -c1-16)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ]; then echo "virtualenv up to date"; return 0; fi
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || return 1
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null 2>&1
  "$VENV/bin/pip" install -q -r requirements.txt -c constraints.txt || return 1
  echo "$want_stamp" >"$stamp"
}

images() { ansible-playbook playbooks/images.yml; }

# The LogQL grammar Grafana's Loki editor uses, for tests/unit/test_dashboards.py (which skips without it).
LEZER_LOGQL=0.4.2
export DEVENV_NODE_MODULES=$CACHE/node/node_modules
node_deps() {
  local pkg=$DEVENV_NODE_MODULES/@grafana/lezer-logql/package.json
  grep -qs "\"version\": \"$LEZER_LOGQL\"" "$pkg" && return 0
  command -v npm >/dev/null || { echo "npm missing: the dashboards' LogQL is not checked"; return 1; }
  npm install --no-save --no-audit --no-fund --prefix "$CACHE/node" "@grafana/lezer-logql@$LEZER_LOGQL" >"$CACHE/npm.log" 2>&1 \
    || { tail -n 20 "$CACHE/npm.log"; return 1; }
}

unit() {
  node_deps || return 1
  python -m pytest tests -q -p no:cacheprovider; local rc=$?
  [ $rc -eq 5 ] && { echo "pytest collected no tests"; return 1; }
  return $rc
}

lint() { ruff check . && ansible-lint --profile production -q; }

build() {
  local out=$CACHE/build tmp
  rm -rf "$out"; mkdir -p "$out"
  ansible-galaxy collection build --force --output-path "$out" . || return 1
  tmp=$(mktemp -d)
  ansible-galaxy collection install --offline --force -p "$tmp" "$out"/colima_services-devenv-*.tar.gz >/dev/null || return 1
  local rc=0 m
  for m in plugins/modules/*.py; do
    m=$(basename "$m" .py)
    ANSIBLE_COLLECTIONS_PATH=$tmp ansible-doc "colima_services.devenv.$m" >/dev/null || { echo "ansible-doc failed: $m"; rc=1; }
  done
  ANSIBLE_COLLECTIONS_PATH=$tmp ansible-doc -t lookup colima_services.devenv.recipe_hash >/dev/null || rc=1
  for r in roles/*/; do
    r=$(basename "$r")
    ANSIBLE_COLLECTIONS_PATH=$tmp ansible-doc -t role "colima_services.devenv.$r" >/dev/null || { echo "ansible-doc failed: role $r"; rc=1; }
  done
  ANSIBLE_COLLECTIONS_PATH=$tmp ansible-playbook --syntax-check colima_services.devenv.site >/dev/null || { echo "installed site playbook fails syntax check"; rc=1; }
  rm -rf "$tmp"
  [ $rc -eq 0 ] && echo "collection builds, installs, documents all modules"
  return $rc
}

# The other community.docker major: pip's `ansible` ships 4.x; 5.x comes as a built tarball in ../shared/collections/
# (beside the checkout in CI). Installed offline into its own collections path, which comes first: the unit tests and
# the cheapest scenario (platform) run against it.
CD5_TARBALL=$ROOT/../shared/collections/community-docker-5.3.0.tar.gz
compat() {
  local path=$CACHE/cd5 found
  if [ ! -f "$CD5_TARBALL" ]; then
    echo "compat: $CD5_TARBALL is missing: put the built community.docker 5.3.0 there (see shared/collections/README.md)"
    return 1
  fi
  if ! grep -qs '"version": "5.3.0"' "$path/ansible_collections/community/docker/MANIFEST.json"; then
    rm -rf "$path"
    ansible-galaxy collection install --offline -p "$path" "$CD5_TARBALL" >"$CACHE/cd5-install.log" 2>&1 \
      || { tail -n 20 "$CACHE/cd5-install.log"; return 1; }
  fi
  export ANSIBLE_COLLECTIONS_PATH=$path:$ROOT/collections
  found=$(ansible-doc --json community.docker.docker_container | python -c \
    'import json, sys; print(next(iter(json.load(sys.stdin).values()))["doc"]["filename"])')
  case $found in
    "$path"/*) echo "community.docker from $path: $(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["collection_info"]["version"])' "$path/ansible_collections/community/docker/MANIFEST.json")";;
    *) echo "compat: community.docker resolves to $found, not to $path"; unset ANSIBLE_COLLECTIONS_PATH; return 1;;
  esac
  local rc=0
  # Only the tests that start ansible-playbook resolve community.docker: the others import none of it
  # (tests/unit/plugins/plugin_utils/test_docker.py), so their result under 5.x is the unit stage's.
  python -m pytest tests -q -p no:cacheprovider -m playbook || rc=1
  log "molecule scenario platform (community.docker 5.x)"
  molecule test -s platform || rc=1
  unset ANSIBLE_COLLECTIONS_PATH
  return $rc
}

molecule_all() {
  local rc=0 s
  for s in molecule/*/molecule.yml; do
    s=$(basename "$(dirname "$s")")
    log "molecule scenario $s"
    molecule test -s "$s" || rc=1
  done
  return $rc
}

want deps && stage deps deps
if want engine || want images || want molecule || want compat; then stage engine engine; fi
stage venv venv
want images && stage images images
want unit && stage unit unit
want lint && stage lint lint
want build && stage build build
want molecule && stage molecule molecule_all
want compat && stage compat compat

log "done in $(( $(date +%s) - START )) s${FAILED:+; failed stages: ${FAILED[*]}}"
echo "stages: ${#PASSED[@]} passed, ${#FAILED[@]} failed"
[ ${#FAILED[@]} -eq 0 ]

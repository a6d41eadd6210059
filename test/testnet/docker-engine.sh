#!/usr/bin/env bash
# A private Docker engine for the test net on a machine without one (run as root).
#
#   test/testnet/docker-engine.sh up     install what is missing, start dockerd, import the
#                                        base image; prints `export DOCKER_HOST=…` lines (eval them)
#   test/testnet/docker-engine.sh down   stop that dockerd by its pid and remove everything it
#                                        made: containers, networks, bridges, mounts, temp dirs
#   test/testnet/docker-engine.sh env    prints the export lines of a running engine
#
# A user who already runs Docker skips all this: with TENTACLE_DOCKER=system (or a DOCKER_HOST
# that answers) `up` only checks that the engine answers and that the base image exists (it
# builds it the same way when missing; with a stock engine the Dockerfile's default base, the
# official Node image, works too), and `down` leaves the engine alone.
#
# The engine: Debian's docker.io + docker-compose (v1), dockerd started by hand with
# --iptables=false --ip-masq=false --ip-forward=false --bridge=none and its own data root,
# exec root, pid file and unix socket, all under $TENTACLE_DOCKER_DIR (a temp dir). Nothing
# listens on TCP. No registry is reachable, so the base image is a debootstrap --variant=minbase
# bookworm rootfs (+ libssl3) from the mirror apt already uses, plus the host's node binary,
# `docker import`ed.
# The rootfs tarball is cached under $HOME/.cache/tentacle-ts/images: the second run takes seconds.
set -euo pipefail

DIR="${TENTACLE_DOCKER_DIR:-${TMPDIR:-/tmp}/tentacle-ts-docker}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/tentacle-ts/images"
BASE_IMAGE="${TENTACLE_BASE_IMAGE:-tentacle-ts/base:bookworm-node20}"
SUITE=bookworm
SOCK="$DIR/docker.sock"

log() { echo "docker-engine: $*" >&2; }
die() { log "$*"; exit 1; }

# The Debian mirror apt already uses (deb822 sources first, then the one-line format).
mirror() {
  local m=""
  if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
    m=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /debian\/?$/) { print $i; exit } }' /etc/apt/sources.list.d/*.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/ && $i ~ /debian\/?$/) { print $i; exit } }' /etc/apt/sources.list)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

dockercli() { docker -H "unix://$SOCK" "$@"; }

engine_answers() { timeout 10 docker "$@" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v tc >/dev/null || missing+=(iproute2)
  command -v nsenter >/dev/null || missing+=(util-linux)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    [ "$(id -u)" = 0 ] || die "installing ${missing[*]} needs root"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
}

start_daemon() {
  [ "$(id -u)" = 0 ] || die "starting a private dockerd needs root (or set TENTACLE_DOCKER=system to use yours)"
  if [ -f "$DIR/docker.pid" ] && kill -0 "$(cat "$DIR/docker.pid")" 2>/dev/null; then
    log "dockerd already running (pid $(cat "$DIR/docker.pid"))"
    return
  fi
  mkdir -p "$DIR/data" "$DIR/exec"
  # Bridges that exist before the daemon: `down` removes only the ones it made.
  ip -o link show type bridge 2>/dev/null | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort >"$DIR/bridges.before" || true
  log "starting dockerd in $DIR"
  dockerd --iptables=false --ip-masq=false --ip-forward=false --bridge=none \
    --data-root "$DIR/data" --exec-root "$DIR/exec" --pidfile "$DIR/docker.pid" \
    -H "unix://$SOCK" >"$DIR/dockerd.log" 2>&1 &
  echo $! >"$DIR/dockerd.launcher.pid"
  local i
  for i in $(seq 1 120); do
    if engine_answers -H "unix://$SOCK"; then
      log "dockerd $(dockercli version --format '{{.Server.Version}}') ready (pid $(cat "$DIR/docker.pid"))"
      return
    fi
    kill -0 "$(cat "$DIR/dockerd.launcher.pid")" 2>/dev/null || { tail -20 "$DIR/dockerd.log" >&2; die "dockerd exited"; }
    sleep 0.5
  done
  tail -20 "$DIR/dockerd.log" >&2
  die "dockerd did not answer within 60 s"
}

# The base rootfs: debootstrap minbase + the host's node binary, as a cached tarball.
base_tarball() {
  local node_bin node_ver tar
  node_bin="$(readlink -f "$(command -v node)")"
  node_ver="$("$node_bin" --version)"
  tar="$CACHE/$SUITE-minbase-libssl3-node-$node_ver.tar"
  if [ -s "$tar" ]; then echo "$tar"; return; fi
  [ "$(id -u)" = 0 ] || die "debootstrap needs root"
  mkdir -p "$CACHE"
  local root
  root="$(mktemp -d "${TMPDIR:-/tmp}/tentacle-ts-rootfs.XXXXXX")"
  log "debootstrap --variant=minbase $SUITE from $(mirror) (about a minute, cached afterwards)"
  # libssl3: the Rust node of the net (ckb-network-peer, profile ckb) links the system OpenSSL.
  if ! debootstrap --variant=minbase --include=libssl3 "$SUITE" "$root" "$(mirror)" >"$root.log" 2>&1; then
    tail -20 "$root.log" >&2
    rm -rf "$root" "$root.log"
    die "debootstrap failed"
  fi
  rm -f "$root.log"
  # Node 20 (Debian's nodejs is 18): the host's binary. Its libraries (libstdc++, libgcc) are
  # in minbase already because apt needs them.
  install -m 0755 "$node_bin" "$root/usr/local/bin/node"
  chroot "$root" /usr/local/bin/node --version >/dev/null || die "the host's node does not run in the $SUITE rootfs"
  rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
  tar -C "$root" --numeric-owner -cf "$tar.tmp" .
  mv "$tar.tmp" "$tar"
  rm -rf "$root"
  echo "$tar"
}

import_base() {
  local -a dk=("$@")
  if docker "${dk[@]}" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then return; fi
  local tar
  tar="$(base_tarball)"
  log "docker import $tar as $BASE_IMAGE"
  docker "${dk[@]}" import -c 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["/bin/bash"]' "$tar" "$BASE_IMAGE" >/dev/null
}

print_env() {
  echo "export DOCKER_HOST=unix://$SOCK"
  echo "export TENTACLE_BASE_IMAGE=$BASE_IMAGE"
}

uses_system_engine() {
  [ "${TENTACLE_DOCKER:-}" = system ] && return 0
  [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST}" != "unix://$SOCK" ] && engine_answers && return 0
  return 1
}

cmd_up() {
  if uses_system_engine; then
    engine_answers || die "TENTACLE_DOCKER=system but no Docker engine answers"
    log "using the Docker engine already running"
    if [ "${TENTACLE_BASE_IMAGE:-}" != "" ]; then import_base; fi
    echo "export TENTACLE_DOCKER=system"
    [ -n "${TENTACLE_BASE_IMAGE:-}" ] && echo "export TENTACLE_BASE_IMAGE=$BASE_IMAGE"
    return
  fi
  install_packages
  start_daemon
  import_base -H "unix://$SOCK"
  print_env
}

cmd_down() {
  if uses_system_engine; then
    log "system engine: nothing to stop"
    return
  fi
  if [ ! -d "$DIR" ]; then log "nothing to tear down"; return; fi
  local pid=""
  [ -f "$DIR/docker.pid" ] && pid="$(cat "$DIR/docker.pid")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    # Containers and networks first, while the daemon can still undo its own plumbing.
    local ids
    ids="$(dockercli ps -aq 2>/dev/null || true)"
    [ -n "$ids" ] && dockercli rm -f $ids >/dev/null 2>&1 || true
    dockercli network prune -f >/dev/null 2>&1 || true
    log "stopping dockerd (pid $pid)"
    kill -TERM "$pid"
    local i
    for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then log "dockerd still running after 30 s: SIGKILL"; kill -KILL "$pid" || true; fi
  fi
  # containerd and its shims started by this dockerd (their command lines name our exec root).
  local p
  for p in $(pgrep -f -- "$DIR/" || true); do
    [ "$p" = "$$" ] && continue
    log "killing leftover process $p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-80))"
    kill -KILL "$p" 2>/dev/null || true
  done
  # Mounts under our dirs, deepest first.
  local m
  for m in $(awk -v d="$DIR" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  # Bridges this engine made (br-… for compose networks) that its own teardown missed.
  if [ -f "$DIR/bridges.before" ]; then
    local b
    for b in $(ip -o link show type bridge 2>/dev/null | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort | comm -13 "$DIR/bridges.before" - || true); do
      case "$b" in br-*|docker0) log "removing bridge $b"; ip link delete "$b" 2>/dev/null || true ;; esac
    done
  fi
  # What is left is a failure (CI runs this last): processes, namespaces, bridges, files.
  local left=""
  for p in $(pgrep -f -- "$DIR/" || true); do [ "$p" != "$$" ] && left+=" process $p"; done
  grep -q " $DIR" /proc/self/mounts && left+=" mounts under $DIR"
  if [ -f "$DIR/bridges.before" ]; then
    local extra
    extra=$(ip -o link show type bridge 2>/dev/null | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort | comm -13 "$DIR/bridges.before" - | tr '\n' ' ')
    [ -n "${extra// /}" ] && left+=" bridges $extra"
  fi
  rm -rf "$DIR" 2>/dev/null || true
  [ -e "$DIR" ] && left+=" $DIR"
  if [ -n "$left" ]; then
    log "LEFT BEHIND:$left"
    return 1
  fi
  log "engine removed; nothing left"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  env) print_env ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac

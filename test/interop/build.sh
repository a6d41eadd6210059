#!/usr/bin/env bash
# Builds the interop driver programs from the package registries and installs
# them into $HOME/.cache/tentacle-ts/bin (see test/interop/README.md):
#   secio-peer, yamux-peer, tentacle-peer   Rust, crates.io (test/interop/rust)
#   tentacle-simple                         tentacle's examples/simple.rs, from the registry copy
#   go-yamux-peer                           Go, module proxy (test/interop/go)
#   ckb-network-peer                        Rust, crates.io ckb-network (test/interop/ckb-network,
#                                           its own Cargo.lock and target dir)
# Idempotent: cargo's and go's own caches decide what to rebuild, so a second
# run takes seconds. Build output stays outside the clone.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${TENTACLE_TS_CACHE:-$HOME/.cache/tentacle-ts}
bin=$cache/bin
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/cargo-target}
mkdir -p "$bin" "$CARGO_TARGET_DIR"

# Toolchains installed per user may not be on PATH in a fresh shell.
for d in "$HOME/.cargo/bin" /usr/local/go/bin "$HOME/go/bin"; do
  [[ -d $d && ":$PATH:" != *":$d:"* ]] && PATH="$PATH:$d"
done
export PATH

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "test/interop/build.sh: '$1' not found ($2)" >&2; exit 1; }
}
need cargo "install Rust (rustup) to build the Rust interop peers"
need go "install Go >= 1.22 to build the Go interop peer"
need pkg-config "Debian: apt-get install pkg-config libssl-dev (tentacle-secio links OpenSSL)"

# Several test runs may start at once on one machine: build one at a time.
exec 9>"$cache/build.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

start=$(date +%s)

# Copy a freshly built binary into $bin only when it changed, via rename, so
# a driver that is running right now is never overwritten in place.
install_bin() {
  local src=$1 name=$2
  if ! cmp -s "$src" "$bin/$name" 2>/dev/null; then
    cp "$src" "$bin/.$name.tmp.$$"
    chmod 0755 "$bin/.$name.tmp.$$"
    mv -f "$bin/.$name.tmp.$$" "$bin/$name"
  fi
}

echo "test/interop/build.sh: cargo build (target dir $CARGO_TARGET_DIR)" >&2
(cd "$here/rust" && cargo build --release --locked --bins)
for src in "$here"/rust/src/bin/*.rs; do
  b=$(basename "$src" .rs)
  install_bin "$CARGO_TARGET_DIR/release/$b" "$b"
done

# tentacle's own `simple` example, built from the registry copy of the locked
# tentacle crate (unpacked by the build above; its source is never copied into
# the clone): rust/examples/tentacle-simple.rs only include!s the file named
# by TENTACLE_SIMPLE_RS, so it shares our locked dependencies and their
# compiled artifacts (tentacle with tokio-runtime,tokio-timer, default
# features off). The example listens on / dials the fixed port 1337.
tentacle_version=$(awk '/^name = "tentacle"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$here/rust/Cargo.lock")
simple_rs=
for f in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"tentacle-$tentacle_version"/examples/simple.rs; do
  [[ -f $f ]] && { simple_rs=$f; break; }
done
[[ -n $simple_rs ]] || { echo "test/interop/build.sh: tentacle $tentacle_version's examples/simple.rs not found in the cargo registry" >&2; exit 1; }
step=$(date +%s)
echo "test/interop/build.sh: cargo build --example tentacle-simple (from $simple_rs)" >&2
(cd "$here/rust" && TENTACLE_SIMPLE_RS=$simple_rs cargo build --release --locked --example tentacle-simple)
install_bin "$CARGO_TARGET_DIR/release/examples/tentacle-simple" tentacle-simple
echo "test/interop/build.sh: tentacle-simple ready ($(( $(date +%s) - step )) s)" >&2

echo "test/interop/build.sh: go build" >&2
(cd "$here/go" && GOFLAGS=-mod=readonly go build -trimpath -o "$cache/go-yamux-peer.out" ./cmd/go-yamux-peer)
install_bin "$cache/go-yamux-peer.out" go-yamux-peer

# ckb-network-peer: CKB's network layer (crates.io ckb-network), a separate
# Cargo project with its own lock (ckb-network needs other versions than the
# drivers above) and its own target dir. ckb-network turns on tentacle's
# openssl-vendored feature; OPENSSL_NO_VENDOR=1 makes openssl-sys link the
# system OpenSSL (libssl-dev, needed above anyway) instead of compiling
# OpenSSL from source.
step=$(date +%s)
echo "test/interop/build.sh: cargo build ckb-network-peer (target dir $cache/ckb-network-target)" >&2
(cd "$here/ckb-network" && OPENSSL_NO_VENDOR=1 CARGO_TARGET_DIR="$cache/ckb-network-target" cargo build --release --locked)
install_bin "$cache/ckb-network-target/release/ckb-network-peer" ckb-network-peer
echo "test/interop/build.sh: ckb-network-peer ready ($(( $(date +%s) - step )) s)" >&2

echo "test/interop/build.sh: drivers ready in $bin ($(( $(date +%s) - start )) s)" >&2

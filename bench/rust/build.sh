#!/usr/bin/env bash
# Builds the Rust tentacle bench peer (bench/rust, tentacle 0.7.7 from
# crates.io, locked) into $HOME/.cache/tentacle-ts/bin/tentacle-bench.
# Idempotent: cargo decides what to rebuild. Build output stays outside the clone.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${TENTACLE_TS_CACHE:-$HOME/.cache/tentacle-ts}
bin=$cache/bin
# Its own target dir: release at opt-level 3 (the interop drivers build at 1).
export CARGO_TARGET_DIR=${TENTACLE_TS_BENCH_TARGET:-$cache/bench-target}
mkdir -p "$bin" "$CARGO_TARGET_DIR"

for d in "$HOME/.cargo/bin"; do
  [[ -d $d && ":$PATH:" != *":$d:"* ]] && PATH="$PATH:$d"
done
export PATH
command -v cargo >/dev/null 2>&1 || { echo "bench/rust/build.sh: cargo not found (install Rust with rustup)" >&2; exit 1; }
command -v pkg-config >/dev/null 2>&1 || { echo "bench/rust/build.sh: pkg-config not found (Debian: apt-get install pkg-config libssl-dev)" >&2; exit 1; }

# One build at a time on this machine (shares the lock with test/interop/build.sh).
exec 9>"$cache/build.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

(cd "$here" && cargo build --release --locked --bin tentacle-bench)
src=$CARGO_TARGET_DIR/release/tentacle-bench
if ! cmp -s "$src" "$bin/tentacle-bench" 2>/dev/null; then
  cp "$src" "$bin/.tentacle-bench.tmp.$$"
  chmod 0755 "$bin/.tentacle-bench.tmp.$$"
  mv -f "$bin/.tentacle-bench.tmp.$$" "$bin/tentacle-bench"
fi
echo "bench/rust/build.sh: $bin/tentacle-bench ready" >&2

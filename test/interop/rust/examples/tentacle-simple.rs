//! tentacle's own `simple` example (examples/simple.rs of the crates.io
//! `tentacle` crate, the version in Cargo.lock), compiled unchanged from the
//! copy cargo unpacked in its registry; its source is never copied here.
//! interop/build.sh sets TENTACLE_SIMPLE_RS to that file and runs
//! `cargo build --release --locked --example tentacle-simple`, so it builds
//! with our locked dependencies (tentacle with `tokio-runtime,tokio-timer`,
//! default features off) and reuses their compiled artifacts.
// The example's `#[cfg(feature = "ws")]` names tentacle's feature, not one of ours.
#![allow(unexpected_cfgs)]

include!(env!("TENTACLE_SIMPLE_RS"));

//! Fuzz target: see `harness::blocks`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| harness::blocks(bytes));

//! Fuzz target: see `harness::escaping`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| harness::escaping(bytes));

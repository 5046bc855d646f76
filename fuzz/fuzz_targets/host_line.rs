//! Fuzz target: see `harness::host_line`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| harness::host_line(bytes));

//! Fuzz target: see `harness::client_line`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| harness::client_line(bytes));

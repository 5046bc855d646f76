//! Fuzz target: see `harness::host_secure`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| harness::host_secure(bytes));

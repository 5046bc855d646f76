//! Fuzz target: see `harness::participant_replies`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| harness::participant_replies(bytes));

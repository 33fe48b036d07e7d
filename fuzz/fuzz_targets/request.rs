//! Fuzzes the request/v1 parser: untrusted JSON from a task's input or a
//! queue message, then its canonical hash.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tapprove_core::fuzzing::request(data));

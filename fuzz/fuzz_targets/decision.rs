//! Fuzzes the approval/v1 parser: untrusted JSON sent back by an approver,
//! then the statement challenge and the embedded authenticator data and
//! clientDataJSON.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tapprove_core::fuzzing::decision(data));

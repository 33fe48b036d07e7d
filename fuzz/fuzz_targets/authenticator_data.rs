//! Fuzzes the WebAuthn binary parsers on the same bytes: authenticator
//! data, a COSE_Key and an attestation object (CBOR).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tapprove_core::fuzzing::authenticator_data(data));

//! Schema parsing must never panic; what parses must round-trip.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ovsdb::fuzzing::schema_parse(data);
});

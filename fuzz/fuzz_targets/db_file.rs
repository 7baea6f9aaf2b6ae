//! The .db file reader must never panic on any bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ovsdb::fuzzing::db_file(data);
});

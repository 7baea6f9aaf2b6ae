//! Datum and atom JSON parsing must never panic, and whatever parses must
//! survive a round trip through its JSON form.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ovsdb::fuzzing::datum_json(data);
});

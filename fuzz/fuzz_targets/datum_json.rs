//! Datum and atom JSON parsing must never panic, and whatever parses must
//! survive a round trip through its JSON form.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(d) = ovsdb::Datum::from_json_untyped(&v) {
            let again = ovsdb::Datum::from_json_untyped(&d.to_json()).expect("re-parse");
            assert_eq!(again, d);
        }
    }
});

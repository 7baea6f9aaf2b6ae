//! OpenFlow message parsing must never panic, and whatever parses must
//! emit to bytes that parse back to the same message.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ovnflow_southbound::openflow::fuzzing::openflow_parse(data);
});

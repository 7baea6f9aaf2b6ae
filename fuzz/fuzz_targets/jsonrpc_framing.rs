//! The JSON-RPC framer must never panic or loop, however the bytes are split.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ovsdb::fuzzing::jsonrpc_framing(data);
});

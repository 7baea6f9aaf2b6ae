//! Replays the cargo-fuzz corpora on stable, and runs the same entry points
//! on random inputs with proptest.
use std::path::Path;

use ovsdb::fuzzing;
use proptest::prelude::*;

fn replay(target: &str, f: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        f(&std::fs::read(&p).unwrap());
        n += 1;
    }
    n
}

#[test]
fn corpora_replay_without_failures() {
    for (t, f) in [
        ("datum_json", fuzzing::datum_json as fn(&[u8])),
        ("jsonrpc_framing", fuzzing::jsonrpc_framing),
        ("schema_parse", fuzzing::schema_parse),
        ("db_file", fuzzing::db_file),
    ] {
        assert!(replay(t, f) > 0, "corpus of {t} is empty");
    }
}

fn json_atom() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        any::<i64>().prop_map(serde_json::Value::from),
        (-1e6f64..1e6).prop_map(serde_json::Value::from),
        any::<bool>().prop_map(serde_json::Value::from),
        ".{0,8}".prop_map(serde_json::Value::from),
        any::<u128>()
            .prop_map(|u| serde_json::json!(["uuid", uuid::Uuid::from_u128(u).to_string()])),
    ]
}

proptest! {
    #[test]
    fn datum_json_round_trips(atoms in proptest::collection::vec(json_atom(), 0..6), pairs in proptest::collection::vec((".{0,4}", ".{0,4}"), 0..6)) {
        let set = serde_json::json!(["set", atoms]);
        fuzzing::datum_json(set.to_string().as_bytes());
        let d = ovsdb::Datum::from_json_untyped(&set).unwrap();
        prop_assert_eq!(ovsdb::Datum::from_json_untyped(&d.to_json()).unwrap(), d);
        let map: Vec<serde_json::Value> = pairs.iter().map(|(k, v)| serde_json::json!([k, v])).collect();
        let m = ovsdb::Datum::from_json_untyped(&serde_json::json!(["map", map])).unwrap();
        prop_assert_eq!(ovsdb::Datum::from_json_untyped(&m.to_json()).unwrap(), m);
    }

    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        fuzzing::datum_json(&bytes);
        fuzzing::jsonrpc_framing(&bytes);
        fuzzing::schema_parse(&bytes);
        fuzzing::db_file(&bytes);
    }

    #[test]
    fn framer_splits_anywhere(cut in 0usize..200) {
        let msgs = br#"{"method":"update3","params":["m","00000000-0000-0000-0000-000000000000",{"T":{"u":{"insert":{"s":"a]}\"b"}}}}],"id":null} {"id":7,"result":{},"error":null}"#;
        let mut b = msgs.to_vec();
        b.insert(0, cut as u8);
        fuzzing::jsonrpc_framing(&b);
    }
}

//! Entry points shared by the cargo-fuzz targets in `fuzz/` and by the test
//! that replays their corpora on stable (`tests/fuzz_corpus.rs`). Each must
//! never panic on any input except through the invariant assertions it
//! states.

/// Datum JSON: parse, and check that what parses survives a round trip;
/// and that the typed parsers straight from text ([`crate::de`]) accept
/// exactly what [`crate::Datum::from_json`] accepts, with equal results,
/// for every column type.
pub fn datum_json(data: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(d) = crate::Datum::from_json_untyped(&v) {
            let again =
                crate::Datum::from_json_untyped(&d.to_json()).expect("re-parse of our own JSON");
            assert_eq!(again, d);
        }
        let text = std::str::from_utf8(data).expect("JSON that parsed is UTF-8");
        use crate::atom::AtomType::*;
        use crate::schema::{BaseType, ColumnType};
        for key in [Integer, Real, Boolean, String, Uuid] {
            for value in [None, Some(Integer), Some(Real), Some(String), Some(Uuid)] {
                let ty = ColumnType {
                    key: BaseType::plain(key),
                    value: value.map(BaseType::plain),
                    min: 0,
                    max: None,
                };
                let want = crate::Datum::from_json(&v, key, value).ok();
                assert_eq!(crate::de::datum_from_str(text, &ty).ok(), want, "{ty:?}");
            }
        }
    }
}

/// JSON-RPC framing: feed the bytes whole and in two pieces; both must
/// give the same messages or both fail.
pub fn jsonrpc_framing(data: &[u8]) {
    let run = |chunks: &[&[u8]]| {
        let mut f = crate::jsonrpc::Framer::new(1 << 20);
        let mut out = Vec::new();
        for c in chunks {
            f.push(c);
            loop {
                match f.next_message() {
                    Ok(Some(m)) => out.push(m),
                    Ok(None) => break,
                    Err(_) => return (out, true),
                }
            }
        }
        (out, false)
    };
    let whole = run(&[data]);
    let cut = data.first().map_or(0, |b| *b as usize % (data.len() + 1));
    let split = run(&[&data[..cut], &data[cut..]]);
    assert_eq!(whole, split);
}

/// Schema parsing: what parses must serialize back to an equal schema.
pub fn schema_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(s) = crate::schema::DatabaseSchema::from_str(text) {
        let again = crate::schema::DatabaseSchema::from_json(&s.to_json())
            .expect("re-parse of our own schema JSON");
        assert_eq!(again, s);
    }
}

/// The standalone .db reader on arbitrary bytes.
pub fn db_file(data: &[u8]) {
    let _ = crate::file::read_db_bytes(data, "fuzz.db");
}

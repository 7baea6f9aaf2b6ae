//! Replays the cargo-fuzz corpus of `openflow_parse` on stable, and runs
//! the same entry point on random and on mutated valid messages.
use std::path::Path;

use ovnflow_southbound::openflow::fuzzing::openflow_parse;
use proptest::prelude::*;

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/openflow_parse");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect()
}

#[test]
fn openflow_corpus_replays_without_failures() {
    let files = corpus();
    assert!(files.len() >= 10, "corpus of openflow_parse is too small");
    let mut parsed = 0;
    for f in &files {
        openflow_parse(f);
        if ovnflow_southbound::openflow::wire::Message::parse(f).is_ok() {
            parsed += 1;
        }
    }
    assert!(
        parsed >= 10,
        "only {parsed} corpus entries are valid messages"
    );
}

proptest! {
    #[test]
    fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        openflow_parse(&bytes);
    }

    #[test]
    fn mutated_messages_never_panic(pick in any::<usize>(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        let files = corpus();
        let mut m = files[pick % files.len()].clone();
        for (at, b) in flips {
            let n = m.len();
            m[at % n] = b;
        }
        openflow_parse(&m);
    }
}

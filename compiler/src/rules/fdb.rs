//! FDB learning (`build_lswitch_learn_fdb_op()` / `build_lswitch_learn_fdb_od()`
//! in northd.c): ports with the `unknown` address and no port security learn
//! source MACs.

use super::{Lflow, PortCtx, SwitchCtx};
use crate::stage::Stage;

/// `ls_in_lookup_fdb` and `ls_in_put_fdb` priority 0 `next;`.
pub fn learn_fdb_od(sw: &SwitchCtx, out: &mut Vec<Lflow>) {
    out.push(Lflow::new(
        sw.uuid,
        Stage::LsInLookupFdb,
        0,
        "1",
        "next;",
        5757,
    ));
    out.push(Lflow::new(
        sw.uuid,
        Stage::LsInPutFdb,
        0,
        "1",
        "next;",
        5758,
    ));
}

/// For a VIF port (or a localnet port with `localnet_learn_fdb=true`) with
/// `unknown` and no parsable port security: `ls_in_lookup_fdb` priority 100
/// `lookup_fdb` and `ls_in_put_fdb` priority 100 `put_fdb`.
pub fn learn_fdb_op(p: &PortCtx, out: &mut Vec<Lflow>) {
    let lsp = &p.lsp;
    let learns =
        lsp.type_.is_empty() || (lsp.type_ == "localnet" && lsp.option_true("localnet_learn_fdb"));
    if p.n_ps_addrs() != 0 || !p.has_unknown() || !learns {
        return;
    }
    let m = format!("inport == {}", p.json_key());
    out.push(
        Lflow::new(
            p.ls,
            Stage::LsInLookupFdb,
            100,
            &m,
            "reg0[11] = lookup_fdb(inport, eth.src); next;",
            5736,
        )
        .io_port(&lsp.name)
        .hint(lsp.uuid),
    );
    out.push(
        Lflow::new(
            p.ls,
            Stage::LsInPutFdb,
            100,
            &format!("{m} && reg0[11] == 0"),
            "put_fdb(inport, eth.src); next;",
            5744,
        )
        .io_port(&lsp.name)
        .hint(lsp.uuid),
    );
}

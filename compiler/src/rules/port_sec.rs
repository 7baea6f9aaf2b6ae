//! Admission control and port security (`build_lswitch_lflows_admission_control()`,
//! `build_lswitch_port_sec_op()`, `build_lswitch_output_port_sec_od()` in
//! northd.c).
//!
//! In 23.03 MAC/IP/ND port security is enforced by ovn-controller through the
//! `check_in_port_sec()` / `check_out_port_sec()` actions; northd only adds
//! the generic flows below plus per-port flows for disabled and VTEP ports.

use super::{Lflow, PortCtx, SwitchCtx, DROP};
use crate::stage::Stage;

/// `ls_in_check_port_sec` priority 100 drops of VLAN-tagged (unless
/// `vlan-passthru`) and multicast-source packets, priority 50
/// `check_in_port_sec()`; `ls_in_apply_port_sec` priority 50 drop and 0 `next;`.
pub fn admission_control(sw: &SwitchCtx, out: &mut Vec<Lflow>) {
    let dp = sw.uuid;
    if !sw.vlan_passthru {
        out.push(Lflow::new(
            dp,
            Stage::LsInCheckPortSec,
            100,
            "vlan.present",
            DROP,
            8424,
        ));
    }
    out.push(Lflow::new(
        dp,
        Stage::LsInCheckPortSec,
        100,
        "eth.src[40]",
        DROP,
        8429,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LsInCheckPortSec,
        50,
        "1",
        "reg0[15] = check_in_port_sec(); next;",
        8432,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LsInApplyPortSec,
        50,
        "reg0[15] == 1",
        DROP,
        8435,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LsInApplyPortSec,
        0,
        "1",
        "next;",
        8438,
    ));
}

/// Per-port flows (`build_lswitch_port_sec_op()`): a disabled port gets
/// `ls_in_check_port_sec` priority 100 `reg0[15] = 1; next;` and
/// `ls_in_l2_unknown` priority 50 drop; a `vtep` port gets priority 70 jumping
/// to `ls_in_hairpin`. External ports get nothing.
pub fn port_sec_op(p: &PortCtx, out: &mut Vec<Lflow>) {
    let lsp = &p.lsp;
    if lsp.type_ == "external" {
        return;
    }
    let key = p.json_key();
    if !lsp.is_enabled() {
        out.push(
            Lflow::new(
                p.ls,
                Stage::LsInCheckPortSec,
                100,
                &format!("inport == {key}"),
                "reg0[15] = 1; next;",
                5673,
            )
            .io_port(&lsp.name)
            .hint(lsp.uuid),
        );
        out.push(
            Lflow::new(
                p.ls,
                Stage::LsInL2Unknown,
                50,
                &format!("outport == {key}"),
                DROP,
                5680,
            )
            .io_port(&lsp.name)
            .hint(lsp.uuid),
        );
        return;
    }
    if lsp.type_ == "vtep" {
        let actions = format!(
            "reg0[14] = 1; next(pipeline=ingress, table={});",
            Stage::LsInHairpin.table()
        );
        out.push(
            Lflow::new(
                p.ls,
                Stage::LsInCheckPortSec,
                70,
                &format!("inport == {key}"),
                &actions,
                5695,
            )
            .io_port(&lsp.name)
            .hint(lsp.uuid),
        );
    }
}

/// `ls_out_check_port_sec` priority 100 (multicast skips port security) and 0
/// `check_out_port_sec()`; `ls_out_apply_port_sec` priority 50 drop and 0
/// `output;` (`build_lswitch_output_port_sec_od()`).
pub fn output_port_sec_od(sw: &SwitchCtx, out: &mut Vec<Lflow>) {
    let dp = sw.uuid;
    out.push(Lflow::new(
        dp,
        Stage::LsOutCheckPortSec,
        100,
        "eth.mcast",
        "reg0[15] = 0; next;",
        5770,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LsOutCheckPortSec,
        0,
        "1",
        "reg0[15] = check_out_port_sec(); next;",
        5772,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LsOutApplyPortSec,
        50,
        "reg0[15] == 1",
        DROP,
        5775,
    ));
    out.push(Lflow::new(
        dp,
        Stage::LsOutApplyPortSec,
        0,
        "1",
        "output;",
        5777,
    ));
}

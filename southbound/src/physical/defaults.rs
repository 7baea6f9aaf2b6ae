//! The chassis-wide flows of `physical_run` (`controller/physical.c`,
//! 23.03), all with cookie 0:
//!
//! * table 0 priority 0: drop what no port or tunnel claimed;
//! * tables 37/38: large-packet detection defaults (`resubmit(,39)`;
//!   table 38 priority 10 sends loopback traffic to 40);
//! * table 39 priority 150: ramp traffic and `MLF_LOCAL_ONLY` stay local;
//!   priority 0 → 40;
//! * table 40 priority 0: drop;
//! * table 41 priority 0: clear `reg0`..`reg9`, enter the egress pipeline;
//! * table 64 priority 0 → 65; table 65 priority 0: drop.

use super::*;
use crate::actions::OfAction;
use crate::flow_table::{FlowTable, OfFlow};

fn add(flows: &mut FlowTable, table: u8, priority: u16, of_match: OfMatch, actions: Vec<OfAction>) {
    flows.add(OfFlow {
        table,
        priority,
        cookie: 0,
        of_match,
        actions,
    });
}

/// Adds the default flows.
pub fn add_default_flows(flows: &mut FlowTable) {
    let any = OfMatch::new;
    let flags = |value, mask| {
        let mut m = OfMatch::new();
        match_flags(&mut m, value, mask);
        m
    };
    add(flows, PHY_TO_LOG, 0, any(), Vec::new());
    add(
        flows,
        OUTPUT_LARGE_PKT_DETECT,
        0,
        any(),
        vec![OfAction::Resubmit(REMOTE_OUTPUT)],
    );
    add(
        flows,
        OUTPUT_LARGE_PKT_PROCESS,
        10,
        flags(MLF_ALLOW_LOOPBACK, MLF_ALLOW_LOOPBACK),
        vec![OfAction::Resubmit(LOCAL_OUTPUT)],
    );
    add(
        flows,
        OUTPUT_LARGE_PKT_PROCESS,
        0,
        any(),
        vec![OfAction::Resubmit(REMOTE_OUTPUT)],
    );
    add(
        flows,
        REMOTE_OUTPUT,
        150,
        flags(MLF_RCV_FROM_RAMP, MLF_RCV_FROM_RAMP | MLF_ALLOW_LOOPBACK),
        vec![OfAction::Resubmit(LOCAL_OUTPUT)],
    );
    add(
        flows,
        REMOTE_OUTPUT,
        150,
        flags(MLF_LOCAL_ONLY, MLF_LOCAL_ONLY),
        vec![OfAction::Resubmit(LOCAL_OUTPUT)],
    );
    add(
        flows,
        REMOTE_OUTPUT,
        0,
        any(),
        vec![OfAction::Resubmit(LOCAL_OUTPUT)],
    );
    add(flows, LOCAL_OUTPUT, 0, any(), Vec::new());
    let mut clear: Vec<OfAction> = (0..10).map(|r| load_reg(r, 0)).collect();
    clear.push(OfAction::Resubmit(LOG_EGRESS));
    add(flows, CHECK_LOOPBACK, 0, any(), clear);
    add(
        flows,
        SAVE_INPORT,
        0,
        any(),
        vec![OfAction::Resubmit(LOG_TO_PHY)],
    );
    add(flows, LOG_TO_PHY, 0, any(), Vec::new());
}

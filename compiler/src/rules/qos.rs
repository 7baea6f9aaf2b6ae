//! QoS rules of switches (`build_qos()` in northd.c): each NB `QoS` row on
//! a switch marks DSCP in `ls_in_qos_mark` / `ls_out_qos_mark` and limits
//! bandwidth in `ls_in_qos_meter` / `ls_out_qos_meter` (`set_meter()`); the
//! priority-0 defaults are in [`super::lb::qos`].

use ovsdb::Uuid;

use super::Lflow;
use crate::nb::Qos;
use crate::stage::Stage;

/// The flows of QoS rule `q` on switch `ls`, hinted with the rule: a mark
/// flow per `action:dscp`, and a meter flow when `bandwidth:rate` is set
/// (`set_meter(rate)` or `set_meter(rate, burst)`; a burst without rate
/// adds nothing). Any direction other than `from-lport` is egress, as in
/// northd.
pub fn qos_flows(ls: Uuid, q: &Qos) -> Vec<Lflow> {
    let ingress = q.direction == "from-lport";
    let priority = q.priority.clamp(0, i64::from(u16::MAX)) as u16;
    let mut out = Vec::new();
    if let Some(dscp) = q.dscp {
        let stage = if ingress {
            Stage::LsInQosMark
        } else {
            Stage::LsOutQosMark
        };
        let a = format!("ip.dscp = {dscp}; next;");
        out.push(Lflow::new(ls, stage, priority, &q.match_, &a, 7022).hint(q.uuid));
    }
    if q.rate != 0 {
        let stage = if ingress {
            Stage::LsInQosMeter
        } else {
            Stage::LsOutQosMeter
        };
        let a = if q.burst != 0 {
            format!("set_meter({}, {}); next;", q.rate, q.burst)
        } else {
            format!("set_meter({}); next;", q.rate)
        };
        out.push(Lflow::new(ls, stage, priority, &q.match_, &a, 7053).hint(q.uuid));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(direction: &str, dscp: Option<i64>, rate: i64, burst: i64) -> Qos {
        Qos {
            uuid: Uuid::nil(),
            priority: 100,
            direction: direction.into(),
            match_: "ip4".into(),
            dscp,
            rate,
            burst,
        }
    }

    #[test]
    fn dscp_and_rate_give_one_flow_each() {
        let f = qos_flows(Uuid::nil(), &rule("from-lport", Some(10), 1000, 100));
        assert_eq!(f.len(), 2);
        assert_eq!(
            (f[0].stage, &f[0].actions[..]),
            (Stage::LsInQosMark, "ip.dscp = 10; next;")
        );
        assert_eq!(
            (f[1].stage, &f[1].actions[..]),
            (Stage::LsInQosMeter, "set_meter(1000, 100); next;")
        );
    }

    #[test]
    fn burst_alone_adds_nothing() {
        assert!(qos_flows(Uuid::nil(), &rule("to-lport", None, 0, 10)).is_empty());
        let f = qos_flows(Uuid::nil(), &rule("to-lport", None, 64, 0));
        assert_eq!(
            (f[0].stage, &f[0].actions[..]),
            (Stage::LsOutQosMeter, "set_meter(64); next;")
        );
    }
}

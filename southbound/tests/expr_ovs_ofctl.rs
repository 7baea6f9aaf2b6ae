//! Differential test of the OpenFlow match text against real OVS: every
//! match we produce for the OVN flow vectors (and for generated
//! expressions) is fed to `ovs-ofctl parse-flows`, which re-prints it with
//! OVS's own `match_format`; the two texts must be identical.
//!
//! Needs only the `ovs-ofctl` binary (no daemon).  Without it the test is
//! skipped, unless the `CI` environment variable is set, where it fails.

mod expr_common;

use std::io::Write as _;
use std::process::Command;

fn ovs_ofctl_available() -> bool {
    let found = Command::new("ovs-ofctl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var_os("CI").is_some() {
        panic!("ovs-ofctl is required when CI is set");
    }
    found
}

/// Our match texts for a set of expressions (through every step).
fn our_matches() -> Vec<String> {
    let mut inputs: Vec<String> = include_str!("data/expr_to_flows.txt")
        .lines()
        .filter_map(|l| l.strip_prefix("expr: ").map(str::to_string))
        .collect();
    inputs.extend(
        [
            "vlan.pcp == 3 && vlan.vid == 10",
            "vlan.present",
            "ct.new && !ct.est && ct_label.blocked == 1",
            "ct_label.ecmp_reply_port == 5",
            "nd_ns && nd.sll == 00:11:22:33:44:55",
            "nd_na && nd.tll == 00:11:22:33:44:55 && nd.target == fe80::1",
            "arp.op == 1 && arp.spa == 10.0.0.1 && arp.tha == 00:00:00:00:00:01",
            "rarp && rarp.tpa == 10.0.0.0/24",
            "icmp4.type == 3 && icmp4.code == 4",
            "icmp6.type == 128",
            "ip.ttl == {0, 1}",
            "ip.later_frag",
            "ip.first_frag",
            "tcp.flags == 0x2",
            "tcp.flags[1] == 1 && tcp.flags[4] == 0",
            "ip6.label == 0x12345",
            "ip6.dst == ff02::1:ff00:0/104",
            "ip4.mcast",
            "ip6.mcast_flood",
            "eth.mcast && eth.src == 00:00:00:00:00:00/01:00:00:00:00:00",
            "flags.loopback == 1 && reg9[0] == 1 && xxreg1[0..63] == 0x1",
            "xreg4[0..31] == 0x1 && reg8 == 0x2",
            "pkt.mark == 0x10",
            "sctp.dst == 80 && udp",
            "udp.src == 53 || udp.dst == 53",
            "ct_mark.blocked == 0 && ct_mark.ecmp_reply_port == 3",
            "igmp",
            "mldv1",
            "mldv2",
        ]
        .into_iter()
        .map(str::to_string),
    );
    let mut out = Vec::new();
    for input in inputs {
        for line in expr_common::run(&input, 4) {
            if line != "(no flows)" {
                let m = line
                    .split(": conjunction")
                    .next()
                    .unwrap_or_default()
                    .to_string();
                out.push(m);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn match_text_matches_ovs_ofctl() {
    if !ovs_ofctl_available() {
        eprintln!("skipping: ovs-ofctl not on PATH");
        return;
    }
    let matches = our_matches();
    assert!(matches.len() > 100, "too few matches: {}", matches.len());
    let dir = std::env::temp_dir().join(format!("ovnflow-expr-ofctl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("flows.txt");
    let mut f = std::fs::File::create(&file).expect("flows file");
    for m in &matches {
        let sep = if m.is_empty() { "" } else { "," };
        writeln!(f, "{m}{sep}actions=drop").expect("write");
    }
    drop(f);
    let output = Command::new("ovs-ofctl")
        .args(["-O", "OpenFlow15", "parse-flows"])
        .arg(&file)
        .output()
        .expect("run ovs-ofctl");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "ovs-ofctl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.split_once(": ADD ").map(|(_, rest)| rest))
        .map(|rest| {
            rest.strip_suffix("actions=drop")
                .unwrap_or(rest)
                .trim_end()
                .to_string()
        })
        .collect();
    assert_eq!(theirs.len(), matches.len());
    let mismatches: Vec<_> = matches
        .iter()
        .zip(&theirs)
        .filter(|(a, b)| a != b)
        .collect();
    println!(
        "ovs-ofctl agrees on {} of {} match texts",
        matches.len() - mismatches.len(),
        matches.len()
    );
    assert!(mismatches.is_empty(), "ours vs ovs-ofctl: {mismatches:#?}");
}

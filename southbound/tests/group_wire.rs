//! Groups byte-exact with OVS: for each group text of the kinds
//! ovn-controller 23.03 installs (`ct_lb`/`ct_lb_mark` with and without
//! hash fields, IPv4/IPv6 backends with and without ports, `select` with a
//! selection-method parameter, `fwd_group` with and without liveness),
//! `ovs-ofctl -O OpenFlow15 add-group` is pointed at a fake switch that
//! records the `OFPT_GROUP_MOD` it sends; our
//! [`ovnflow_southbound::openflow::groups::parse_group`] must encode the
//! same bytes.  Needs `ovs-ofctl` (with `CI` set its absence is a failure).

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::process::Command;
use std::time::Duration;

use ovnflow_southbound::openflow::groups::parse_group;
use ovnflow_southbound::openflow::wire::{frame_len, version_bitmap, Body, Message, OFP15_VERSION};

const SPECS: &[&str] = &[
    "type=select,selection_method=dp_hash,bucket=bucket_id=0,weight:100,actions=ct(nat(dst=10.0.0.2:80),commit,table=15,zone=NXM_NX_REG13[0..15],exec(set_field:2/2->ct_mark)),bucket=bucket_id=1,weight:100,actions=ct(nat(dst=10.0.0.3:8080),commit,table=15,zone=NXM_NX_REG13[0..15],exec(set_field:2/2->ct_mark))",
    "type=select,selection_method=dp_hash,bucket=bucket_id=0,weight:100,actions=ct(nat(dst=10.0.0.2),commit,table=15,zone=NXM_NX_REG13[0..15],exec(set_field:2/2->ct_mark,set_field:4/4->ct_mark))",
    "type=select,selection_method=hash,fields(ip_dst,ip_src,tcp_dst,tcp_src),bucket=bucket_id=0,weight:100,actions=ct(nat(dst=[fd00::2]:80),commit,table=15,zone=NXM_NX_REG13[0..15],exec(set_field:2/2->ct_label)),bucket=bucket_id=1,weight:100,actions=ct(nat(dst=fd00::3),commit,table=15,zone=NXM_NX_REG13[0..15],exec(set_field:2/2->ct_label,set_field:8/8->ct_label))",
    "type=select,selection_method=dp_hash,bucket=bucket_id=0,weight:100,actions=ct(nat(dst=172.16.0.5:443),commit,table=20,zone=NXM_NX_REG11[0..15],exec(set_field:2/2->ct_mark,set_field:8/8->ct_mark))",
    "type=select,selection_method=dp_hash,selection_method_param=0x100000000,bucket=bucket_id=0,weight:100,actions=load:1->reg8[0..15],resubmit(,21),bucket=bucket_id=1,weight:50,actions=load:2->reg8[0..15],resubmit(,21)",
    "type=select,selection_method=dp_hash,bucket=bucket_id=0,weight:100,actions=load:1->reg8[16..31],resubmit(,21)",
    "type=select,selection_method=dp_hash,bucket=watch_port:5,load=0x1->NXM_NX_REG15[0..15],resubmit(,37),bucket=watch_port:6,load=0x2->NXM_NX_REG15[0..15],resubmit(,37)",
    "type=select,selection_method=dp_hash,bucket=load=0x10->NXM_NX_REG15[0..15],resubmit(,37),bucket=load=0x11->NXM_NX_REG15[0..15],resubmit(,37)",
];

fn have_ofctl() -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("ovs-ofctl").is_file()));
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but ovs-ofctl is missing"
        );
        eprintln!("skipped: ovs-ofctl not installed");
    }
    found
}

fn read_msg(s: &mut std::os::unix::net::UnixStream, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    loop {
        if let Ok(Some(n)) = frame_len(buf) {
            let m = buf[..n].to_vec();
            buf.drain(..n);
            return Some(m);
        }
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The `GROUP_MOD` bytes `ovs-ofctl add-group` sends for `group_id=ID,SPEC`.
fn ofctl_group_mod(dir: &std::path::Path, id: u32, spec: &str) -> Vec<u8> {
    let sock = dir.join(format!("sw{id}.sock"));
    let listener = UnixListener::bind(&sock).expect("bind");
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let hello = Message::new(1, Body::Hello(vec![version_bitmap(&[OFP15_VERSION])]));
        s.write_all(&hello.to_bytes().unwrap()).unwrap();
        let mut buf = Vec::new();
        let mut group_mod = None;
        while let Some(raw) = read_msg(&mut s, &mut buf) {
            let m = match Message::parse(&raw) {
                Ok(m) => m,
                Err(_) => {
                    if raw[1] == 15 {
                        group_mod = Some(raw);
                    }
                    continue;
                }
            };
            if raw[1] == 18 {
                // A multipart request (the port list ovs-ofctl maps port
                // names with): an empty reply of the same type.
                let mut reply = vec![OFP15_VERSION, 19, 0, 16];
                reply.extend_from_slice(&raw[4..8]);
                reply.extend_from_slice(&raw[8..10]);
                reply.extend_from_slice(&[0; 6]);
                s.write_all(&reply).unwrap();
                continue;
            }
            let reply = match m.body {
                Body::GroupMod(_) => {
                    group_mod = Some(raw);
                    continue;
                }
                Body::BarrierRequest => Body::BarrierReply,
                Body::EchoRequest(p) => Body::EchoReply(p),
                _ => continue,
            };
            let done = matches!(reply, Body::BarrierReply);
            s.write_all(&Message::new(m.xid, reply).to_bytes().unwrap())
                .unwrap();
            if done {
                break;
            }
        }
        group_mod
    });
    let out = Command::new("ovs-ofctl")
        .args(["-O", "OpenFlow15", "--no-names", "add-group"])
        .arg(format!("unix:{}", sock.display()))
        .arg(format!("group_id={id},{spec}"))
        .output()
        .expect("ovs-ofctl");
    assert!(
        out.status.success(),
        "ovs-ofctl add-group {spec}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    server
        .join()
        .expect("fake switch")
        .expect("no GROUP_MOD received")
}

#[test]
fn group_mods_are_byte_exact_with_ovs_ofctl() {
    if !have_ofctl() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, spec) in SPECS.iter().enumerate() {
        let id = i as u32 + 1;
        let theirs = ofctl_group_mod(dir.path(), id, spec);
        let xid = u32::from_be_bytes(theirs[4..8].try_into().unwrap());
        let g = parse_group(id, spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        let ours = Message::new(xid, Body::GroupMod(g)).to_bytes().unwrap();
        assert_eq!(
            hex(&ours),
            hex(&theirs),
            "group {id} `{spec}': ours (left) vs ovs-ofctl"
        );
        // And OVS's bytes parse back to what we send.
        let back = Message::parse(&theirs).unwrap();
        assert_eq!(back.to_bytes().unwrap(), theirs);
    }
}

fn hex(b: &[u8]) -> String {
    b.chunks(8)
        .map(|c| c.iter().map(|x| format!("{x:02x}")).collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

//! The native OpenFlow path against a real ovs-vswitchd 3.1 (private
//! directory, dummy datapath): two bridges, both `datapath_type=netdev`
//! `fail-mode=secure` — `br-int` programmed through our connection,
//! `br-ref` by `ovs-ofctl --bundle` with the same flows as text.  Their
//! `dump-flows` must be identical after the initial install, after a delta
//! (10 removed, 10 added, 5 modified: exactly those flow mods, in one
//! bundle) and, for br-int, after killing and restarting ovs-vswitchd
//! (reconnect + full resync, which also removes a stray flow).
//!
//! Runs when the OVS binaries are installed; with `CI` set their absence is
//! a failure.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ovnflow_southbound::actions::OfAction;
use ovnflow_southbound::expr::{Field, OfMatch};
use ovnflow_southbound::flow_table::OfFlow;
use ovnflow_southbound::openflow::conn::Options;
use ovnflow_southbound::openflow::installer::{meter_from_spec, Changes, Desired, Installer};
use ovnflow_southbound::openflow::wire::action::Action;
use ovnflow_southbound::openflow::wire::mods::{group_command, group_type, Bucket, GroupMod};

const BINARIES: &[&str] = &[
    "ovsdb-tool",
    "ovsdb-server",
    "ovs-vswitchd",
    "ovs-vsctl",
    "ovs-ofctl",
];

/// Our daemons, killed by pid on drop.
struct Switch {
    dir: PathBuf,
    db: Option<Child>,
    vswitchd: Option<Child>,
}

impl Drop for Switch {
    fn drop(&mut self) {
        for c in [self.vswitchd.as_mut(), self.db.as_mut()]
            .into_iter()
            .flatten()
        {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Switch {
    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn cmd(&self, bin: &str) -> Command {
        let mut c = Command::new(bin);
        for v in ["OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVS_SYSCONFDIR"] {
            c.env(v, &self.dir);
        }
        c.stdin(Stdio::null());
        c
    }

    fn vsctl(&self, args: &[&str]) {
        let db = format!("--db=unix:{}", self.path("db.sock"));
        common::run(self.cmd("ovs-vsctl").arg(db).arg("--timeout=30").args(args));
    }

    fn ofctl(&self, args: &[&str]) -> String {
        common::run(
            self.cmd("ovs-ofctl")
                .args(["-O", "OpenFlow15", "--no-names"])
                .args(args),
        )
    }

    fn start(dir: &Path) -> Switch {
        let mut s = Switch {
            dir: dir.to_path_buf(),
            db: None,
            vswitchd: None,
        };
        common::run(s.cmd("ovsdb-tool").args([
            "create",
            &s.path("conf.db"),
            "/usr/share/openvswitch/vswitch.ovsschema",
        ]));
        let db = s
            .cmd("ovsdb-server")
            .args([
                "--no-chdir".to_string(),
                format!("--pidfile={}", s.path("ovsdb-server.pid")),
                format!("--unixctl={}", s.path("ovsdb-server.ctl")),
                format!("--remote=punix:{}", s.path("db.sock")),
                format!("--log-file={}", s.path("ovsdb-server.log")),
                s.path("conf.db"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        s.db = Some(db);
        wait_for(20, "ovsdb-server", || {
            Path::new(&s.path("db.sock")).exists()
        });
        s.vsctl(&["--no-wait", "init"]);
        s.start_vswitchd();
        for br in ["br-int", "br-ref"] {
            s.vsctl(&[
                "--",
                "add-br",
                br,
                "--",
                "set",
                "bridge",
                br,
                "datapath_type=netdev",
                "fail-mode=secure",
                "other-config:disable-in-band=true",
            ]);
        }
        s.wait_mgmt();
        s
    }

    fn start_vswitchd(&mut self) {
        let child = self
            .cmd("ovs-vswitchd")
            .args([
                format!("unix:{}", self.path("db.sock")),
                "--no-chdir".to_string(),
                "--enable-dummy=override".to_string(),
                "--disable-system-route".to_string(),
                format!("--pidfile={}", self.path("ovs-vswitchd.pid")),
                format!("--unixctl={}", self.path("ovs-vswitchd.ctl")),
                format!("--log-file={}", self.path("ovs-vswitchd.log")),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.vswitchd = Some(child);
    }

    fn kill_vswitchd(&mut self) {
        if let Some(mut c) = self.vswitchd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(self.path("br-int.mgmt"));
        let _ = std::fs::remove_file(self.path("br-ref.mgmt"));
    }

    /// An installer for `br-int` (default options, 30 s to reconnect).
    fn installer(&self) -> Installer {
        let mgmt = PathBuf::from(self.path("br-int.mgmt"));
        Installer::new(&mgmt).with_options(Options::default(), Duration::from_secs(30))
    }

    fn wait_mgmt(&self) {
        wait_for(30, "bridge management sockets", || {
            ["br-int", "br-ref"].iter().all(|b| {
                self.cmd("ovs-ofctl")
                    .args(["-O", "OpenFlow15", "show", b])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
        });
    }

    /// `dump-flows --no-stats`, sorted.  ovn-controller's `dec_ttl`
    /// (NXAST_DEC_TTL_CNT_IDS, printed `dec_ttl()`) has no ovs-ofctl text,
    /// so br-ref holds OFPAT_DEC_NW_TTL (`dec_ttl`); the two are equated.
    fn dump(&self, br: &str) -> Vec<String> {
        let mut lines: Vec<String> = self
            .ofctl(&["dump-flows", br, "--no-stats"])
            .lines()
            .map(|l| l.trim().replace("dec_ttl()", "dec_ttl"))
            .filter(|l| !l.is_empty())
            .collect();
        lines.sort();
        lines
    }
}

fn wait_for(secs: u64, what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn assert_same(ours: &[String], theirs: &[String], when: &str) {
    let a: std::collections::BTreeSet<_> = ours.iter().collect();
    let b: std::collections::BTreeSet<_> = theirs.iter().collect();
    let missing: Vec<_> = b.difference(&a).take(5).collect();
    let extra: Vec<_> = a.difference(&b).take(5).collect();
    assert!(
        ours == theirs,
        "{when}: br-int differs from br-ref ({} vs {} flows)\nmissing: {missing:#?}\nextra: {extra:#?}",
        ours.len(),
        theirs.len()
    );
}

const GROUP_TEXT: &str = "group_id=1,type=all,bucket=bucket_id=0,actions=resubmit(,20)";
const METER_SPEC: &str = "kbps burst stats bands=type=drop rate=100 burst_size=10";

fn group() -> GroupMod {
    GroupMod {
        command: group_command::ADD,
        group_type: group_type::ALL,
        group_id: 1,
        command_bucket_id: 0xffff_ffff,
        buckets: vec![Bucket {
            bucket_id: 0,
            actions: vec![Action::Resubmit {
                in_port: 0xfff8,
                table: 20,
            }],
            properties: Vec::new(),
        }],
        properties: Vec::new(),
    }
}

fn desired(flows: &[OfFlow]) -> Desired {
    Desired {
        flows: flows.iter().cloned().map(Arc::new).collect(),
        groups: BTreeMap::from([(1, group())]),
        meters: BTreeMap::from([(1, meter_from_spec(1, METER_SPEC).unwrap())]),
    }
}

/// The delta: 10 flows removed, 10 new ones, 5 with new actions.
fn changed(flows: &[OfFlow]) -> Vec<OfFlow> {
    let mut out: Vec<OfFlow> = flows[10..].to_vec();
    for (i, f) in out.iter_mut().take(5).enumerate() {
        f.actions = vec![OfAction::Resubmit(50 + i as u8)];
    }
    for i in 0..10u128 {
        let mut m = OfMatch::new();
        m.set_field(Field::Reg(3), 0x5000 + i, u128::MAX);
        out.push(OfFlow {
            table: 60,
            priority: 500,
            cookie: 0xabc0 + i as u64,
            of_match: m,
            actions: vec![OfAction::Output(1)],
        });
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_install_delta_and_resync_match_ovs_ofctl() {
    if !common::available(BINARIES) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut sw = Switch::start(tmp.path());
    let flows = common::synthetic_flows();
    let mgmt = PathBuf::from(sw.path("br-int.mgmt"));
    let options = Options {
        request_timeout: Duration::from_secs(30),
        probe_interval: Some(Duration::from_secs(2)),
    };
    let mut inst = Installer::new(&mgmt).with_options(options, Duration::from_secs(30));

    // 1. Everything in one bundle (plus the meter before it).
    let t = Instant::now();
    let r = inst.sync(&desired(&flows)).await.unwrap();
    eprintln!(
        "initial install of {} flows: {r:?} in {:?}",
        flows.len(),
        t.elapsed()
    );
    assert!(r.full_resync);
    assert_eq!((r.adds, r.bundles), (flows.len(), 1));
    let conn = inst.connection().unwrap();
    conn.echo(b"ping").await.unwrap();
    conn.barrier().await.unwrap();

    sw.ofctl(&["add-group", "br-ref", GROUP_TEXT]);
    sw.ofctl(&["add-meter", "br-ref", &format!("meter=1 {METER_SPEC}")]);
    let file = tmp.path().join("flows.txt");
    common::flows_file(&flows, &file);
    sw.ofctl(&["--bundle", "add-flows", "br-ref", file.to_str().unwrap()]);
    let ours = sw.dump("br-int");
    assert_eq!(ours.len(), flows.len());
    assert_same(&ours, &sw.dump("br-ref"), "initial install");
    let groups = |br: &str| {
        sw.ofctl(&["dump-groups", br])
            .lines()
            .skip(1)
            .map(str::trim)
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(groups("br-int"), groups("br-ref"));
    eprintln!("initial: {} flows identical", ours.len());

    // 2. A delta: only the implied flow mods, in one bundle.
    let next = changed(&flows);
    let r = inst.sync(&desired(&next)).await.unwrap();
    eprintln!("delta: {r:?}");
    assert!(!r.full_resync);
    assert_eq!(
        (
            r.adds,
            r.modifies,
            r.deletes,
            r.group_mods,
            r.meter_mods,
            r.bundles
        ),
        (10, 5, 10, 0, 0, 1)
    );
    common::flows_file(&next, &file);
    sw.ofctl(&[
        "--bundle",
        "replace-flows",
        "br-ref",
        file.to_str().unwrap(),
    ]);
    let expected = sw.dump("br-ref");
    assert_same(&sw.dump("br-int"), &expected, "after the delta");
    // Nothing changed: nothing sent.
    let r = inst.sync(&desired(&next)).await.unwrap();
    assert_eq!((r.adds, r.modifies, r.deletes, r.bundles), (0, 0, 0, 0));

    // 3. ovs-vswitchd restarts with an empty table; a stray flow appears.
    sw.kill_vswitchd();
    sw.start_vswitchd();
    sw.wait_mgmt();
    sw.ofctl(&["add-flow", "br-int", "table=200,priority=1,actions=drop"]);
    let r = inst.sync(&desired(&next)).await.unwrap();
    eprintln!("after restart: {r:?}");
    assert!(r.full_resync);
    assert_eq!(inst.connects(), 2);
    assert_same(&sw.dump("br-int"), &expected, "after reconnect + resync");
    eprintln!("resync: {} flows identical", expected.len());
}

/// Group texts as ovn-controller keeps them (`ct_lb_mark`, `select`,
/// `fwd_group`).
const OVN_GROUPS: &[&str] = &[
    "type=select,selection_method=dp_hash,bucket=bucket_id=0,weight:100,actions=ct(nat(dst=10.0.0.2:80),commit,table=15,zone=NXM_NX_REG13[0..15],exec(set_field:2/2->ct_mark)),bucket=bucket_id=1,weight:100,actions=ct(nat(dst=10.0.0.3:8080),commit,table=15,zone=NXM_NX_REG13[0..15],exec(set_field:2/2->ct_mark))",
    "type=select,selection_method=hash,fields(ip_dst,ip_src,tcp_dst,tcp_src),bucket=bucket_id=0,weight:100,actions=ct(nat(dst=[fd00::2]:80),commit,table=15,zone=NXM_NX_REG13[0..15],exec(set_field:2/2->ct_label))",
    "type=select,selection_method=dp_hash,bucket=bucket_id=0,weight:100,actions=load:1->reg8[0..15],resubmit(,21),bucket=bucket_id=1,weight:50,actions=load:2->reg8[0..15],resubmit(,21)",
    "type=select,selection_method=dp_hash,bucket=load=0x10->NXM_NX_REG15[0..15],resubmit(,37),bucket=load=0x11->NXM_NX_REG15[0..15],resubmit(,37)",
];

fn group_flow(id: u32) -> OfFlow {
    let mut m = OfMatch::new();
    m.set_field(Field::Reg(3), u128::from(id), u128::MAX);
    OfFlow {
        table: 12,
        priority: 100,
        cookie: 0x77,
        of_match: m,
        actions: vec![OfAction::Group(id)],
    }
}

/// OVN's groups installed natively (parsed from their text) equal those
/// `ovs-ofctl add-group` installs from the same text, first in a full
/// sync, then after a sync of changes only (one group's buckets changed,
/// one group and its flow gone, a flow added).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovn_groups_and_change_syncs_match_ovs_ofctl() {
    use ovnflow_southbound::openflow::groups::parse_group;
    use ovnflow_southbound::openflow::installer::Changes;
    if !common::available(BINARIES) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let sw = Switch::start(tmp.path());
    let mut inst = sw.installer();
    let specs: Vec<(u32, String)> = OVN_GROUPS
        .iter()
        .enumerate()
        .map(|(i, s)| (i as u32 + 1, s.to_string()))
        .collect();
    let groups = |specs: &[(u32, String)]| -> BTreeMap<u32, GroupMod> {
        specs
            .iter()
            .map(|(id, s)| (*id, parse_group(*id, s).unwrap()))
            .collect()
    };
    let flows: Vec<OfFlow> = specs.iter().map(|(id, _)| group_flow(*id)).collect();
    let r = inst
        .sync(&Desired {
            flows: flows.iter().cloned().map(Arc::new).collect(),
            groups: groups(&specs),
            meters: BTreeMap::new(),
        })
        .await
        .unwrap();
    assert_eq!((r.adds, r.group_mods), (flows.len(), specs.len()));
    let reference = |specs: &[(u32, String)], flows: &[OfFlow]| {
        sw.ofctl(&["del-flows", "br-ref"]);
        sw.ofctl(&["del-groups", "br-ref"]);
        for (id, s) in specs {
            sw.ofctl(&["add-group", "br-ref", &format!("group_id={id},{s}")]);
        }
        let file = tmp.path().join("gflows.txt");
        common::flows_file(flows, &file);
        sw.ofctl(&["--bundle", "add-flows", "br-ref", file.to_str().unwrap()]);
    };
    let groups_of = |br: &str| {
        let mut v: Vec<String> = sw
            .ofctl(&["dump-groups", br])
            .lines()
            .skip(1)
            .map(|l| l.trim().to_string())
            .collect();
        v.sort();
        v
    };
    reference(&specs, &flows);
    assert_eq!(groups_of("br-int"), groups_of("br-ref"), "full sync");
    assert_same(&sw.dump("br-int"), &sw.dump("br-ref"), "full sync");

    // Changes only: group 3 gets another backend, group 4 and its flow go,
    // a flow using group 1 is added.
    let mut next = specs.clone();
    next[2]
        .1
        .push_str(",bucket=bucket_id=2,weight:25,actions=load:3->reg8[0..15],resubmit(,21)");
    next.pop();
    let mut extra = group_flow(1);
    extra.priority = 90;
    let mut next_flows: Vec<OfFlow> = flows[..3].to_vec();
    next_flows.push(extra.clone());
    let r = inst
        .sync_changes(
            &Desired {
                flows: Vec::new(),
                groups: groups(&next),
                meters: BTreeMap::new(),
            },
            &Changes {
                added: vec![Arc::new(extra.clone())],
                removed: vec![Arc::new(flows[3].clone())],
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (r.adds, r.modifies, r.deletes, r.group_mods, r.bundles),
        (1, 0, 1, 2, 1)
    );
    reference(&next, &next_flows);
    assert_eq!(groups_of("br-int"), groups_of("br-ref"), "change sync");
    assert_same(&sw.dump("br-int"), &sw.dump("br-ref"), "change sync");
}

/// A full install streamed while the flows are computed (the controller's
/// start, issue 9): flows written into the open bundle one by one (those
/// using a group or meter held back), then the meters, groups, the held
/// flows, a key streamed twice with its final flow last (the last `ADD`
/// wins) and a streamed key whose final flow cannot be installed (deleted
/// again) — the same table and groups as `ovs-ofctl` installs from the
/// final flows, a stray flow gone; a sync of the same state afterwards
/// sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_full_install_matches_ovs_ofctl() {
    streamed_full_install(true, false, 1).await;
}

/// The same into a switch with no flow, connected ahead (as the
/// controller connects while it reads the databases): the flows are
/// spread over four connections and bundles, table 0's committed last,
/// and the table is the same — the key streamed twice and the deleted
/// one included, whichever connections carried their earlier `ADD`s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_full_install_into_an_empty_switch_matches_ovs_ofctl() {
    streamed_full_install(false, true, 4).await;
}

/// Connected ahead to a switch that holds a flow: one bundle, which
/// deletes that flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_full_install_over_a_table_matches_ovs_ofctl() {
    streamed_full_install(true, true, 1).await;
}

async fn streamed_full_install(stray: bool, ahead: bool, bundles: usize) {
    use ovnflow_southbound::openflow::installer::uses_group_or_meter;
    if !common::available(BINARIES) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let sw = Switch::start(tmp.path());
    if stray {
        sw.ofctl(&["add-flow", "br-int", "table=200,priority=1,actions=drop"]);
    }
    let mut inst = sw.installer();
    if ahead {
        assert!(inst.connect_once().await);
    }
    // Enough flows for every connection to carry some (64 in a row each).
    let flows: Vec<OfFlow> = (0..4u16)
        .flat_map(|k| {
            common::synthetic_flows().into_iter().map(move |mut f| {
                f.priority += 1000 * k;
                f
            })
        })
        .collect();
    assert!(flows.len() > 4 * 64, "{}", flows.len());
    let plain: Vec<usize> = (0..flows.len())
        .filter(|&i| !uses_group_or_meter(&flows[i].actions))
        .take(2)
        .collect();
    let (twice, unusable) = (plain[0], plain[1]);

    let mut s = inst.begin_full().await.unwrap();
    for f in &flows {
        s.flow(&mut inst, f);
    }
    let mut other = flows[twice].clone();
    other.actions = vec![OfAction::Output(7)];
    s.flow(&mut inst, &other);
    let grouped = group_flow(1);
    s.flow(&mut inst, &grouped);
    let mut finals: Vec<(Arc<OfFlow>, bool)> = flows
        .iter()
        .chain([&grouped])
        .filter(|f| uses_group_or_meter(&f.actions))
        .map(|f| (Arc::new(f.clone()), true))
        .collect();
    finals.push((Arc::new(flows[twice].clone()), true));
    finals.push((Arc::new(flows[unusable].clone()), false));
    let final_flows: Vec<OfFlow> = flows
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != unusable)
        .map(|(_, f)| f.clone())
        .chain([grouped])
        .collect();
    let want = desired(&final_flows);
    let r = inst.finish_full(s, &want, finals).await.unwrap();
    assert!(r.full_resync);
    assert_eq!(
        (r.adds, r.group_mods, r.bundles),
        (final_flows.len(), 1, bundles)
    );

    sw.ofctl(&["add-group", "br-ref", GROUP_TEXT]);
    sw.ofctl(&["add-meter", "br-ref", &format!("meter=1 {METER_SPEC}")]);
    let file = tmp.path().join("final.txt");
    common::flows_file(&final_flows, &file);
    sw.ofctl(&["--bundle", "add-flows", "br-ref", file.to_str().unwrap()]);
    assert_same(&sw.dump("br-int"), &sw.dump("br-ref"), "streamed install");
    let groups = |br: &str| {
        sw.ofctl(&["dump-groups", br])
            .lines()
            .skip(1)
            .map(|l| l.trim().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(groups("br-int"), groups("br-ref"));
    let r = inst.sync(&want).await.unwrap();
    assert_eq!((r.adds, r.modifies, r.deletes, r.bundles), (0, 0, 0, 0));
}

/// `n` clause flows of conjunction `id` in table 40: clause `clause` of
/// two, one per value of `reg` (from `first`).
fn clauses(id: u32, clause: u8, reg: u8, first: u32, n: u32) -> Vec<OfFlow> {
    (first..first + n)
        .map(|v| {
            let mut m = OfMatch::new();
            m.set_field(Field::Reg(reg), u128::from(v), u128::MAX);
            OfFlow {
                table: 40,
                priority: 2000,
                cookie: 0x77,
                of_match: m,
                actions: vec![OfAction::Conjunction {
                    id,
                    clause,
                    n_clauses: 2,
                }],
            }
        })
        .collect()
}

/// The flow of conjunction `id` (table 40).
fn conj_flow(id: u32) -> OfFlow {
    let mut m = OfMatch::new();
    m.set_conj_id(id);
    OfFlow {
        table: 40,
        priority: 2000,
        cookie: 0x77,
        of_match: m,
        actions: vec![OfAction::Resubmit(41)],
    }
}

/// A change that adds a new conjunctive match with hundreds of clause
/// flows (an ACL on a large address set) is spread over four connections
/// and bundles, and leaves the table `ovs-ofctl` leaves; clause flows
/// added to a conjunction already installed stay in one bundle, as does a
/// change without many clause flows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_adding_many_clause_flows_is_spread_and_matches_ovs_ofctl() {
    if !common::available(BINARIES) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let sw = Switch::start(tmp.path());
    let mut inst = sw.installer();
    assert!(inst.connect_once().await);
    let base = common::synthetic_flows();
    let r = inst.sync(&desired(&base)).await.unwrap();
    assert_eq!((r.full_resync, r.bundles), (true, 1));
    let file = tmp.path().join("flows.txt");
    sw.ofctl(&["add-group", "br-ref", GROUP_TEXT]);
    sw.ofctl(&["add-meter", "br-ref", &format!("meter=1 {METER_SPEC}")]);
    let check = |flows: &[OfFlow], when: &str| {
        common::flows_file(flows, &file);
        sw.ofctl(&[
            "--bundle",
            "replace-flows",
            "br-ref",
            file.to_str().unwrap(),
        ]);
        assert_same(&sw.dump("br-int"), &sw.dump("br-ref"), when);
    };
    check(&base, "base table");

    // 1. A new conjunction: 600 + 10 clause flows and its conj_id flow,
    //    with 5 flows removed and 5 modified in the same change.
    let mut added: Vec<OfFlow> = clauses(77, 0, 3, 0x1000, 600);
    added.extend(clauses(77, 1, 4, 0x2000, 10));
    added.push(conj_flow(77));
    let mut modified: Vec<OfFlow> = base[5..10].to_vec();
    for f in &mut modified {
        f.actions = vec![OfAction::Resubmit(60)];
    }
    added.extend(modified.iter().cloned());
    let mut next: Vec<OfFlow> = base[5..].to_vec();
    next[..5].clone_from_slice(&modified);
    next.extend(added[..611].iter().cloned());
    let changes = Changes {
        added: added.iter().cloned().map(Arc::new).collect(),
        removed: base[..5].iter().cloned().map(Arc::new).collect(),
    };
    let r = inst.sync_changes(&desired(&next), &changes).await.unwrap();
    eprintln!("new conjunction: {r:?}");
    assert_eq!((r.adds, r.modifies, r.deletes, r.bundles), (611, 5, 5, 4));
    check(&next, "after a new conjunction, spread");

    // 2. More clause flows for the installed conjunction: one bundle (they
    //    take effect with their commit).
    let more = clauses(77, 0, 3, 0x3000, 300);
    next.extend(more.iter().cloned());
    let changes = Changes {
        added: more.into_iter().map(Arc::new).collect(),
        removed: Vec::new(),
    };
    let r = inst.sync_changes(&desired(&next), &changes).await.unwrap();
    assert_eq!((r.adds, r.bundles), (300, 1));
    check(&next, "after clauses of an installed conjunction");

    // 3. The conjunction removed: one bundle.
    let gone: Vec<OfFlow> = next.drain(next.len() - 911..).collect();
    let changes = Changes {
        added: Vec::new(),
        removed: gone.into_iter().map(Arc::new).collect(),
    };
    let r = inst.sync_changes(&desired(&next), &changes).await.unwrap();
    assert_eq!((r.deletes, r.bundles), (911, 1));
    check(&next, "after the conjunction's removal");

    // 4. It comes back, spread again (the helpers were kept).
    let mut again: Vec<OfFlow> = clauses(78, 0, 3, 0x1000, 600);
    again.extend(clauses(78, 1, 4, 0x2000, 10));
    again.push(conj_flow(78));
    next.extend(again.iter().cloned());
    let changes = Changes {
        added: again.into_iter().map(Arc::new).collect(),
        removed: Vec::new(),
    };
    let r = inst.sync_changes(&desired(&next), &changes).await.unwrap();
    assert_eq!((r.adds, r.bundles), (611, 4));
    check(&next, "after a second new conjunction");
}

/// What [`Installer::sync_changes`] relies on to commit the clause flows
/// of a new conjunctive match before their `conj_id` flow: ovs-vswitchd
/// looks up a packet that matches every clause, while no flow matches the
/// `conj_id`, as if the clause flows were not there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clause_flows_without_their_conj_id_flow_match_nothing() {
    if !common::available(BINARIES) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let sw = Switch::start(tmp.path());
    let trace = || {
        common::run(sw.cmd("ovs-appctl").args([
            "-t",
            &sw.path("ovs-vswitchd.ctl"),
            "ofproto/trace",
            "br-ref",
            "in_port=LOCAL,tcp,nw_src=10.0.0.1,tp_dst=22",
        ]))
    };
    let file = tmp.path().join("clauses.txt");
    std::fs::write(
        &file,
        "table=0,priority=100,ip,nw_src=10.0.0.1,actions=conjunction(5,1/2)\n\
         table=0,priority=100,tcp,tp_dst=22,actions=conjunction(5,2/2)\n\
         table=0,priority=50,ip,actions=resubmit(,7)\n",
    )
    .unwrap();
    sw.ofctl(&["add-flows", "br-ref", file.to_str().unwrap()]);
    let out = trace();
    assert!(
        out.contains(" 0. ip, priority 50") && !out.contains("conj"),
        "{out}"
    );
    sw.ofctl(&[
        "add-flow",
        "br-ref",
        "table=0,priority=100,conj_id=5,ip,actions=resubmit(,8)",
    ]);
    let out = trace();
    assert!(out.contains(" 0. conj_id=5,ip, priority 100"), "{out}");
}

/// A bundle with a message the switch rejects as it reads it (a flow add
/// to table 255): committed after a barrier it is discarded whole, the
/// switch as it was; committed without one (the helpers' bundles) the
/// rejection still fails it, but the other flows are committed, which is
/// why the installer then starts over from a fresh connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_message_discards_a_checked_bundle_and_fails_an_unchecked_one() {
    use ovnflow_southbound::openflow::conn::Connection;
    if !common::available(BINARIES) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let sw = Switch::start(tmp.path());
    let mgmt = PathBuf::from(sw.path("br-ref.mgmt"));
    let mut conn = Connection::connect(&mgmt).await.unwrap();
    let good = conj_flow(9);
    let mut bad = conj_flow(10);
    bad.table = 255;
    for checked in [true, false] {
        let mut b = conn.bundle_open();
        b.push_flow_add(&mut conn, &good).unwrap();
        b.push_flow_add(&mut conn, &bad).unwrap();
        let r = match checked {
            true => conn.bundle_finish(b).await,
            false => conn.bundle_finish_unchecked(b).await,
        };
        assert!(r.is_err(), "checked {checked}: {r:?}");
        let flows = sw.dump("br-ref");
        assert_eq!(
            flows.iter().any(|l| l.contains("conj_id=9")),
            !checked,
            "checked {checked}: {flows:?}"
        );
        assert!(!flows.iter().any(|l| l.contains("conj_id=10")), "{flows:?}");
    }
    // The connection is still usable.
    conn.barrier().await.unwrap();
}

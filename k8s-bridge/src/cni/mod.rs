//! The CNI plugin (spec 1.0: ADD, DEL, CHECK, VERSION), run as
//! `ovnflow cni` or as the `ovnflow` binary itself when `CNI_COMMAND` is
//! set. Configuration on stdin:
//!
//! ```json
//! {"cniVersion":"1.0.0","name":"ovnflow","type":"ovnflow",
//!  "ovs_db":"unix:/run/openvswitch/db.sock","ovnnb_db":"unix:/run/ovn/ovnnb_db.sock",
//!  "bridge":"br-int"}
//! ```
//!
//! (optional: `mtu`, and `ovn_installed_timeout` in seconds, default 20,
//! 0 to not wait). The pod is named by `CNI_ARGS`
//! (`K8S_POD_NAMESPACE`, `K8S_POD_NAME`); its addresses are those of its
//! logical switch ports in the NB ([`plan`]), so the plugin allocates
//! nothing.
//!
//! ADD, for the pod's interface on the default network (named
//! `CNI_IFNAME`) and every extra interface of its Nodus annotation: a veth
//! pair whose pod end is renamed to the interface name and given the MAC,
//! address and routes, and whose host end (`ovf` + a hash of container id
//! and interface) is added to the integration bridge with
//! `external_ids:iface-id` = the logical port; TX checksum offload is
//! off on both ends (required on OVS' userspace datapath). It then waits
//! until ovn-controller marks the ports `ovn-installed`. A call whose
//! `CNI_IFNAME` is a Multus interface of the pod (Multus calls the
//! plugin once per attachment) plugs only that interface. Any failure
//! removes what the call created.
//!
//! DEL removes the OVS ports and veth pairs the matching ADD made, found
//! by `external_ids:ovnflow-container-id` and `ovnflow-primary` in OVS,
//! so it needs neither the NB nor the namespace and is idempotent.
//!
//! Tools: `ip` (iproute2) and `ovs-vsctl`, whose error messages are
//! passed on; see [`netns`] for why.

pub mod netns;
pub mod plan;

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};

use netns::{in_netns, ip, link_exists, run, tx_checksum_off};
use plan::{pod_interfaces, Iface};

/// CNI versions this plugin speaks.
pub const SUPPORTED_VERSIONS: &[&str] = &["0.3.0", "0.3.1", "0.4.0", "1.0.0"];

/// A CNI error: code, message, details (spec §"Error").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CniError {
    /// 1 incompatible version, 4 invalid environment, 5 I/O, 6 decoding,
    /// 7 invalid configuration, 11 try again later, 100+ plugin's own.
    pub code: u32,
    /// Short message.
    pub msg: String,
    /// Details.
    pub details: String,
}

impl CniError {
    fn new(code: u32, msg: &str, details: impl Into<String>) -> CniError {
        CniError {
            code,
            msg: msg.into(),
            details: details.into(),
        }
    }

    /// The error as the JSON the runtime reads on stdout.
    pub fn to_json(&self, version: &str) -> Value {
        json!({"cniVersion": version, "code": self.code, "msg": self.msg, "details": self.details})
    }
}

/// The network configuration.
#[derive(Clone, Debug, Deserialize)]
pub struct NetConf {
    /// The CNI version of the configuration.
    #[serde(rename = "cniVersion")]
    pub cni_version: String,
    /// Network name.
    #[serde(default)]
    pub name: String,
    /// Plugin type (`ovnflow`).
    #[serde(rename = "type", default)]
    pub type_: String,
    /// The Open_vSwitch database.
    #[serde(default = "default_ovs_db")]
    pub ovs_db: String,
    /// The Northbound database.
    #[serde(default)]
    pub ovnnb_db: String,
    /// The integration bridge.
    #[serde(default = "default_bridge")]
    pub bridge: String,
    /// MTU of the pod interfaces.
    #[serde(default)]
    pub mtu: Option<u32>,
    /// Seconds to wait for ovn-controller (0: do not wait).
    #[serde(default)]
    pub ovn_installed_timeout: Option<u64>,
}

fn default_ovs_db() -> String {
    "unix:/var/run/openvswitch/db.sock".into()
}

fn default_bridge() -> String {
    "br-int".into()
}

/// The CNI environment.
#[derive(Clone, Debug, Default)]
pub struct Env {
    /// `CNI_COMMAND`.
    pub command: String,
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_NETNS`.
    pub netns: String,
    /// `CNI_IFNAME`.
    pub ifname: String,
    /// `K8S_POD_NAMESPACE` from `CNI_ARGS`.
    pub namespace: String,
    /// `K8S_POD_NAME` from `CNI_ARGS`.
    pub pod: String,
}

impl Env {
    /// Reads the environment through `get` (e.g. `std::env::var`).
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Env {
        let mut e = Env {
            command: get("CNI_COMMAND").unwrap_or_default(),
            container_id: get("CNI_CONTAINERID").unwrap_or_default(),
            netns: get("CNI_NETNS").unwrap_or_default(),
            ifname: get("CNI_IFNAME").unwrap_or_default(),
            ..Env::default()
        };
        for kv in get("CNI_ARGS").unwrap_or_default().split(';') {
            match kv.split_once('=') {
                Some(("K8S_POD_NAMESPACE", v)) => e.namespace = v.to_string(),
                Some(("K8S_POD_NAME", v)) => e.pod = v.to_string(),
                _ => {}
            }
        }
        e
    }
}

/// Runs one CNI command: `Ok` is the JSON to print (nothing for DEL).
pub fn run_command(env: &Env, stdin: &str) -> Result<Option<Value>, CniError> {
    if env.command == "VERSION" {
        let v = serde_json::from_str::<Value>(stdin)
            .ok()
            .and_then(|v| {
                v.get("cniVersion")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "1.0.0".into());
        return Ok(Some(
            json!({"cniVersion": v, "supportedVersions": SUPPORTED_VERSIONS}),
        ));
    }
    let conf: NetConf = serde_json::from_str(stdin)
        .map_err(|e| CniError::new(6, "cannot decode the network configuration", e.to_string()))?;
    if !SUPPORTED_VERSIONS.contains(&conf.cni_version.as_str()) {
        return Err(CniError::new(
            1,
            "incompatible CNI version",
            format!(
                "{} (supported: {})",
                conf.cni_version,
                SUPPORTED_VERSIONS.join(", ")
            ),
        ));
    }
    let need = |v: &str, name: &str| {
        if v.is_empty() {
            Err(CniError::new(4, "missing environment variable", name))
        } else {
            Ok(())
        }
    };
    need(&env.container_id, "CNI_CONTAINERID")?;
    need(&env.ifname, "CNI_IFNAME")?;
    match env.command.as_str() {
        "ADD" | "CHECK" => {
            need(&env.netns, "CNI_NETNS")?;
            need(&env.namespace, "CNI_ARGS K8S_POD_NAMESPACE")?;
            need(&env.pod, "CNI_ARGS K8S_POD_NAME")?;
            if conf.ovnnb_db.is_empty() {
                return Err(CniError::new(
                    7,
                    "invalid network configuration",
                    "ovnnb_db is required",
                ));
            }
            let ifaces = interfaces(&conf, env)?;
            if env.command == "ADD" {
                add(&conf, env, &ifaces).map(Some)
            } else {
                check(&conf, env, &ifaces).map(|()| None)
            }
        }
        "DEL" => del(&conf, env).map(|()| None),
        other => Err(CniError::new(4, "unknown CNI_COMMAND", other)),
    }
}

/// The interfaces this call plugs.
fn interfaces(conf: &NetConf, env: &Env) -> Result<Vec<Iface>, CniError> {
    let db =
        crate::reconcile::read_live(&conf.ovnnb_db, &["Logical_Switch", "Logical_Switch_Port"])
            .map_err(|e| CniError::new(11, "cannot read the Northbound database", e.to_string()))?;
    let all = pod_interfaces(&db, &env.namespace, &env.pod, &env.ifname)
        .map_err(|m| CniError::new(100, "invalid logical switch port", m))?;
    if all.is_empty() {
        return Err(CniError::new(
            11,
            "pod not in the Northbound database",
            format!(
                "no logical switch port for pod {}/{} (apply its manifests first)",
                env.namespace, env.pod
            ),
        ));
    }
    // A Multus call plugs only its own interface.
    if let Some(one) = all.iter().skip(1).find(|i| i.ifname == env.ifname) {
        return Ok(vec![one.clone()]);
    }
    Ok(all.into_iter().filter(|i| !i.multus).collect())
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The host end's name: `ovf` and 12 hex digits of a hash of the
/// container id and the interface (15 characters, the kernel's limit).
pub fn host_ifname(container_id: &str, ifname: &str) -> String {
    format!(
        "ovf{:012x}",
        fnv(&format!("{container_id}/{ifname}")) & 0xffff_ffff_ffff
    )
}

fn tmp_ifname(container_id: &str, ifname: &str) -> String {
    format!(
        "ovt{:012x}",
        fnv(&format!("{container_id}/{ifname}")) & 0xffff_ffff_ffff
    )
}

fn vsctl(conf: &NetConf, args: &[&str]) -> Result<String, String> {
    let db = format!("--db={}", conf.ovs_db);
    let mut all = vec![db.as_str(), "--timeout=30"];
    all.extend_from_slice(args);
    run("ovs-vsctl", &all)
}

fn io(msg: &str) -> impl Fn(String) -> CniError + '_ {
    move |d| CniError::new(5, msg, d)
}

/// The default route's destination for a gateway's family.
fn default_dst(gw: &std::net::IpAddr) -> &'static str {
    if gw.is_ipv6() {
        "::/0"
    } else {
        "0.0.0.0/0"
    }
}

fn add(conf: &NetConf, env: &Env, ifaces: &[Iface]) -> Result<Value, CniError> {
    let netns = Path::new(&env.netns);
    if !netns.exists() {
        return Err(CniError::new(
            3,
            "the network namespace does not exist",
            env.netns.clone(),
        ));
    }
    // A repeated ADD starts from scratch.
    del(conf, env)?;
    let mut result_ifaces = Vec::new();
    let mut ips = Vec::new();
    let mut routes = Vec::new();
    for i in ifaces {
        match plug(conf, env, i) {
            Ok(host_mac) => {
                let host = host_ifname(&env.container_id, &i.ifname);
                result_ifaces.push(json!({"name": host, "mac": host_mac}));
                result_ifaces.push(json!({"name": i.ifname, "mac": i.mac, "sandbox": env.netns}));
                for a in &i.addrs {
                    let mut ipj =
                        json!({"address": a.to_string(), "interface": result_ifaces.len() - 1});
                    if let Some(g) = i.gateways.iter().find(|g| g.is_ipv6() == a.is_ipv6()) {
                        ipj["gateway"] = json!(g.to_string());
                    }
                    if conf.cni_version.starts_with("0.") {
                        ipj["version"] = json!(if a.is_ipv6() { "6" } else { "4" });
                    }
                    ips.push(ipj);
                }
                if i.default_route {
                    for g in &i.gateways {
                        routes.push(json!({"dst": default_dst(g), "gw": g.to_string()}));
                    }
                }
                for (d, g) in &i.routes {
                    routes.push(json!({"dst": d.to_string(), "gw": g.to_string()}));
                }
            }
            Err(e) => {
                undo(conf, env, ifaces);
                return Err(e);
            }
        }
    }
    if let Err(e) = wait_installed(conf, env, ifaces) {
        undo(conf, env, ifaces);
        return Err(e);
    }
    let r = json!({
        "cniVersion": conf.cni_version,
        "interfaces": result_ifaces,
        "ips": ips,
        "routes": routes,
        "dns": {},
    });
    Ok(r)
}

/// Removes what a failed ADD made: the OVS ports it added and every veth
/// pair of its interfaces, plugged or not.
fn undo(conf: &NetConf, env: &Env, ifaces: &[Iface]) {
    let _ = del(conf, env);
    for i in ifaces {
        for n in [
            host_ifname(&env.container_id, &i.ifname),
            tmp_ifname(&env.container_id, &i.ifname),
        ] {
            if link_exists(&n) {
                let _ = ip(&["link", "del", "dev", &n]);
            }
        }
    }
}

/// Creates one interface; returns the host end's MAC.
fn plug(conf: &NetConf, env: &Env, i: &Iface) -> Result<String, CniError> {
    let host = host_ifname(&env.container_id, &i.ifname);
    let tmp = tmp_ifname(&env.container_id, &i.ifname);
    let e = io("cannot create the veth pair");
    if link_exists(&tmp) {
        let _ = ip(&["link", "del", &tmp]);
    }
    ip(&["link", "add", &host, "type", "veth", "peer", "name", &tmp]).map_err(&e)?;
    ip(&["link", "set", "dev", &tmp, "netns", &env.netns]).map_err(&e)?;
    let mtu = conf.mtu.map(|m| m.to_string());
    let netns = Path::new(&env.netns);
    in_netns(netns, || {
        ip(&["link", "set", "dev", &tmp, "name", &i.ifname])?;
        ip(&["link", "set", "dev", &i.ifname, "address", &i.mac])?;
        if let Some(m) = &mtu {
            ip(&["link", "set", "dev", &i.ifname, "mtu", m])?;
        }
        for a in &i.addrs {
            let a = a.to_string();
            // No duplicate address detection: OVN owns the addresses, and
            // DAD would keep an IPv6 address tentative for a while.
            let mut args = vec!["addr", "add", a.as_str(), "dev", i.ifname.as_str()];
            if a.contains(':') {
                args.push("nodad");
            }
            ip(&args)?;
        }
        tx_checksum_off(&i.ifname)?;
        ip(&["link", "set", "dev", "lo", "up"])?;
        ip(&["link", "set", "dev", &i.ifname, "up"])?;
        if i.default_route {
            for g in &i.gateways {
                ip(&[
                    "route",
                    "replace",
                    default_dst(g),
                    "via",
                    &g.to_string(),
                    "dev",
                    &i.ifname,
                ])?;
            }
        }
        for (d, g) in &i.routes {
            ip(&[
                "route",
                "replace",
                &d.to_string(),
                "via",
                &g.to_string(),
                "dev",
                &i.ifname,
            ])?;
        }
        Ok(())
    })
    .map_err(io("cannot configure the pod interface"))?;
    if let Some(m) = &mtu {
        ip(&["link", "set", "dev", &host, "mtu", m]).map_err(&e)?;
    }
    tx_checksum_off(&host).map_err(&e)?;
    ip(&["link", "set", "dev", &host, "up"]).map_err(&e)?;
    let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    vsctl(
        conf,
        &[
            "--",
            "--may-exist",
            "add-port",
            &conf.bridge,
            &host,
            "--",
            "set",
            "Interface",
            &host,
            &format!("external_ids:iface-id={}", q(&i.lsp)),
            &format!("external_ids:attached-mac={}", q(&i.mac)),
            &format!("external_ids:ovnflow-container-id={}", q(&env.container_id)),
            &format!("external_ids:ovnflow-ifname={}", q(&i.ifname)),
            &format!("external_ids:ovnflow-primary={}", q(&env.ifname)),
            &format!("external_ids:ovnflow-netns={}", q(&env.netns)),
        ],
    )
    .map_err(io("cannot add the port to the bridge"))?;
    let show = ip(&["-j", "link", "show", "dev", &host]).map_err(&e)?;
    let mac = serde_json::from_str::<Value>(&show)
        .ok()
        .and_then(|v| v.get(0)?.get("address")?.as_str().map(str::to_string))
        .unwrap_or_default();
    Ok(mac)
}

fn wait_installed(conf: &NetConf, env: &Env, ifaces: &[Iface]) -> Result<(), CniError> {
    let secs = conf.ovn_installed_timeout.unwrap_or(20);
    if secs == 0 {
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    for i in ifaces {
        let host = host_ifname(&env.container_id, &i.ifname);
        loop {
            let v = vsctl(
                conf,
                &[
                    "--if-exists",
                    "get",
                    "Interface",
                    &host,
                    "external_ids:ovn-installed",
                ],
            )
            .unwrap_or_default();
            if v.trim() == "\"true\"" {
                break;
            }
            if Instant::now() > deadline {
                return Err(CniError::new(
                    11,
                    "ovn-controller did not install the port",
                    format!(
                        "{host} (logical port {}) not ovn-installed after {secs} s",
                        i.lsp
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}

/// The OVS interfaces a container's call created.
fn created(conf: &NetConf, env: &Env) -> Result<Vec<String>, CniError> {
    let out = vsctl(
        conf,
        &[
            "--format=json",
            "--columns=name,external_ids",
            "find",
            "Interface",
            &format!(
                "external_ids:ovnflow-container-id=\"{}\"",
                env.container_id.replace('"', "")
            ),
        ],
    )
    .map_err(io("cannot read the Open_vSwitch database"))?;
    let v: Value = serde_json::from_str(&out)
        .map_err(|e| CniError::new(5, "cannot read the Open_vSwitch database", e.to_string()))?;
    let mut names = Vec::new();
    for row in v
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = row.get(0).and_then(Value::as_str).unwrap_or_default();
        // external_ids: ["map", [[k, v], …]]
        let primary = row
            .get(1)
            .and_then(|m| m.get(1))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|kv| kv.get(0).and_then(Value::as_str) == Some("ovnflow-primary"))
            .and_then(|kv| kv.get(1).and_then(Value::as_str));
        if primary == Some(env.ifname.as_str()) {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

fn del(conf: &NetConf, env: &Env) -> Result<(), CniError> {
    let mut names = created(conf, env)?;
    // A veth pair whose OVS port was never added.
    names.push(host_ifname(&env.container_id, &env.ifname));
    names.sort();
    names.dedup();
    for n in &names {
        vsctl(conf, &["--if-exists", "del-port", n]).map_err(io("cannot remove the port"))?;
        if link_exists(n) {
            ip(&["link", "del", "dev", n]).map_err(io("cannot remove the veth pair"))?;
        }
    }
    Ok(())
}

fn check(conf: &NetConf, env: &Env, ifaces: &[Iface]) -> Result<(), CniError> {
    let fail = |m: String| CniError::new(100, "check failed", m);
    for i in ifaces {
        let host = host_ifname(&env.container_id, &i.ifname);
        if !link_exists(&host) {
            return Err(fail(format!("host interface {host} is missing")));
        }
        let id = vsctl(
            conf,
            &[
                "--if-exists",
                "get",
                "Interface",
                &host,
                "external_ids:iface-id",
            ],
        )
        .unwrap_or_default();
        if id.trim().trim_matches('"') != i.lsp {
            return Err(fail(format!(
                "{host} is not plugged as {} into {}",
                i.lsp, conf.bridge
            )));
        }
        let show = in_netns(Path::new(&env.netns), || {
            ip(&["-j", "addr", "show", "dev", &i.ifname])
        })
        .map_err(|m| fail(format!("{}: {m}", i.ifname)))?;
        let v: Value = serde_json::from_str(&show).unwrap_or(Value::Null);
        let mac = v[0]["address"].as_str().unwrap_or_default();
        let has_ip = |want: &ipnetwork::IpNetwork| {
            v[0]["addr_info"].as_array().into_iter().flatten().any(|a| {
                a["local"].as_str() == Some(&want.ip().to_string())
                    && a["prefixlen"].as_u64() == Some(u64::from(want.prefix()))
            })
        };
        if let Some(missing) = i.addrs.iter().find(|a| !has_ip(a)) {
            return Err(fail(format!(
                "{} in the pod lacks address {missing}",
                i.ifname
            )));
        }
        if mac != i.mac {
            return Err(fail(format!(
                "{} in the pod has MAC {mac} and not {}",
                i.ifname, i.mac
            )));
        }
    }
    Ok(())
}

//! A small Kubernetes API server for tests and the benchmark: HTTP/1.1 on
//! localhost, JSON objects in memory, and the API server's list and watch
//! protocol as a real one speaks it: lists carry the collection's
//! resourceVersion (items of built-in kinds without `apiVersion`/`kind`,
//! custom resources with them), watches stream `ADDED`/`MODIFIED`/
//! `DELETED` events after the requested resourceVersion with chunked
//! encoding, `BOOKMARK` events on demand, an `ERROR` event with a 410
//! `Expired` Status when the requested version was compacted, and can be
//! cut off. create/get/replace (optimistic concurrency on
//! resourceVersion)/merge-patch (also of `/status`)/delete; unknown
//! collections answer 404. Every request is logged for assertions.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

/// A collection: `api/v1/pods`, `apis/discovery.k8s.io/v1/endpointslices`.
#[derive(Clone, Debug)]
struct Collection {
    kind: String,
    api_version: String,
    custom: bool,
}

/// One logged request.
#[derive(Clone, Debug)]
pub struct Request {
    /// Method.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Body.
    pub body: String,
}

#[derive(Default)]
struct State {
    rv: u64,
    collections: BTreeMap<String, Collection>,
    objects: BTreeMap<String, BTreeMap<(String, String), Value>>,
    /// (rv, collection, type, object)
    log: Vec<(u64, String, String, Value)>,
    /// Watches asking for an older version get 410.
    compacted: u64,
    requests: Vec<Request>,
    uid: u64,
}

#[derive(Clone, Debug)]
enum Signal {
    Event,
    Bookmark,
    Disconnect,
    Expire,
}

/// The server; stops when dropped.
pub struct ApiServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    signal: broadcast::Sender<Signal>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The collections of the kinds the bridge watches, plus Leases and events.
pub const CORE: &[(&str, &str, &str, bool)] = &[
    ("api/v1/namespaces", "Namespace", "v1", false),
    ("api/v1/nodes", "Node", "v1", false),
    ("api/v1/pods", "Pod", "v1", false),
    ("api/v1/services", "Service", "v1", false),
    (
        "apis/discovery.k8s.io/v1/endpointslices",
        "EndpointSlice",
        "discovery.k8s.io/v1",
        false,
    ),
    (
        "apis/networking.k8s.io/v1/networkpolicies",
        "NetworkPolicy",
        "networking.k8s.io/v1",
        false,
    ),
    (
        "apis/coordination.k8s.io/v1/leases",
        "Lease",
        "coordination.k8s.io/v1",
        false,
    ),
    (
        "apis/events.k8s.io/v1/events",
        "Event",
        "events.k8s.io/v1",
        false,
    ),
];

/// Nodus' and Multus' collections (served when their CRDs are installed).
pub const CUSTOM: &[(&str, &str, &str, bool)] = &[
    (
        "apis/k8s.plugin.opnfv.org/v1alpha1/networks",
        "Network",
        "k8s.plugin.opnfv.org/v1alpha1",
        true,
    ),
    (
        "apis/k8s.plugin.opnfv.org/v1alpha1/providernetworks",
        "ProviderNetwork",
        "k8s.plugin.opnfv.org/v1alpha1",
        true,
    ),
    (
        "apis/k8s.plugin.opnfv.org/v1alpha1/networkchainings",
        "NetworkChaining",
        "k8s.plugin.opnfv.org/v1alpha1",
        true,
    ),
    (
        "apis/k8s.cni.cncf.io/v1/network-attachment-definitions",
        "NetworkAttachmentDefinition",
        "k8s.cni.cncf.io/v1",
        true,
    ),
];

/// The collection of an object (from its apiVersion and kind).
pub fn collection_of(obj: &Value) -> String {
    let api = obj["apiVersion"].as_str().unwrap_or("");
    let kind = obj["kind"].as_str().unwrap_or("");
    CORE.iter()
        .chain(CUSTOM)
        .find(|(_, k, a, _)| *k == kind && *a == api)
        .map(|(c, ..)| c.to_string())
        .unwrap_or_else(|| panic!("no collection for {api} {kind}"))
}

impl ApiServer {
    /// Starts serving the given collections.
    pub async fn start(collections: &[(&str, &str, &str, bool)]) -> ApiServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut st = State {
            rv: 1000,
            ..Default::default()
        };
        for (c, kind, api, custom) in collections {
            st.collections.insert(
                c.to_string(),
                Collection {
                    kind: kind.to_string(),
                    api_version: api.to_string(),
                    custom: *custom,
                },
            );
            st.objects.insert(c.to_string(), BTreeMap::new());
        }
        let state = Arc::new(Mutex::new(st));
        let (signal, _) = broadcast::channel(1 << 16);
        let (s2, sig2) = (state.clone(), signal.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let (s3, sig3) = (s2.clone(), sig2.clone());
                tokio::spawn(async move {
                    let _ = serve(sock, s3, sig3).await;
                });
            }
        });
        ApiServer {
            addr,
            state,
            signal,
            task,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kube client for this server.
    pub fn client(&self) -> kube::Client {
        let cfg = kube::Config::new(self.url().parse().unwrap());
        kube::Client::try_from(cfg).unwrap()
    }

    /// Creates (or replaces) an object, as another client would.
    pub fn put(&self, obj: Value) {
        let c = collection_of(&obj);
        let mut st = self.state.lock().unwrap();
        let ns = obj["metadata"]["namespace"].as_str().map(str::to_string);
        let name = obj["metadata"]["name"].as_str().unwrap().to_string();
        let exists = st.objects[&c].contains_key(&(ns.clone().unwrap_or_default(), name.clone()));
        store(&mut st, &c, obj, if exists { "MODIFIED" } else { "ADDED" });
        drop(st);
        let _ = self.signal.send(Signal::Event);
    }

    /// Deletes an object, as another client would.
    pub fn delete(&self, obj: &Value) {
        let c = collection_of(obj);
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let name = obj["metadata"]["name"].as_str().unwrap().to_string();
        let mut st = self.state.lock().unwrap();
        remove(&mut st, &c, &ns, &name);
        drop(st);
        let _ = self.signal.send(Signal::Event);
    }

    /// The current object, if any.
    pub fn get(&self, collection: &str, ns: &str, name: &str) -> Option<Value> {
        let st = self.state.lock().unwrap();
        st.objects
            .get(collection)?
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    /// Every object of a collection.
    pub fn list(&self, collection: &str) -> Vec<Value> {
        let st = self.state.lock().unwrap();
        st.objects[collection].values().cloned().collect()
    }

    /// Changes objects without telling open watches (as if the change
    /// happened while they were disconnected), then compacts the history
    /// so that resuming from an older version gets 410 Gone.
    pub fn change_unseen(&self, f: impl FnOnce(&mut dyn FnMut(Option<Value>, Option<Value>))) {
        let mut st = self.state.lock().unwrap();
        let mut op = |add: Option<Value>, del: Option<Value>| {
            if let Some(o) = add {
                let c = collection_of(&o);
                store(&mut st, &c, o, "ADDED");
            }
            if let Some(o) = del {
                let c = collection_of(&o);
                let ns = o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                remove(&mut st, &c, &ns, o["metadata"]["name"].as_str().unwrap());
            }
        };
        f(&mut op);
        st.compacted = st.rv + 1;
        st.log.clear();
    }

    /// Sends a BOOKMARK to every open watch.
    pub fn bookmark(&self) {
        let _ = self.signal.send(Signal::Bookmark);
    }

    /// Closes every open watch (as a load balancer or timeout would).
    pub fn disconnect_watches(&self) {
        let _ = self.signal.send(Signal::Disconnect);
    }

    /// Compacts the history and sends `410 Gone` on every open watch.
    pub fn expire_watches(&self) {
        {
            let mut st = self.state.lock().unwrap();
            st.compacted = st.rv + 1;
            st.log.clear();
        }
        let _ = self.signal.send(Signal::Expire);
    }

    /// The logged requests.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.state.lock().unwrap().rv
    }
}

fn now() -> String {
    "2025-06-01T12:00:00Z".into()
}

/// Stores an object with a new resourceVersion and logs the event.
fn store(st: &mut State, c: &str, mut obj: Value, ty: &str) -> Value {
    st.rv += 1;
    let rv = st.rv;
    let ns = obj["metadata"]["namespace"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    let key = (ns, name);
    let old_uid = st.objects[c]
        .get(&key)
        .and_then(|o| o["metadata"]["uid"].as_str().map(str::to_string));
    let meta = obj["metadata"].as_object_mut().unwrap();
    meta.insert("resourceVersion".into(), json!(rv.to_string()));
    if !meta.contains_key("uid") {
        let uid = old_uid.unwrap_or_else(|| {
            st.uid += 1;
            format!("00000000-0000-4000-8000-{:012x}", st.uid)
        });
        meta.insert("uid".into(), json!(uid));
    }
    meta.entry("creationTimestamp").or_insert(json!(now()));
    st.objects.get_mut(c).unwrap().insert(key, obj.clone());
    st.log
        .push((rv, c.to_string(), ty.to_string(), obj.clone()));
    obj
}

fn remove(st: &mut State, c: &str, ns: &str, name: &str) -> Option<Value> {
    let mut obj = st
        .objects
        .get_mut(c)?
        .remove(&(ns.to_string(), name.to_string()))?;
    st.rv += 1;
    obj["metadata"]["resourceVersion"] = json!(st.rv.to_string());
    st.log
        .push((st.rv, c.to_string(), "DELETED".into(), obj.clone()));
    Some(obj)
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

/// RFC 7386 merge patch.
fn merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

/// Splits a request path into (collection, namespace, name, subresource).
fn route(path: &str) -> Option<(String, String, Option<String>, Option<String>)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (prefix, rest) = match *parts.first()? {
        "api" if parts.len() >= 2 => (parts[..2].join("/"), &parts[2..]),
        "apis" if parts.len() >= 3 => (parts[..3].join("/"), &parts[3..]),
        _ => return None,
    };
    let (ns, rest) = if rest.len() >= 3 && rest[0] == "namespaces" {
        (rest[1].to_string(), &rest[2..])
    } else {
        (String::new(), rest)
    };
    let plural = rest.first()?;
    Some((
        format!("{prefix}/{plural}"),
        ns,
        rest.get(1).map(|s| s.to_string()),
        rest.get(2).map(|s| s.to_string()),
    ))
}

fn query(target: &str) -> (String, BTreeMap<String, String>) {
    let (path, q) = target.split_once('?').unwrap_or((target, ""));
    let params = q
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.replace("%2F", "/").replace("%3D", "="))
        })
        .collect();
    (path.to_string(), params)
}

async fn respond(sock: &mut TcpStream, code: u16, body: &Value) -> std::io::Result<()> {
    let text = body.to_string();
    let head = format!(
        "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        text.len()
    );
    sock.write_all(head.as_bytes()).await?;
    sock.write_all(text.as_bytes()).await
}

async fn serve(
    sock: TcpStream,
    state: Arc<Mutex<State>>,
    signal: broadcast::Sender<Signal>,
) -> std::io::Result<()> {
    let mut rd = BufReader::new(sock);
    loop {
        let mut line = String::new();
        if rd.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut it = line.split_whitespace();
        let (method, target) = (
            it.next().unwrap_or("").to_string(),
            it.next().unwrap_or("").to_string(),
        );
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            rd.read_line(&mut h).await?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; len];
        rd.read_exact(&mut body).await?;
        let body = String::from_utf8_lossy(&body).into_owned();
        state.lock().unwrap().requests.push(Request {
            method: method.clone(),
            target: target.clone(),
            body: body.clone(),
        });
        let (path, params) = query(&target);
        let Some((c, ns, name, sub)) = route(&path) else {
            respond(rd.get_mut(), 404, &status(404, "NotFound", "no such path")).await?;
            continue;
        };
        let coll = state.lock().unwrap().collections.get(&c).cloned();
        let Some(coll) = coll else {
            let msg = format!("the server could not find the requested resource ({c})");
            respond(rd.get_mut(), 404, &status(404, "NotFound", &msg)).await?;
            continue;
        };
        if method == "GET"
            && name.is_none()
            && params.get("watch").map(String::as_str) == Some("true")
        {
            let from: u64 = params
                .get("resourceVersion")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            return watch(
                rd.into_inner(),
                state,
                signal.subscribe(),
                c,
                coll,
                ns,
                from,
            )
            .await;
        }
        let (code, out) = {
            let mut st = state.lock().unwrap();
            handle(
                &mut st,
                &method,
                &c,
                &coll,
                &ns,
                name.as_deref(),
                sub.as_deref(),
                &body,
            )
        };
        if matches!(method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") && code < 300 {
            let _ = signal.send(Signal::Event);
        }
        respond(rd.get_mut(), code, &out).await?;
    }
}

#[allow(clippy::too_many_arguments)]
fn handle(
    st: &mut State,
    method: &str,
    c: &str,
    coll: &Collection,
    ns: &str,
    name: Option<&str>,
    sub: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let key = (ns.to_string(), name.unwrap_or("").to_string());
    let not_found = || {
        (
            404,
            status(
                404,
                "NotFound",
                &format!("{} \"{}\" not found", coll.kind, key.1),
            ),
        )
    };
    match (method, name) {
        ("GET", None) => {
            let items: Vec<Value> = st.objects[c]
                .iter()
                .filter(|((n, _), _)| ns.is_empty() || n == ns)
                .map(|(_, o)| {
                    let mut o = o.clone();
                    if !coll.custom {
                        // Items of built-in lists carry no apiVersion/kind.
                        let m = o.as_object_mut().unwrap();
                        m.remove("apiVersion");
                        m.remove("kind");
                    }
                    o
                })
                .collect();
            (
                200,
                json!({"kind": format!("{}List", coll.kind), "apiVersion": coll.api_version,
                       "metadata": {"resourceVersion": st.rv.to_string()}, "items": items}),
            )
        }
        ("GET", Some(_)) => match st.objects[c].get(&key) {
            Some(o) => (200, o.clone()),
            None => not_found(),
        },
        ("POST", None) => {
            let Ok(mut obj) = serde_json::from_str::<Value>(body) else {
                return (400, status(400, "BadRequest", "invalid JSON"));
            };
            let name = obj["metadata"]["name"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| {
                    st.uid += 1;
                    format!(
                        "{}{}",
                        obj["metadata"]["generateName"].as_str().unwrap_or("obj-"),
                        st.uid
                    )
                });
            obj["metadata"]["name"] = json!(name);
            if !ns.is_empty() {
                obj["metadata"]["namespace"] = json!(ns);
            }
            obj["apiVersion"] = json!(coll.api_version);
            obj["kind"] = json!(coll.kind);
            if st.objects[c].contains_key(&(ns.to_string(), name.clone())) {
                return (
                    409,
                    status(
                        409,
                        "AlreadyExists",
                        &format!("{} \"{name}\" already exists", coll.kind),
                    ),
                );
            }
            (201, store(st, c, obj, "ADDED"))
        }
        ("PUT", Some(_)) => {
            let Ok(mut obj) = serde_json::from_str::<Value>(body) else {
                return (400, status(400, "BadRequest", "invalid JSON"));
            };
            let Some(cur) = st.objects[c].get(&key) else {
                return not_found();
            };
            let want = obj["metadata"]["resourceVersion"].as_str().unwrap_or("");
            if !want.is_empty() && cur["metadata"]["resourceVersion"] != want {
                return (
                    409,
                    status(
                        409,
                        "Conflict",
                        &format!(
                            "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                            coll.kind, key.1
                        ),
                    ),
                );
            }
            obj["apiVersion"] = json!(coll.api_version);
            obj["kind"] = json!(coll.kind);
            (200, store(st, c, obj, "MODIFIED"))
        }
        ("PATCH", Some(_)) => {
            let Ok(patch) = serde_json::from_str::<Value>(body) else {
                return (400, status(400, "BadRequest", "invalid JSON"));
            };
            let Some(cur) = st.objects[c].get(&key).cloned() else {
                return not_found();
            };
            let mut obj = cur;
            if sub == Some("status") {
                merge(&mut obj["status"], &patch["status"]);
            } else {
                let mut p = patch.clone();
                if let Some(m) = p.as_object_mut() {
                    m.remove("status");
                }
                merge(&mut obj, &p);
            }
            (200, store(st, c, obj, "MODIFIED"))
        }
        ("DELETE", Some(n)) => match remove(st, c, ns, n) {
            Some(o) => (200, o),
            None => not_found(),
        },
        _ => (405, status(405, "MethodNotAllowed", method)),
    }
}

async fn watch(
    mut sock: TcpStream,
    state: Arc<Mutex<State>>,
    mut signal: broadcast::Receiver<Signal>,
    c: String,
    coll: Collection,
    ns: String,
    from: u64,
) -> std::io::Result<()> {
    sock.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    )
    .await?;
    async fn chunk(sock: &mut TcpStream, v: &Value) -> std::io::Result<()> {
        let text = format!("{v}\n");
        sock.write_all(format!("{:x}\r\n{text}\r\n", text.len()).as_bytes())
            .await
    }
    let expired = |rv: u64, compacted: u64| {
        json!({"type": "ERROR", "object": status(410, "Expired",
            &format!("too old resource version: {rv} ({compacted})"))})
    };
    let mut sent = from;
    {
        let compacted = state.lock().unwrap().compacted;
        if from < compacted.saturating_sub(1) {
            chunk(&mut sock, &expired(from, compacted)).await?;
            sock.write_all(b"0\r\n\r\n").await?;
            return Ok(());
        }
    }
    // Position in the log: events are appended in resourceVersion order.
    let mut pos = 0usize;
    loop {
        let events: Vec<(u64, String, Value)> = {
            let st = state.lock().unwrap();
            if pos > st.log.len() {
                pos = 0; // compacted
            }
            let from = pos;
            pos = st.log.len();
            st.log[from..]
                .iter()
                .filter(|(rv, cc, _, o)| {
                    *rv > sent
                        && *cc == c
                        && (ns.is_empty() || o["metadata"]["namespace"] == ns.as_str())
                })
                .map(|(rv, _, t, o)| (*rv, t.clone(), o.clone()))
                .collect()
        };
        for (rv, t, o) in events {
            chunk(&mut sock, &json!({"type": t, "object": o})).await?;
            sent = rv;
        }
        match signal.recv().await {
            Ok(Signal::Event) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Ok(Signal::Bookmark) => {
                let rv = state.lock().unwrap().rv;
                let b = json!({"type": "BOOKMARK", "object": {"kind": coll.kind, "apiVersion": coll.api_version,
                    "metadata": {"resourceVersion": rv.to_string(),
                                 "annotations": {"k8s.io/initial-events-end": "true"}}}});
                chunk(&mut sock, &b).await?;
                sent = sent.max(rv);
            }
            Ok(Signal::Disconnect) | Err(broadcast::error::RecvError::Closed) => {
                sock.write_all(b"0\r\n\r\n").await?;
                return Ok(());
            }
            Ok(Signal::Expire) => {
                let compacted = state.lock().unwrap().compacted;
                chunk(&mut sock, &expired(sent, compacted)).await?;
                sock.write_all(b"0\r\n\r\n").await?;
                return Ok(());
            }
        }
    }
}

/// Names of the collections a test serves.
pub fn all_collections() -> Vec<(&'static str, &'static str, &'static str, bool)> {
    CORE.iter().chain(CUSTOM).copied().collect()
}

/// The set of methods+paths requested (for assertions).
pub fn targets(reqs: &[Request]) -> BTreeSet<String> {
    reqs.iter()
        .map(|r| format!("{} {}", r.method, r.target))
        .collect()
}

//! `ovnflow k8s run`: the controller mode. Watchers list and watch every
//! kind the bridge translates (with bookmarks; a `410 Gone` relists, a
//! broken watch resumes from the last resourceVersion, errors back off);
//! their events update the stores ([`store`]); each batch of changes is
//! translated incrementally by [`crate::incremental::Engine`] (only the
//! objects the batch affects are recomputed) and committed by
//! [`nb::NbWriter`] as one transaction that touches only the rows that
//! changed ([`crate::reconcile::plan_rows`], set columns mutated), so
//! nothing is ever half-applied. The first commit, and every resync,
//! compare all owned rows ([`crate::reconcile::plan`]), so a populated NB
//! is brought in line with the fewest changes; owned rows others change
//! are re-checked as the monitor reports them. Nothing is written before
//! every kind has been listed once.
//!
//! Objects that cannot be translated are parked ([`park`]) and reported
//! with a Warning event; pods and nodes get their address annotations and
//! Nodus objects their status ([`writeback`]). With a Lease ([`lease`])
//! only the elected replica writes.

pub mod dispatch;
pub mod lease;
pub mod nb;
pub mod park;
pub mod resources;
mod stats;
pub mod store;
pub mod writeback;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, DynamicObject, ListParams};
use kube::runtime::watcher;
use kube::runtime::WatchStreamExt;
use kube::Client;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::incremental::Engine;
use crate::ipam::Config;
use crate::model::RowId;
use lease::LeaseOptions;
use nb::NbWriter;
use park::Parked;
use resources::Kind;
pub use stats::{Phases, SharedStats, Stats};
use store::{Change, Store};
use writeback::Write;

/// Run mode settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// The NB remote(s).
    pub nb: String,
    /// Translation settings.
    pub cfg: Config,
    /// Leader election; `None` writes without a Lease (a single replica).
    pub lease: Option<LeaseOptions>,
    /// How often the NB is re-reconciled without a change.
    pub resync: Duration,
    /// This replica's identity (events' reporting instance).
    pub identity: String,
    /// Whether to write annotations, statuses and events back.
    pub write_back: bool,
}

fn stats_mut(s: &SharedStats) -> std::sync::MutexGuard<'_, Stats> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// Aborts tasks when dropped (run mode ends, or panics).
struct Tasks(Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// Whether the cluster serves the kind's API (a CRD may be missing).
async fn served(client: &Client, kind: Kind) -> bool {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &kind.api_resource());
    match api.list(&ListParams::default().limit(1)).await {
        Err(kube::Error::Api(s)) if s.code == 404 => false,
        _ => true, // other errors are the watcher's to retry
    }
}

/// Watches one kind, as untyped objects: one watcher (and one JSON
/// reader) for every kind, decoded by the store (issue 3: a typed watcher
/// per kind compiled kube's watcher and each type's deserializers again).
fn spawn_watcher(
    kind: Kind,
    client: Client,
    tx: mpsc::UnboundedSender<Change>,
    tasks: &mut Vec<JoinHandle<()>>,
) {
    tasks.push(tokio::spawn(async move {
        if kind.is_custom() && !served(&client, kind).await {
            tracing::info!(
                "{}: API not served (CRD not installed); ignored",
                kind.name()
            );
            let _ = tx.send(Change::absent(kind));
            return;
        }
        let api: Api<DynamicObject> = Api::all_with(client, &kind.api_resource());
        let mut stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(ev) => {
                    if tx.send(Change::new(kind, ev)).is_err() {
                        return;
                    }
                }
                Err(e) => tracing::warn!("{} watch: {e}", kind.name()),
            }
        }
    }));
}

fn spawn_watchers(client: &Client, tx: &mpsc::UnboundedSender<Change>) -> Vec<JoinHandle<()>> {
    let mut t = Vec::new();
    for kind in Kind::ALL {
        spawn_watcher(kind, client.clone(), tx.clone(), &mut t);
    }
    t
}

fn spawn_writer(
    client: Client,
    identity: String,
    stats: SharedStats,
) -> (mpsc::UnboundedSender<Write>, JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel::<Write>();
    let task = tokio::spawn(async move {
        let w = writeback::Writer::new(client, &identity);
        dispatch::run(w, rx, stats).await;
    });
    (tx, task)
}

/// A future boxed in this crate (see [`run`]).
pub type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs the controller until `shutdown` completes (Ok) or leadership is
/// lost or the watchers end (Err).
///
/// Boxed here so that the controller's code (with kube's watchers) is
/// compiled once, in this crate: an `async fn`'s body is compiled in every
/// crate that awaits it (issue 3).
pub fn run(
    client: Client,
    opts: Options,
    stats: SharedStats,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Boxed<'static, Result<()>> {
    run_boxed(client, opts, stats, Box::pin(shutdown))
}

/// [`run`] once `shutdown` is boxed: not generic, so compiled here.
#[inline(never)]
fn run_boxed(
    client: Client,
    opts: Options,
    stats: SharedStats,
    shutdown: Boxed<'static, ()>,
) -> Boxed<'static, Result<()>> {
    Box::pin(controller(client, opts, stats, shutdown))
}

async fn controller(
    client: Client,
    opts: Options,
    stats: SharedStats,
    mut shutdown: Boxed<'static, ()>,
) -> Result<()> {
    let mut tasks = Tasks(Vec::new());
    let (lost_tx, mut lost) = tokio::sync::oneshot::channel::<String>();
    if let Some(l) = &opts.lease {
        tokio::select! {
            _ = lease::acquire(&client, l) => {}
            _ = &mut shutdown => return Ok(()),
        }
        let (c, l) = (client.clone(), l.clone());
        tasks.0.push(tokio::spawn(async move {
            let _ = lost_tx.send(lease::keep(c, l).await);
        }));
    } else {
        // Never fires: keep the sender alive for the whole run.
        tasks.0.push(tokio::spawn(async move {
            std::future::pending::<()>().await;
            drop(lost_tx);
        }));
    }
    let nb = NbWriter::connect(&opts.nb).await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    tasks.0.extend(spawn_watchers(&client, &tx));
    drop(tx);
    let writes = if opts.write_back {
        let (w, t) = spawn_writer(client.clone(), opts.identity.clone(), stats.clone());
        tasks.0.push(t);
        Some(w)
    } else {
        None
    };
    let mut c = Controller {
        cfg: opts.cfg.clone(),
        store: Store::default(),
        parked: BTreeMap::new(),
        reported: BTreeMap::new(),
        pins: BTreeMap::new(),
        statuses: BTreeMap::new(),
        writes,
        nb,
        stats,
        synced: false,
        engine: Engine::new(opts.cfg.clone()),
        full_check: true,
    };
    let mut resync = tokio::time::interval(opts.resync);
    resync.reset();
    let mut retry: Option<tokio::time::Instant> = None;
    let mut backoff = Duration::from_millis(200);
    let mut pending_since: Option<Instant> = None;
    loop {
        let retry_at =
            retry.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86400));
        tokio::select! {
            biased;
            _ = &mut shutdown => return Ok(()),
            why = &mut lost => {
                return Err(Error::Api { message: format!("leadership lost: {}", why.unwrap_or_default()) });
            }
            ch = rx.recv() => {
                let Some(ch) = ch else {
                    return Err(Error::Api { message: "the watchers ended".into() });
                };
                pending_since.get_or_insert(ch.received);
                c.store.apply_change(ch);
                while let Ok(ch) = rx.try_recv() {
                    c.store.apply_change(ch);
                }
            }
            r = c.nb.changed() => {
                if !r? {
                    continue;
                }
            }
            _ = resync.tick() => { c.full_check = true; }
            _ = tokio::time::sleep_until(retry_at) => { retry = None; }
        }
        if !c.store.all_ready() {
            continue;
        }
        match c.step(pending_since).await {
            Ok(()) => {
                pending_since = None;
                retry = None;
                backoff = Duration::from_millis(200);
            }
            Err(e) => {
                tracing::warn!("k8s run: {e}; retrying in {backoff:?}");
                stats_mut(&c.stats).errors.push(e.to_string());
                retry = Some(tokio::time::Instant::now() + backoff);
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// A Nodus object's status inputs: identity, kind, metadata, current
/// status, problem.
type StatusInput<'a> = (
    String,
    Kind,
    &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    Option<&'a Value>,
    Option<String>,
);

/// The controller's state between batches.
struct Controller {
    cfg: Config,
    store: Store,
    /// Parked objects by identity.
    parked: BTreeMap<String, Parked>,
    /// Reasons already reported by an event, by identity.
    reported: BTreeMap<String, String>,
    /// Annotations written (or being written) by us, by identity: kept
    /// on the stored object until the watch shows them.
    pins: BTreeMap<String, (String, String)>,
    /// Nodus statuses written, by identity.
    statuses: BTreeMap<String, Value>,
    writes: Option<mpsc::UnboundedSender<Write>>,
    nb: NbWriter,
    stats: SharedStats,
    synced: bool,
    /// The incremental translation of the stored objects.
    engine: Engine,
    /// Whether the next commit compares every owned row (start, resync)
    /// rather than the changed ones.
    full_check: bool,
}

impl Controller {
    /// One batch: translate, commit, write back.
    async fn step(&mut self, since: Option<Instant>) -> Result<()> {
        let touched = self.store.take_touched();
        let t0 = Instant::now();
        self.overlay_pins(&touched);
        let changed = self.desired(&touched)?;
        let t1 = Instant::now();
        let plan = if self.full_check {
            self.nb.commit(self.engine.nb()).await?
        } else {
            self.nb.commit_rows(self.engine.nb(), &changed).await?
        };
        self.full_check = false;
        let t2 = Instant::now();
        {
            let mut s = stats_mut(&self.stats);
            s.translate_time += t1 - t0;
            s.commit_time += t2 - t1;
            if self.synced {
                s.batches += 1;
            }
            if !plan.is_empty() {
                s.transactions += 1;
                s.operations += plan.ops.len() as u64;
                if let (Some(since), true) = (since, self.synced) {
                    s.latencies.push(t2 - since);
                    let (plan, transact) = self.nb.last_timing;
                    s.phases.push(Phases {
                        queued: t0.saturating_duration_since(since),
                        translate: t1 - t0,
                        plan,
                        transact,
                    });
                }
            }
            if !self.synced {
                s.synced_at = Some(t2);
            }
            s.rejected = self
                .parked
                .iter()
                .map(|(k, p)| (k.clone(), p.message.clone()))
                .collect();
        }
        if !plan.is_empty() {
            tracing::info!(
                "k8s run: committed {} operations ({} inserts, {} updates, {} deletes)",
                plan.ops.len(),
                plan.inserts,
                plan.updates,
                plan.deletes
            );
        }
        let all = !self.synced;
        self.synced = true;
        self.write_back(&touched, all);
        Ok(())
    }

    /// Puts our annotations back on stored objects whose latest version
    /// does not show them yet; forgets them once it does or the object is gone.
    fn overlay_pins(&mut self, touched: &BTreeSet<String>) {
        let wild_pods = touched.contains("Pod/*");
        let wild_nodes = touched.contains("Node/*");
        let objs = &mut self.store.objs;
        self.pins.retain(|id, (key, value)| {
            let (kind, k) = id.split_once('/').unwrap_or(("", ""));
            let relevant = touched.contains(id)
                || (kind == "Pod" && wild_pods)
                || (kind == "Node" && wild_nodes);
            if !relevant {
                return true;
            }
            let meta = match kind {
                "Pod" => objs.pods.get_mut(k).map(|o| &mut o.obj.metadata),
                "Node" => objs.nodes.get_mut(k).map(|o| &mut o.obj.metadata),
                _ => None,
            };
            let Some(meta) = meta else { return false };
            let anns = meta.annotations.get_or_insert_with(Default::default);
            match anns.get(key.as_str()) {
                Some(v) if v == value => false, // the API shows it: done
                Some(_) => false,               // someone else changed it: theirs wins
                None => {
                    anns.insert(key.clone(), value.clone());
                    true
                }
            }
        });
    }

    /// The desired NB of the stored objects, parking those the
    /// translation rejects.
    fn desired(&mut self, touched: &BTreeSet<String>) -> Result<BTreeSet<RowId>> {
        let mut touched = touched.clone();
        let objs = &mut self.store.objs;
        // A changed object is retried as its new version; the others are
        // put back and retried too.
        let wild: BTreeSet<String> = touched
            .iter()
            .filter_map(|t| t.strip_suffix("/*"))
            .map(str::to_string)
            .collect();
        for (id, p) in std::mem::take(&mut self.parked) {
            let kind = id.split('/').next().unwrap_or("");
            if !touched.contains(&id) && !wild.contains(kind) {
                p.restore(objs);
                touched.insert(id);
            }
        }
        // A Network and a ProviderNetwork cannot share a name.
        let clash: Vec<String> = objs
            .networks
            .keys()
            .filter(|k| objs.provider_networks.contains_key(*k))
            .cloned()
            .collect();
        for k in clash {
            let msg = format!("Network {k}: a ProviderNetwork of that name exists");
            if let Some(p) = park::take(objs, Kind::Network, &k, msg) {
                self.parked.insert(format!("Network/{k}"), p);
                touched.insert(format!("Network/{k}"));
            }
        }
        for _ in 0..64 {
            match self.engine.update(objs, &touched) {
                Ok(changed) => return Ok(changed),
                Err(e) => {
                    let (kind, name) = match &e {
                        Error::Invalid { kind, name, .. } => (kind.clone(), name.clone()),
                        _ => return Err(e),
                    };
                    let parked = Kind::from_name(&kind)
                        .and_then(|k| park::take(objs, k, &name, e.to_string()));
                    match parked {
                        Some(p) => {
                            tracing::warn!("k8s run: not honoured: {e}");
                            self.parked.insert(format!("{kind}/{name}"), p);
                            // The engine keeps what it had to recompute.
                            touched = BTreeSet::from([format!("{kind}/{name}")]);
                        }
                        None => return Err(e),
                    }
                }
            }
        }
        Err(Error::Api {
            message: "more than 64 objects rejected in one batch; retrying later".into(),
        })
    }

    fn send(&self, w: Write) {
        if let Some(tx) = &self.writes {
            let _ = tx.send(w);
        }
    }

    /// Annotations, statuses and events after a commit.
    fn write_back(&mut self, touched: &BTreeSet<String>, all: bool) {
        if self.writes.is_none() {
            return;
        }
        let desired = self.engine.nb();
        // Events for newly rejected objects (once per reason).
        self.reported.retain(|id, _| self.parked.contains_key(id));
        let mut events = Vec::new();
        for (id, p) in &self.parked {
            if self.reported.get(id) != Some(&p.message) {
                self.reported.insert(id.clone(), p.message.clone());
                events.push(Write::Event {
                    reference: p.reference.clone(),
                    reason: "NotHonoured".into(),
                    message: p.message.clone(),
                });
            }
        }
        for e in events {
            self.send(e);
        }
        let any_node = all || touched.iter().any(|t| t.starts_with("Node/"));
        let pods: Vec<String> = if any_node || touched.contains("Pod/*") {
            self.store.objs.pods.keys().cloned().collect()
        } else {
            touched
                .iter()
                .filter_map(|t| t.strip_prefix("Pod/"))
                .map(str::to_string)
                .collect()
        };
        let mut writes = Vec::new();
        for k in pods {
            let id = format!("Pod/{k}");
            let Some(p) = self.store.objs.pods.get_mut(&k) else {
                continue;
            };
            if let Some(w) = writeback::pod_write(&k, &p.obj, desired, &self.cfg) {
                if let Write::Annotate { key, value, .. } = &w {
                    // Pin at once: the next translation keeps this address.
                    p.obj
                        .metadata
                        .annotations
                        .get_or_insert_with(Default::default)
                        .insert(key.clone(), value.clone());
                    self.pins.insert(id, (key.clone(), value.clone()));
                }
                writes.push(w);
            }
        }
        let nodes: Vec<String> = if all || touched.contains("Node/*") {
            self.store.objs.nodes.keys().cloned().collect()
        } else {
            touched
                .iter()
                .filter_map(|t| t.strip_prefix("Node/"))
                .map(str::to_string)
                .collect()
        };
        for k in nodes {
            let Some(n) = self.store.objs.nodes.get_mut(&k) else {
                continue;
            };
            if let Some(w) = writeback::node_write(&k, &n.obj, desired) {
                if let Write::Annotate { key, value, .. } = &w {
                    n.obj
                        .metadata
                        .annotations
                        .get_or_insert_with(Default::default)
                        .insert(key.clone(), value.clone());
                    self.pins
                        .insert(format!("Node/{k}"), (key.clone(), value.clone()));
                }
                writes.push(w);
            }
        }
        // Nodus statuses (few objects: all are checked every batch).
        let problems = writeback::chain_problems(desired);
        let objs = &self.store.objs;
        let mut statuses: Vec<StatusInput<'_>> = Vec::new();
        for (k, o) in &objs.networks {
            statuses.push((
                format!("Network/{k}"),
                Kind::Network,
                &o.obj.metadata,
                o.obj.status.as_ref(),
                None,
            ));
        }
        for (k, o) in &objs.provider_networks {
            statuses.push((
                format!("ProviderNetwork/{k}"),
                Kind::ProviderNetwork,
                &o.obj.metadata,
                o.obj.status.as_ref(),
                None,
            ));
        }
        for (k, o) in &objs.chains {
            statuses.push((
                format!("NetworkChaining/{k}"),
                Kind::NetworkChaining,
                &o.obj.metadata,
                o.obj.status.as_ref(),
                problems.get(k).cloned(),
            ));
        }
        let mut status_writes = Vec::new();
        for (id, kind, meta, cur, problem) in statuses {
            let cur = self.statuses.get(&id).or(cur);
            if let Some(w) = writeback::status_write(kind, meta, cur, problem.as_deref()) {
                if let Write::Status { status, .. } = &w {
                    status_writes.push((id, status.clone()));
                }
                writes.push(w);
            }
        }
        for (id, p) in &self.parked {
            let kind = id.split('/').next().and_then(Kind::from_name);
            if let Some(kind @ (Kind::Network | Kind::ProviderNetwork | Kind::NetworkChaining)) =
                kind
            {
                let want = writeback::nodus_status(Some(&p.message));
                if self.statuses.get(id) != Some(&want) {
                    status_writes.push((id.clone(), want.clone()));
                    writes.push(Write::Status {
                        kind,
                        namespace: p.reference.namespace.clone(),
                        name: p.reference.name.clone().unwrap_or_default(),
                        status: want,
                    });
                }
            }
        }
        self.statuses.extend(status_writes);
        let live: BTreeSet<String> = objs
            .networks
            .keys()
            .map(|k| format!("Network/{k}"))
            .chain(
                objs.provider_networks
                    .keys()
                    .map(|k| format!("ProviderNetwork/{k}")),
            )
            .chain(objs.chains.keys().map(|k| format!("NetworkChaining/{k}")))
            .chain(self.parked.keys().cloned())
            .collect();
        self.statuses.retain(|id, _| live.contains(id));
        for w in writes {
            self.send(w);
        }
    }
}

/// A client from a kubeconfig file, or else as kubectl finds one
/// (`KUBECONFIG`, `~/.kube/config`, the in-cluster service account).
/// Boxed as [`run`] is.
pub fn client(kubeconfig: Option<&std::path::Path>) -> Boxed<'_, Result<Client>> {
    Box::pin(new_client(kubeconfig))
}

async fn new_client(kubeconfig: Option<&std::path::Path>) -> Result<Client> {
    let api = |m: String| Error::Api { message: m };
    let cfg = match kubeconfig {
        Some(p) => {
            let kc = kube::config::Kubeconfig::read_from(p)
                .map_err(|e| api(format!("{}: {e}", p.display())))?;
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .map_err(|e| api(format!("{}: {e}", p.display())))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| api(format!("no kubeconfig and not in a cluster: {e}")))?,
    };
    Client::try_from(cfg).map_err(|e| api(e.to_string()))
}

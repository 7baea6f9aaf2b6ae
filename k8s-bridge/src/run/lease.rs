//! Leader election with a `coordination.k8s.io/v1` Lease, as client-go's
//! leaderelection does it: a candidate takes the Lease when it is free or
//! its holder stopped renewing for `leaseDurationSeconds`, and the holder
//! renews it every `renew`. Writes are guarded by the Lease's
//! resourceVersion, so two candidates can never both succeed. A holder
//! that cannot renew within the lease duration stops writing.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::Client;

/// Leader election settings.
#[derive(Clone, Debug)]
pub struct LeaseOptions {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// This candidate's identity (the pod name).
    pub identity: String,
    /// How long a Lease stays valid without renewal.
    pub duration: Duration,
    /// How often the holder renews (and a candidate retries).
    pub renew: Duration,
}

impl LeaseOptions {
    /// Defaults of ovn-kubernetes' master election (60 s lease, renewed
    /// every 30 s would be its values; we renew faster: 15 s / 5 s, the
    /// client-go defaults).
    pub fn new(namespace: &str, name: &str, identity: &str) -> LeaseOptions {
        LeaseOptions {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            duration: Duration::from_secs(15),
            renew: Duration::from_secs(5),
        }
    }
}

/// Whether `l` is held by someone else whose lease has not expired.
fn held_by_other(l: &Lease, me: &str, now: Timestamp) -> bool {
    let Some(spec) = &l.spec else { return false };
    let Some(holder) = spec.holder_identity.as_deref().filter(|h| !h.is_empty()) else {
        return false;
    };
    if holder == me {
        return false;
    }
    let secs = i64::from(spec.lease_duration_seconds.unwrap_or(15));
    let Some(renewed) = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()) else {
        return false;
    };
    let expires = renewed.0.as_second().saturating_add(secs);
    now.as_second() < expires
}

/// One attempt to take or renew the Lease: whether we hold it now.
pub async fn try_acquire(api: &Api<Lease>, o: &LeaseOptions) -> kube::Result<bool> {
    let now = Timestamp::now();
    let secs = i32::try_from(o.duration.as_secs()).unwrap_or(i32::MAX);
    match api.get_opt(&o.name).await? {
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(o.name.clone()),
                    namespace: Some(o.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(o.identity.clone()),
                    lease_duration_seconds: Some(secs),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            match api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(e) if is_conflict(&e) => Ok(false),
                Err(e) => Err(e),
            }
        }
        Some(mut l) => {
            if held_by_other(&l, &o.identity, now) {
                return Ok(false);
            }
            let spec = l.spec.get_or_insert_with(Default::default);
            if spec.holder_identity.as_deref() != Some(&o.identity) {
                spec.holder_identity = Some(o.identity.clone());
                spec.acquire_time = Some(MicroTime(now));
                spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            }
            spec.lease_duration_seconds = Some(secs);
            spec.renew_time = Some(MicroTime(now));
            // `replace` sends metadata.resourceVersion: a concurrent
            // writer makes this fail with 409 Conflict.
            match api.replace(&o.name, &PostParams::default(), &l).await {
                Ok(_) => Ok(true),
                Err(e) if is_conflict(&e) => Ok(false),
                Err(e) => Err(e),
            }
        }
    }
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

/// Waits until this candidate holds the Lease.
pub async fn acquire(client: &Client, o: &LeaseOptions) {
    let api: Api<Lease> = Api::namespaced(client.clone(), &o.namespace);
    let mut logged = false;
    loop {
        match try_acquire(&api, o).await {
            Ok(true) => {
                tracing::info!(
                    "leader election: {} holds Lease {}/{}",
                    o.identity,
                    o.namespace,
                    o.name
                );
                return;
            }
            Ok(false) => {
                if !logged {
                    tracing::info!(
                        "leader election: Lease {}/{} is held by another candidate; waiting",
                        o.namespace,
                        o.name
                    );
                    logged = true;
                }
            }
            Err(e) => tracing::warn!("leader election: Lease {}/{}: {e}", o.namespace, o.name),
        }
        tokio::time::sleep(o.renew).await;
    }
}

/// Renews the Lease until renewal fails for a whole lease duration or
/// another candidate took it; then returns (leadership is lost).
pub async fn keep(client: Client, o: LeaseOptions) -> String {
    let api: Api<Lease> = Api::namespaced(client, &o.namespace);
    let mut last_ok = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(o.renew).await;
        match try_acquire(&api, &o).await {
            Ok(true) => last_ok = tokio::time::Instant::now(),
            Ok(false) => {
                return format!(
                    "Lease {}/{} was taken by another candidate",
                    o.namespace, o.name
                )
            }
            Err(e) => {
                tracing::warn!(
                    "leader election: renewing Lease {}/{}: {e}",
                    o.namespace,
                    o.name
                );
            }
        }
        // Stop a little before others may take over.
        if last_ok.elapsed() + o.renew > o.duration {
            return format!(
                "Lease {}/{} could not be renewed for {:?}",
                o.namespace,
                o.name,
                last_ok.elapsed()
            );
        }
    }
}

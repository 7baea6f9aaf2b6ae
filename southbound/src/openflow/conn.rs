//! An OpenFlow 1.5 connection to ovs-vswitchd's bridge management socket
//! (`unix:$OVS_RUNDIR/br-int.mgmt`), as ovn-controller's `rconn` +
//! `ofctrl` use it:
//!
//! * hello with a version bitmap offering only OpenFlow 1.5, then a
//!   features request (datapath id);
//! * echo requests from the switch are answered by the reader task; an
//!   idle connection is probed with our own echo requests and declared dead
//!   when the switch stays silent (rconn's inactivity probe);
//! * requests wait for the reply (or error) with their xid; barriers and
//!   bundles (open, add, barrier, commit — discard when any message is
//!   rejected) make a set of changes atomic;
//! * packet-ins and other unsolicited messages queue for
//!   [`Connection::next_async`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::convert;
use super::wire::{
    bundle_ctrl, frame_len, version_bitmap, Body, BundleAdd, BundleControl, Features, Message,
    Nicira, PacketOut, WireError, OFP15_VERSION, OFPBF_ATOMIC, OFPBF_ORDERED,
};
use crate::flow_table::OfFlow;

/// Connection failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnError {
    /// A socket error.
    #[error("{0}")]
    Io(String),
    /// The switch does not speak OpenFlow 1.5.
    #[error("version negotiation failed: switch offers {0:?}")]
    Version(Vec<u8>),
    /// The switch sent something unexpected.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The switch rejected a request with `OFPT_ERROR`.
    #[error("switch rejected {request}: error type {err_type} code {code}")]
    Rejected {
        /// What was rejected.
        request: String,
        /// `OFPET_*`.
        err_type: u16,
        /// Code.
        code: u16,
    },
    /// No answer in time.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
    /// A message could not be encoded.
    #[error("encoding: {0}")]
    Wire(#[from] WireError),
}

impl From<std::io::Error> for ConnError {
    fn from(e: std::io::Error) -> ConnError {
        ConnError::Io(e.to_string())
    }
}

/// Connection settings.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// How long a request waits for its reply.
    pub request_timeout: Duration,
    /// Silence after which the switch is probed with an echo request; twice
    /// this without any message closes the connection.  `None`: no probes.
    pub probe_interval: Option<Duration>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            request_timeout: Duration::from_secs(30),
            probe_interval: Some(Duration::from_secs(5)),
        }
    }
}

/// Where replies go, by xid.
#[derive(Default)]
struct Waiters {
    /// Single requests.
    one: HashMap<u32, mpsc::UnboundedSender<Message>>,
    /// A bundle's messages, which take consecutive xids: the first and
    /// last xid of the run, and the bundle's channel.  One entry for a
    /// whole bundle, where an entry per message cost a table of 10,000
    /// at start (heaptrack: 0.3 MB of the bench's peak).
    runs: Vec<(u32, u32, mpsc::UnboundedSender<Message>)>,
}

impl Waiters {
    /// The channel for the reply with `xid`.
    fn get(&self, xid: u32) -> Option<&mpsc::UnboundedSender<Message>> {
        self.one.get(&xid).or_else(|| {
            self.runs
                .iter()
                .find(|(first, last, _)| (*first..=*last).contains(&xid))
                .map(|(_, _, tx)| tx)
        })
    }

    /// Adds `xid` to the run that starts at `first` (it follows the run's
    /// last xid), or starts one there.
    fn extend_run(&mut self, first: u32, xid: u32, tx: &mpsc::UnboundedSender<Message>) {
        match self.runs.iter_mut().find(|(f, _, _)| *f == first) {
            Some(run) => run.1 = xid,
            None => self.runs.push((first, xid, tx.clone())),
        }
    }

    fn clear(&mut self) {
        self.one.clear();
        self.runs.clear();
    }
}

struct Shared {
    waiters: Mutex<Waiters>,
    closed: AtomicBool,
    /// Milliseconds since `epoch` of the last message received.
    last_rx: AtomicU64,
    epoch: Instant,
}

impl Shared {
    fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last_rx.store(ms, Ordering::Relaxed);
    }

    fn idle(&self) -> Duration {
        let now = self.epoch.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_rx.load(Ordering::Relaxed)))
    }

    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Ok(mut w) = self.waiters.lock() {
            w.clear();
        }
    }
}

type Writer = Arc<tokio::sync::Mutex<OwnedWriteHalf>>;

/// One OpenFlow 1.5 connection.
pub struct Connection {
    writer: Writer,
    shared: Arc<Shared>,
    async_rx: mpsc::UnboundedReceiver<Message>,
    tasks: Vec<JoinHandle<()>>,
    next_xid: u32,
    next_bundle: u32,
    options: Options,
    features: Features,
}

impl Drop for Connection {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn write_msg(writer: &Writer, msg: &Message) -> Result<(), ConnError> {
    let bytes = msg.to_bytes()?;
    let mut w = writer.lock().await;
    w.write_all(&bytes).await?;
    Ok(())
}

async fn write_bytes(writer: &Writer, bytes: &[u8]) -> Result<(), ConnError> {
    let mut w = writer.lock().await;
    w.write_all(bytes).await?;
    Ok(())
}

/// Reads one whole message from `stream`, keeping extra bytes in `buf`.
async fn read_msg<R: AsyncReadExt + Unpin>(
    stream: &mut R,
    buf: &mut Vec<u8>,
) -> Result<Message, ConnError> {
    loop {
        if let Some(n) = frame_len(buf)? {
            let msg = Message::parse(&buf[..n]);
            buf.drain(..n);
            return Ok(msg?);
        }
        let mut chunk = [0u8; 16384];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(ConnError::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn rejected(request: &str, msg: &Message) -> Option<ConnError> {
    match &msg.body {
        Body::Error { err_type, code, .. } => Some(ConnError::Rejected {
            request: request.to_string(),
            err_type: *err_type,
            code: *code,
        }),
        _ => None,
    }
}

impl Connection {
    /// Connects to the Unix socket at `path` with default [`Options`].
    pub async fn connect(path: &Path) -> Result<Connection, ConnError> {
        Connection::connect_with(path, Options::default()).await
    }

    /// Connects, negotiates OpenFlow 1.5 and asks for the features.
    pub async fn connect_with(path: &Path, options: Options) -> Result<Connection, ConnError> {
        let stream = UnixStream::connect(path)
            .await
            .map_err(|e| ConnError::Io(format!("{}: {e}", path.display())))?;
        let (mut rd, wr) = stream.into_split();
        let writer: Writer = Arc::new(tokio::sync::Mutex::new(wr));
        let hello = Message::new(0, Body::Hello(vec![version_bitmap(&[OFP15_VERSION])]));
        write_msg(&writer, &hello).await?;
        let mut buf = Vec::new();
        let peer = tokio::time::timeout(options.request_timeout, read_msg(&mut rd, &mut buf))
            .await
            .map_err(|_| ConnError::Timeout("hello"))??;
        if !matches!(peer.body, Body::Hello(_)) {
            return Err(ConnError::Protocol(format!(
                "expected hello, got message type {}",
                peer.msg_type()
            )));
        }
        let versions = peer.hello_versions();
        if !versions.contains(&OFP15_VERSION) {
            // OFPET_HELLO_FAILED / OFPHFC_INCOMPATIBLE.
            let err = Message::new(
                0,
                Body::Error {
                    err_type: 0,
                    code: 0,
                    data: b"OpenFlow 1.5 required".to_vec(),
                },
            );
            let _ = write_msg(&writer, &err).await;
            return Err(ConnError::Version(versions));
        }
        let shared = Arc::new(Shared {
            waiters: Mutex::new(Waiters::default()),
            closed: AtomicBool::new(false),
            last_rx: AtomicU64::new(0),
            epoch: Instant::now(),
        });
        let (async_tx, async_rx) = mpsc::unbounded_channel();
        let mut tasks = vec![tokio::spawn(reader_task(
            rd,
            buf,
            writer.clone(),
            shared.clone(),
            async_tx,
        ))];
        if let Some(interval) = options.probe_interval {
            tasks.push(tokio::spawn(probe_task(
                interval,
                writer.clone(),
                shared.clone(),
            )));
        }
        let mut conn = Connection {
            writer,
            shared,
            async_rx,
            tasks,
            next_xid: 1,
            next_bundle: 1,
            options,
            features: Features {
                datapath_id: 0,
                n_buffers: 0,
                n_tables: 0,
                auxiliary_id: 0,
                capabilities: 0,
                reserved: 0,
            },
        };
        let reply = conn.transact(Body::FeaturesRequest, "features").await?;
        match reply.body {
            Body::FeaturesReply(f) => conn.features = f,
            _ => return Err(ConnError::Protocol("expected features reply".into())),
        }
        Ok(conn)
    }

    /// The switch's features (datapath id, tables).
    pub fn features(&self) -> &Features {
        &self.features
    }

    /// Whether the connection is known to be dead.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    fn xid(&mut self) -> u32 {
        let x = self.next_xid;
        // Our echo probes use xids with the top bit set.
        self.next_xid = (self.next_xid + 1) & 0x7fff_ffff;
        x
    }

    fn register(&self, xid: u32) -> Result<mpsc::UnboundedReceiver<Message>, ConnError> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.register_to(&[xid], &tx)?;
        Ok(rx)
    }

    /// Routes the replies to all of `xids` to one channel (a channel
    /// allocates a block of slots up front: one per message of a large
    /// bundle would cost kilobytes per flow).
    fn register_to(
        &self,
        xids: &[u32],
        tx: &mpsc::UnboundedSender<Message>,
    ) -> Result<(), ConnError> {
        if self.is_closed() {
            return Err(ConnError::Closed);
        }
        let mut w = self.shared.waiters.lock().map_err(|_| ConnError::Closed)?;
        for &xid in xids {
            w.one.insert(xid, tx.clone());
        }
        Ok(())
    }

    fn unregister(&self, xid: u32) {
        if let Ok(mut w) = self.shared.waiters.lock() {
            w.one.remove(&xid);
        }
    }

    /// Sends a message without waiting for anything; returns its xid.
    pub async fn send(&mut self, body: Body) -> Result<u32, ConnError> {
        if self.is_closed() {
            return Err(ConnError::Closed);
        }
        let xid = self.xid();
        let res = write_msg(&self.writer, &Message::new(xid, body)).await;
        if res.is_err() {
            self.shared.close();
        }
        res.map(|()| xid)
    }

    async fn wait(
        &self,
        rx: &mut mpsc::UnboundedReceiver<Message>,
        what: &'static str,
    ) -> Result<Message, ConnError> {
        match tokio::time::timeout(self.options.request_timeout, rx.recv()).await {
            Ok(Some(m)) => Ok(m),
            Ok(None) => Err(ConnError::Closed),
            Err(_) => Err(ConnError::Timeout(what)),
        }
    }

    /// Sends a request and waits for the message answering it; an
    /// `OFPT_ERROR` answer is returned as [`ConnError::Rejected`].
    pub async fn transact(&mut self, body: Body, what: &'static str) -> Result<Message, ConnError> {
        let xid = self.xid();
        let mut rx = self.register(xid)?;
        let res = async {
            write_msg(&self.writer, &Message::new(xid, body)).await?;
            let reply = self.wait(&mut rx, what).await?;
            match rejected(what, &reply) {
                Some(e) => Err(e),
                None => Ok(reply),
            }
        }
        .await;
        self.unregister(xid);
        res
    }

    /// Sends a barrier and waits for its reply: every earlier message has
    /// then been processed.
    pub async fn barrier(&mut self) -> Result<(), ConnError> {
        self.transact(Body::BarrierRequest, "barrier reply")
            .await
            .map(|_| ())
    }

    /// How many flows the switch holds: the `active_count` of every table
    /// (`OFPMP_TABLE` statistics), summed.  An error if the switch does
    /// not answer in one reply.
    pub async fn flow_count(&mut self) -> Result<u64, ConnError> {
        // Type, flags (none), 4 bytes of padding.
        let mut body = OFPMP_TABLE.to_be_bytes().to_vec();
        body.extend_from_slice(&[0; 6]);
        let request = Body::Unknown {
            msg_type: OFPT_MULTIPART_REQUEST,
            body,
        };
        let reply = self.transact(request, "table statistics").await?;
        let bad = || ConnError::Protocol("bad table statistics reply".into());
        let Body::Unknown {
            msg_type: OFPT_MULTIPART_REPLY,
            body,
        } = reply.body
        else {
            return Err(bad());
        };
        table_flow_count(&body).ok_or_else(bad)
    }

    /// Sends an echo request and waits for the reply with the same payload.
    pub async fn echo(&mut self, payload: &[u8]) -> Result<Duration, ConnError> {
        let t = Instant::now();
        let reply = self
            .transact(Body::EchoRequest(payload.to_vec()), "echo reply")
            .await?;
        match reply.body {
            Body::EchoReply(p) if p == payload => Ok(t.elapsed()),
            _ => Err(ConnError::Protocol("bad echo reply".into())),
        }
    }

    /// Asks for `NXT_PACKET_IN2` packet-ins (as pinctrl does).
    pub async fn set_packet_in_format(&mut self) -> Result<(), ConnError> {
        self.send(Body::Nicira(Nicira::SetPacketInFormat(
            super::wire::NXPIF_NXT_PACKET_IN2,
        )))
        .await
        .map(|_| ())
    }

    /// Sets the connection's controller id (`NXT_SET_CONTROLLER_ID`), which
    /// selects the packet-ins of `controller(id=N)` actions.
    pub async fn set_controller_id(&mut self, id: u16) -> Result<(), ConnError> {
        self.send(Body::Nicira(Nicira::SetControllerId(id)))
            .await
            .map(|_| ())
    }

    /// Sends a packet-out.
    pub async fn packet_out(&mut self, po: PacketOut) -> Result<(), ConnError> {
        self.send(Body::PacketOut(po)).await.map(|_| ())
    }

    /// The next unsolicited message (packet-in, port status, error without
    /// a waiting request), or `None` once the connection is closed.
    pub async fn next_async(&mut self) -> Option<Message> {
        self.async_rx.recv().await
    }

    /// Applies `messages` atomically in one ordered, atomic bundle:
    /// open, add each, barrier (collecting rejections), then commit — or
    /// discard and fail if the switch rejected the open or any message.
    /// The open goes out with the adds (as ovn-controller queues them),
    /// so a bundle costs two round trips: the barrier and the commit.
    pub async fn bundle(&mut self, messages: Vec<Body>) -> Result<(), ConnError> {
        let unused =
            |f: &OfFlow, e: convert::ConvertError| ConnError::Protocol(format!("flow `{f}': {e}"));
        self.bundle_lazy(messages.into_iter().map(|b| Ok(Lazy::Body(b))), unused)
            .await
    }

    /// [`Connection::bundle`] of messages made as they are sent: only a
    /// write buffer's worth is encoded at a time (a full table's flow mods
    /// held at once cost megabytes).  A message that cannot be made
    /// (`Err`, or a flow `flow_err` is told about) discards the bundle, so
    /// the switch is left as it was, and is the error returned.
    pub async fn bundle_lazy<E: From<ConnError>>(
        &mut self,
        messages: impl Iterator<Item = Result<Lazy, E>>,
        flow_err: impl Fn(&OfFlow, convert::ConvertError) -> E,
    ) -> Result<(), E> {
        self.bundle_lazy_after(messages, flow_err, async { Ok(()) })
            .await
    }

    /// [`Connection::bundle_lazy`] whose commit waits for `before` too, as
    /// [`Connection::bundle_finish_after`].  `before` is awaited only once
    /// every message is made and written.
    pub async fn bundle_lazy_after<E: From<ConnError>>(
        &mut self,
        messages: impl Iterator<Item = Result<Lazy, E>>,
        flow_err: impl Fn(&OfFlow, convert::ConvertError) -> E,
        before: impl std::future::Future<Output = Result<(), ConnError>>,
    ) -> Result<(), E> {
        let b = self.bundle_made(messages, flow_err).await?;
        self.bundle_finish_after(b, before).await.map_err(E::from)
    }

    /// [`Connection::bundle_lazy`] committed as
    /// [`Connection::bundle_finish_unchecked`] does.
    pub async fn bundle_lazy_unchecked<E: From<ConnError>>(
        &mut self,
        messages: impl Iterator<Item = Result<Lazy, E>>,
        flow_err: impl Fn(&OfFlow, convert::ConvertError) -> E,
    ) -> Result<(), E> {
        let b = self.bundle_made(messages, flow_err).await?;
        self.bundle_finish_unchecked(b).await.map_err(E::from)
    }

    /// A bundle opened and given `messages` (written as they are made);
    /// discarded if one cannot be made.
    async fn bundle_made<E: From<ConnError>>(
        &mut self,
        messages: impl Iterator<Item = Result<Lazy, E>>,
        flow_err: impl Fn(&OfFlow, convert::ConvertError) -> E,
    ) -> Result<Bundle, E> {
        let mut b = self.bundle_open();
        for m in messages {
            let made = match m {
                Ok(Lazy::Body(body)) => {
                    b.push(self, body);
                    Ok(())
                }
                Ok(Lazy::AddFlow(f)) => b.push_flow_add(self, &f).map_err(|e| flow_err(&f, e)),
                Err(e) => Err(e),
            };
            if let Err(e) = made {
                b.fail(ConnError::Closed);
                let _ = self.bundle_finish(b).await;
                return Err(e);
            }
            if b.out.len() >= 60 * 1024 {
                b.flush(self).await;
            }
        }
        Ok(b)
    }

    /// Opens an ordered, atomic bundle whose messages are given one by one
    /// ([`Bundle::push`]) and written as the socket takes them
    /// ([`Bundle::try_flush`], never waiting), so that the switch parses
    /// them while the caller goes on making more; [`Connection::
    /// bundle_finish`] commits it.
    pub fn bundle_open(&mut self) -> Bundle {
        let bundle_id = self.next_bundle;
        self.next_bundle = self.next_bundle.wrapping_add(1);
        let open_xid = self.xid();
        let (tx, rx) = mpsc::unbounded_channel();
        let mut b = Bundle {
            t0: Instant::now(),
            bundle_id,
            open_xid,
            open_rx: None,
            messages: 0,
            run: None,
            xids: Vec::new(),
            tx: Some(tx),
            rx,
            out: Vec::with_capacity(64 * 1024),
            max_unsent: 0,
            result: Ok(()),
            direct: None,
        };
        match self.register(open_xid) {
            Ok(rx) => b.open_rx = Some(rx),
            Err(e) => b.fail(e),
        }
        match Message::new(open_xid, b.ctrl(bundle_ctrl::OPEN_REQUEST)).to_bytes() {
            Ok(bytes) => b.out.extend_from_slice(&bytes),
            Err(e) => b.fail(e.into()),
        }
        b
    }

    /// [`Connection::bundle_open`], with [`Bundle::try_flush`] writing
    /// without waiting: the connection is the bundle's alone until
    /// [`Bundle::release`] (or the finish), so that a message partly
    /// written is never interleaved with another.
    pub fn bundle_open_streaming(&mut self) -> Bundle {
        let mut b = self.bundle_open();
        if let Ok(guard) = Arc::clone(&self.writer).try_lock_owned() {
            use std::os::fd::AsFd;
            // A second handle on the socket (non-blocking, as tokio set
            // it): written to synchronously, between computations.
            let half: &UnixStream = (*guard).as_ref();
            if let Ok(fd) = half.as_fd().try_clone_to_owned() {
                b.direct = Some((guard, std::os::unix::net::UnixStream::from(fd)));
            }
        }
        b
    }

    /// Writes what is left of `b`, then barrier (collecting rejections)
    /// and commit — or discard and fail if the switch rejected the open or
    /// any message.
    pub async fn bundle_finish(&mut self, b: Bundle) -> Result<(), ConnError> {
        self.bundle_finish_after(b, async { Ok(()) }).await
    }

    /// [`Connection::bundle_finish`] whose commit waits for `before` too
    /// (awaited alongside the writing and the barrier), and is not sent if
    /// `before` fails: the bundle is then discarded.
    pub async fn bundle_finish_after(
        &mut self,
        mut b: Bundle,
        before: impl std::future::Future<Output = Result<(), ConnError>>,
    ) -> Result<(), ConnError> {
        let written_and_barrier = async {
            let (written, mut result) = b.finish_writing(self).await;
            if result.is_ok() {
                result = self.barrier().await;
            }
            (written, result)
        };
        let ((written, mut result), before) = tokio::join!(written_and_barrier, before);
        let barrier = b.t0.elapsed();
        result = result.and(self.bundle_replies(&mut b));
        if result.is_ok() {
            result = before;
        }
        match result {
            Ok(()) => {
                self.expect_ctrl(
                    b.ctrl(bundle_ctrl::COMMIT_REQUEST),
                    bundle_ctrl::COMMIT_REPLY,
                )
                .await?;
                b.log(format_args!(
                    "made and written {written:?} (at most {} kB unsent), barrier reply at {barrier:?}",
                    b.max_unsent / 1024
                ));
                Ok(())
            }
            Err(e) => {
                self.discard(&b).await;
                Err(e)
            }
        }
    }

    /// [`Connection::bundle_finish`] without the barrier: the commit goes
    /// out right behind the messages, so the switch commits as soon as it
    /// has parsed them, a round trip sooner.  A rejected message (or open)
    /// still fails the result, but only once the other messages are
    /// committed.  Only for bundles whose flows do nothing until another
    /// bundle commits (the helpers' of [`super::Installer`]: clause flows
    /// of conjunctions without their `conj_id` flow, or flows of tables no
    /// packet reaches before table 0's), and whose failure makes the
    /// caller start over from a fresh connection.
    pub async fn bundle_finish_unchecked(&mut self, mut b: Bundle) -> Result<(), ConnError> {
        let (written, result) = b.finish_writing(self).await;
        if let Err(e) = result {
            // Discarded, as by a checked finish.
            let _ = self.bundle_replies(&mut b);
            self.discard(&b).await;
            return Err(e);
        }
        let committed = self
            .expect_ctrl(
                b.ctrl(bundle_ctrl::COMMIT_REQUEST),
                bundle_ctrl::COMMIT_REPLY,
            )
            .await;
        // Replies come in order: the open's and any rejection came before
        // the commit's.
        let result = committed.and(self.bundle_replies(&mut b));
        if result.is_ok() {
            b.log(format_args!(
                "made and written {written:?} (at most {} kB unsent), no barrier",
                b.max_unsent / 1024
            ));
        }
        result
    }

    /// Discards an open bundle (unless the connection is gone with it).
    async fn discard(&mut self, b: &Bundle) {
        if !self.is_closed() {
            let _ = self
                .expect_ctrl(
                    b.ctrl(bundle_ctrl::DISCARD_REQUEST),
                    bundle_ctrl::DISCARD_REPLY,
                )
                .await;
        }
    }

    /// The bundle's replies so far: its open's (which must have come) and
    /// any rejection of a message.  Its waiters are removed.
    fn bundle_replies(&self, b: &mut Bundle) -> Result<(), ConnError> {
        // Replies come in order: the open's came before the barrier's (or
        // the commit's).
        let opened = match b.open_rx.as_mut().map(|rx| rx.try_recv()) {
            Some(Ok(m)) => match (&m.body, rejected("bundle open", &m)) {
                (_, Some(e)) => Err(e),
                (Body::BundleControl(c), None) if c.ctrl_type == bundle_ctrl::OPEN_REPLY => Ok(()),
                _ => Err(ConnError::Protocol(format!(
                    "expected bundle control reply {}",
                    bundle_ctrl::OPEN_REPLY
                ))),
            },
            _ => Err(ConnError::Protocol("no bundle open reply".into())),
        };
        if let Ok(mut w) = self.shared.waiters.lock() {
            w.one.remove(&b.open_xid);
            for xid in &b.xids {
                w.one.remove(xid);
            }
            if let Some((first, _)) = b.run {
                w.runs.retain(|(f, _, _)| *f != first);
            }
        }
        let mut result = opened;
        while let Ok(m) = b.rx.try_recv() {
            if result.is_ok() {
                if let Some(e) = rejected("bundled message", &m) {
                    result = Err(e);
                }
            }
        }
        result
    }

    async fn expect_ctrl(&mut self, body: Body, reply_type: u16) -> Result<(), ConnError> {
        let reply = self.transact(body, "bundle control reply").await?;
        match reply.body {
            Body::BundleControl(b) if b.ctrl_type == reply_type => Ok(()),
            _ => Err(ConnError::Protocol(format!(
                "expected bundle control reply {reply_type}"
            ))),
        }
    }
}

/// `OFPT_MULTIPART_REQUEST`, `OFPT_MULTIPART_REPLY` and the `OFPMP_TABLE`
/// statistics they carry (OpenFlow 1.5).
const OFPT_MULTIPART_REQUEST: u8 = 18;
const OFPT_MULTIPART_REPLY: u8 = 19;
const OFPMP_TABLE: u16 = 3;

/// The flows counted in an `OFPMP_TABLE` multipart reply's body (type,
/// flags, padding, then 24 bytes per table: id, padding, `active_count`,
/// lookups, matches); `None` if it is not one, or says more follow.
fn table_flow_count(body: &[u8]) -> Option<u64> {
    const OFPMPF_REPLY_MORE: u16 = 1;
    let (head, tables) = body.split_at_checked(8)?;
    let kind = u16::from_be_bytes([head[0], head[1]]);
    let flags = u16::from_be_bytes([head[2], head[3]]);
    if kind != OFPMP_TABLE || flags & OFPMPF_REPLY_MORE != 0 || tables.len() % 24 != 0 {
        return None;
    }
    Some(
        tables
            .chunks_exact(24)
            .map(|t| u64::from(u32::from_be_bytes([t[4], t[5], t[6], t[7]])))
            .sum(),
    )
}

/// One message of a bundle made as it is sent ([`Connection::bundle_lazy`]).
#[derive(Debug)]
pub enum Lazy {
    /// A message.
    Body(Body),
    /// The `ADD` of a flow, written straight into the bundle
    /// ([`Bundle::push_flow_add`]).
    AddFlow(Arc<OfFlow>),
}

/// A bundle being sent (see [`Connection::bundle_open`]).
pub struct Bundle {
    t0: Instant,
    bundle_id: u32,
    open_xid: u32,
    open_rx: Option<mpsc::UnboundedReceiver<Message>>,
    /// How many messages were added.
    messages: usize,
    /// The run of consecutive xids of the messages (first, last), as
    /// registered ([`Waiters::extend_run`]).
    run: Option<(u32, u32)>,
    /// The xids of messages outside the run (after the xids wrapped, or
    /// another request took one in between), registered one by one.
    xids: Vec<u32>,
    /// Where rejections of the bundled messages go (one channel for all).
    tx: Option<mpsc::UnboundedSender<Message>>,
    rx: mpsc::UnboundedReceiver<Message>,
    /// Encoded, not yet written.
    out: Vec<u8>,
    /// The most bytes left unsent at once while streaming.
    max_unsent: usize,
    /// The first failure; the bundle is then discarded.
    result: Result<(), ConnError>,
    /// While streaming: the connection's writer, held, and a synchronous
    /// handle on its socket.
    direct: Option<(
        tokio::sync::OwnedMutexGuard<OwnedWriteHalf>,
        std::os::unix::net::UnixStream,
    )>,
}

impl Bundle {
    /// Logs how a committed bundle went (at info from 1,000 messages).
    fn log(&self, how: std::fmt::Arguments) {
        let msg = format!(
            "bundle of {} messages: {how}, commit reply at {:?}",
            self.messages,
            self.t0.elapsed()
        );
        if self.messages >= 1000 {
            tracing::info!("{msg}");
        } else {
            tracing::debug!("{msg}");
        }
    }

    fn ctrl(&self, ctrl_type: u16) -> Body {
        Body::BundleControl(BundleControl {
            bundle_id: self.bundle_id,
            ctrl_type,
            flags: OFPBF_ATOMIC | OFPBF_ORDERED,
            properties: Vec::new(),
        })
    }

    fn fail(&mut self, e: ConnError) {
        if self.result.is_ok() {
            self.result = Err(e);
        }
    }

    /// Gives the bundle up: [`Connection::bundle_finish`] discards it.
    pub fn abandon(&mut self) {
        self.fail(ConnError::Protocol("bundle abandoned".into()));
    }

    /// Whether the bundle failed already (it will be discarded).
    pub fn failed(&self) -> bool {
        self.result.is_err()
    }

    /// The xid of a message about to be added, registered for its
    /// rejection; `None` once the bundle failed.
    fn next_xid(&mut self, conn: &mut Connection) -> Option<u32> {
        if self.result.is_err() {
            return None;
        }
        let xid = conn.xid();
        if let Some(tx) = &self.tx {
            if let Err(e) = self.register(conn, xid, tx.clone()) {
                self.fail(e);
                return None;
            }
        }
        self.messages += 1;
        Some(xid)
    }

    /// Routes the reply to `xid` to the bundle's channel: in its run of
    /// consecutive xids when it continues it, else on its own.
    fn register(
        &mut self,
        conn: &Connection,
        xid: u32,
        tx: mpsc::UnboundedSender<Message>,
    ) -> Result<(), ConnError> {
        let in_run = match self.run {
            None => true,
            Some((_, last)) => last.checked_add(1) == Some(xid),
        };
        if !in_run {
            self.xids.push(xid);
            return conn.register_to(&[xid], &tx);
        }
        if conn.is_closed() {
            return Err(ConnError::Closed);
        }
        let first = self.run.map_or(xid, |(f, _)| f);
        let mut w = conn.shared.waiters.lock().map_err(|_| ConnError::Closed)?;
        w.extend_run(first, xid, &tx);
        self.run = Some((first, xid));
        Ok(())
    }

    /// Adds the `ADD` of `flow`, its `FLOW_MOD` written straight into the
    /// bundle ([`convert::emit_add_flow`]): the same bytes as [`Bundle::
    /// push`] of [`convert::add_flow`], without the message built first.
    pub fn push_flow_add(
        &mut self,
        conn: &mut Connection,
        flow: &OfFlow,
    ) -> Result<(), convert::ConvertError> {
        let Some(xid) = self.next_xid(conn) else {
            return Ok(());
        };
        let flags = OFPBF_ATOMIC | OFPBF_ORDERED;
        let r = convert::emit_bundled_add(flow, xid, self.bundle_id, flags, &mut self.out);
        if r.is_err() {
            self.abandon();
        }
        r
    }

    /// Adds `body` (encoded now, written later).
    pub fn push(&mut self, conn: &mut Connection, body: Body) {
        let Some(xid) = self.next_xid(conn) else {
            return;
        };
        let add = Body::BundleAdd(BundleAdd {
            bundle_id: self.bundle_id,
            flags: OFPBF_ATOMIC | OFPBF_ORDERED,
            message: Box::new(Message::new(xid, body)),
            properties: Vec::new(),
        });
        let start = self.out.len();
        if let Err(e) = Message::new(xid, add).emit(&mut self.out) {
            self.out.truncate(start);
            self.fail(e.into());
        }
    }

    /// Writes as much as the socket takes now, without waiting (only a
    /// bundle opened with [`Connection::bundle_open_streaming`]).
    pub fn try_flush(&mut self) {
        use std::io::Write;
        if self.result.is_err() || self.out.is_empty() {
            return;
        }
        let Some((_, sock)) = self.direct.as_mut() else {
            return;
        };
        self.max_unsent = self.max_unsent.max(self.out.len());
        let mut done = 0;
        while done < self.out.len() {
            match sock.write(&self.out[done..]) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fail(e.into());
                    break;
                }
            }
        }
        self.out.drain(..done);
    }

    /// [`Bundle::try_flush`], then, while more than `limit` bytes are
    /// left unsent (the switch parses slower than they are made), waits
    /// until the socket takes more: the switch needs every message before
    /// the commit anyway, and what it has not taken yet would otherwise
    /// pile up here (megabytes for a full table).
    pub fn flush_down_to(&mut self, limit: usize) {
        self.try_flush();
        while self.out.len() > limit && self.result.is_ok() {
            let Some((_, sock)) = self.direct.as_ref() else {
                break;
            };
            wait_writable(sock, Duration::from_millis(100));
            self.try_flush();
        }
    }

    /// Writes everything made so far through the held writer and gives it
    /// back (the connection is then usable for other messages again).
    pub async fn release(&mut self) {
        if let Some((mut guard, _)) = self.direct.take() {
            // Even after a failure: part of a message may be written, and
            // only whole messages are made.
            if !self.out.is_empty() {
                if let Err(e) = guard.write_all(&self.out).await {
                    self.fail(e.into());
                }
            }
            self.out.clear();
        }
    }

    /// Writes everything encoded so far.
    /// Writes what is left and closes the bundle to more messages: how
    /// long making and writing it took, and whether it all went well.
    async fn finish_writing(&mut self, conn: &Connection) -> (Duration, Result<(), ConnError>) {
        self.flush(conn).await;
        self.tx = None;
        let written = self.t0.elapsed();
        (written, std::mem::replace(&mut self.result, Ok(())))
    }

    async fn flush(&mut self, conn: &Connection) {
        self.release().await;
        if self.result.is_ok() && !self.out.is_empty() {
            if let Err(e) = write_bytes(&conn.writer, &self.out).await {
                self.fail(e);
            }
        }
        self.out.clear();
    }
}

/// Reads messages: answers echo requests, routes replies to their waiting
/// requests and queues the rest; closes the connection on EOF or garbage.
async fn reader_task(
    mut rd: tokio::net::unix::OwnedReadHalf,
    mut buf: Vec<u8>,
    writer: Writer,
    shared: Arc<Shared>,
    async_tx: mpsc::UnboundedSender<Message>,
) {
    shared.touch();
    loop {
        let msg = match read_msg(&mut rd, &mut buf).await {
            Ok(m) => m,
            Err(_) => break,
        };
        shared.touch();
        if let Body::EchoRequest(payload) = &msg.body {
            let reply = Message {
                version: msg.version,
                xid: msg.xid,
                body: Body::EchoReply(payload.clone()),
            };
            if write_msg(&writer, &reply).await.is_err() {
                break;
            }
            continue;
        }
        if msg.xid & 0x8000_0000 != 0 && matches!(msg.body, Body::EchoReply(_)) {
            continue;
        }
        let waiter = shared
            .waiters
            .lock()
            .ok()
            .and_then(|w| w.get(msg.xid).cloned());
        match waiter {
            Some(tx) => {
                let _ = tx.send(msg);
            }
            None => {
                let _ = async_tx.send(msg);
            }
        }
    }
    shared.close();
}

/// rconn's inactivity probe: after `interval` of silence send an echo
/// request; after twice that, give up on the connection.
async fn probe_task(interval: Duration, writer: Writer, shared: Arc<Shared>) {
    let mut xid = 0x8000_0000u32;
    loop {
        tokio::time::sleep(interval / 2).await;
        if shared.closed.load(Ordering::SeqCst) {
            return;
        }
        let idle = shared.idle();
        if idle >= interval * 2 {
            shared.close();
            let _ = writer.lock().await.shutdown().await;
            return;
        }
        if idle >= interval {
            xid = 0x8000_0000 | (xid.wrapping_add(1) & 0x7fff_ffff);
            let probe = Message::new(xid, Body::EchoRequest(Vec::new()));
            if write_msg(&writer, &probe).await.is_err() {
                shared.close();
                return;
            }
        }
    }
}

/// Blocks until `sock` can take more bytes, or `at_most` passes (`poll(2)`
/// for `POLLOUT`; a signal or an error just ends the wait early: the
/// caller writes again and sees the error there).
fn wait_writable(sock: &std::os::unix::net::UnixStream, at_most: Duration) {
    use std::os::fd::AsRawFd;
    let mut fd = libc::pollfd {
        fd: sock.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    let ms = libc::c_int::try_from(at_most.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `fd` is one valid `pollfd` for the whole call, and the
    // socket it names stays open (borrowed) meanwhile.
    unsafe {
        libc::poll(&mut fd, 1, ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_replies_are_routed_by_their_run_of_xids() {
        let mut w = Waiters::default();
        let (a, _ra) = mpsc::unbounded_channel();
        let (b, _rb) = mpsc::unbounded_channel();
        for xid in 10..=12 {
            w.extend_run(10, xid, &a);
        }
        w.one.insert(13, b.clone());
        w.extend_run(20, 20, &b);
        assert_eq!(w.runs.len(), 2);
        assert!(w.get(9).is_none() && w.get(21).is_none());
        for xid in 10..=12 {
            assert!(w.get(xid).is_some_and(|t| t.same_channel(&a)), "{xid}");
        }
        assert!(w.get(13).is_some_and(|t| t.same_channel(&b)));
        assert!(w.get(20).is_some_and(|t| t.same_channel(&b)));
        w.clear();
        assert!(w.get(10).is_none() && w.get(13).is_none());
    }

    /// An `OFPMP_TABLE` reply body with the `active_count` of each table.
    fn table_stats(flags: u16, counts: &[u32]) -> Vec<u8> {
        let mut body = vec![0, 3];
        body.extend_from_slice(&flags.to_be_bytes());
        body.extend_from_slice(&[0; 4]);
        for (id, n) in counts.iter().enumerate() {
            body.extend_from_slice(&[id as u8, 0, 0, 0]);
            body.extend_from_slice(&n.to_be_bytes());
            body.extend_from_slice(&[0xff; 16]);
        }
        body
    }

    #[test]
    fn flows_are_counted_over_every_table() {
        assert_eq!(table_flow_count(&table_stats(0, &[0; 255])), Some(0));
        assert_eq!(
            table_flow_count(&table_stats(0, &[7, 0, 1 << 20])),
            Some(7 + (1 << 20))
        );
        // More replies to come, another statistic, a cut body: unknown.
        assert_eq!(table_flow_count(&table_stats(1, &[0])), None);
        let mut other = table_stats(0, &[0]);
        other[1] = 2;
        assert_eq!(table_flow_count(&other), None);
        let cut = table_stats(0, &[1]);
        assert_eq!(table_flow_count(&cut[..cut.len() - 1]), None);
        assert_eq!(table_flow_count(&cut[..4]), None);
    }
}

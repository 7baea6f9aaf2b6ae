//! The control socket: the JSON-RPC dialect of OVS `lib/unixctl.c`, so that
//! `ovn-appctl -t SOCKET COMMAND [ARG...]` works. A request is
//! `{"method": COMMAND, "params": [ARG...], "id": ID}`; the reply carries
//! the command's text as `result`, or as `error` when it failed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ovsdb::jsonrpc::{Framer, Message};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

/// What a command answers, and what to do once the answer is sent.
pub struct Outcome<T> {
    /// The reply text (`Err` is sent as a JSON-RPC error).
    pub reply: Result<String, String>,
    /// An action handed to the daemon after the reply is written (so that
    /// `exit` is answered before the daemon goes away).
    pub then: Option<T>,
}

impl<T> Outcome<T> {
    /// A successful reply with no follow-up.
    pub fn text(s: impl Into<String>) -> Outcome<T> {
        Outcome {
            reply: Ok(s.into()),
            then: None,
        }
    }
}

/// A registered command: name, argument usage, minimum and maximum
/// argument counts.
#[derive(Clone, Debug)]
pub struct CommandSpec {
    /// Command name.
    pub name: &'static str,
    /// Usage of its arguments, for `list-commands`.
    pub usage: &'static str,
    /// Fewest arguments.
    pub min_args: usize,
    /// Most arguments.
    pub max_args: usize,
}

/// Runs a command: name and arguments → outcome.
pub type Handler<T> = Arc<dyn Fn(&str, &[String]) -> Outcome<T> + Send + Sync>;

/// A listening control socket; the socket file is removed on drop.
pub struct UnixctlServer {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for UnixctlServer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

impl UnixctlServer {
    /// Listens on `path` (replacing a stale socket file) and serves
    /// `commands` with `handler`; follow-up actions go to `actions`.
    pub fn start<T: Send + 'static>(
        path: &Path,
        commands: Vec<CommandSpec>,
        handler: Handler<T>,
        actions: mpsc::UnboundedSender<T>,
    ) -> std::io::Result<UnixctlServer> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).map_err(|e| {
            std::io::Error::new(e.kind(), format!("{}: cannot listen: {e}", path.display()))
        })?;
        let commands = Arc::new(commands);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (commands, handler, actions) =
                    (commands.clone(), handler.clone(), actions.clone());
                tokio::spawn(async move {
                    if let Err(e) = serve(stream, &commands, &handler, &actions).await {
                        tracing::debug!("unixctl connection: {e}");
                    }
                });
            }
        });
        Ok(UnixctlServer {
            path: path.to_path_buf(),
            task,
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `list-commands` text, as `unixctl_help()` prints it.
fn help(commands: &[CommandSpec]) -> String {
    let mut names: Vec<(&str, &str)> = commands
        .iter()
        .map(|c| (c.name, c.usage))
        .chain([("list-commands", ""), ("help", ""), ("version", "")])
        .collect();
    names.sort();
    let mut s = String::from("The available commands are:\n");
    for (n, u) in names {
        s.push_str(&format!("  {n:<23} {u}\n"));
    }
    s
}

/// Dispatches one request: built-ins, then registered commands with their
/// argument counts checked as `unixctl.c` does.
fn dispatch<T>(
    method: &str,
    args: &[String],
    commands: &[CommandSpec],
    handler: &Handler<T>,
) -> Outcome<T> {
    match method {
        "list-commands" | "help" => return Outcome::text(help(commands)),
        "version" => {
            return Outcome::text(format!(
                "ovnflow northd {} (ovn-northd 23.03.1 compatible)\n",
                env!("CARGO_PKG_VERSION")
            ))
        }
        _ => {}
    }
    let Some(spec) = commands.iter().find(|c| c.name == method) else {
        return Outcome {
            reply: Err(format!(
                "\"{method}\" is not a valid command (use \"list-commands\" to see a list of valid commands)"
            )),
            then: None,
        };
    };
    if args.len() < spec.min_args {
        return Outcome {
            reply: Err(format!(
                "\"{method}\" command requires at least {} arguments",
                spec.min_args
            )),
            then: None,
        };
    }
    if args.len() > spec.max_args {
        return Outcome {
            reply: Err(format!(
                "\"{method}\" command takes at most {} arguments",
                spec.max_args
            )),
            then: None,
        };
    }
    handler(method, args)
}

async fn serve<T>(
    mut stream: UnixStream,
    commands: &[CommandSpec],
    handler: &Handler<T>,
    actions: &mpsc::UnboundedSender<T>,
) -> Result<(), String> {
    let mut framer = Framer::new(16 << 20);
    let mut buf = vec![0u8; 65536];
    loop {
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(());
        }
        framer.push(&buf[..n]);
        while let Some(msg) = framer.next_message().map_err(|e| e.to_string())? {
            let Message::Request { method, params, id } = msg else {
                continue;
            };
            let args: Vec<String> = params
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| {
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string())
                        })
                        .collect()
                })
                .unwrap_or_default();
            let outcome = dispatch(&method, &args, commands, handler);
            let (result, error) = match outcome.reply {
                Ok(text) => (Value::String(text), Value::Null),
                Err(text) => (Value::Null, Value::String(text)),
            };
            let reply = Message::Response { result, error, id };
            stream
                .write_all(&reply.to_bytes())
                .await
                .map_err(|e| e.to_string())?;
            stream.flush().await.map_err(|e| e.to_string())?;
            if let Some(action) = outcome.then {
                let _ = actions.send(action);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn roundtrip(s: &mut UnixStream, framer: &mut Framer, req: Vec<u8>) -> (Value, Value) {
        let mut buf = vec![0u8; 4096];
        s.write_all(&req).await.unwrap();
        loop {
            if let Some(Message::Response { result, error, .. }) = framer.next_message().unwrap() {
                return (result, error);
            }
            let n = s.read(&mut buf).await.unwrap();
            framer.push(&buf[..n]);
        }
    }

    #[tokio::test]
    async fn answers_requests_and_argument_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.ctl");
        let (tx, mut rx) = mpsc::unbounded_channel::<u8>();
        let handler: Handler<u8> = Arc::new(|m, args| Outcome {
            reply: Ok(format!("{m} {}\n", args.join(","))),
            then: Some(7),
        });
        let spec = CommandSpec {
            name: "echo",
            usage: "ARG",
            min_args: 1,
            max_args: 2,
        };
        let _srv = UnixctlServer::start(&path, vec![spec], handler, tx).unwrap();
        let mut s = UnixStream::connect(&path).await.unwrap();
        let ask = |m: &str, p: Value| {
            serde_json::to_vec(&serde_json::json!({"method": m, "params": p, "id": 1})).unwrap()
        };
        let mut framer = Framer::default();
        let (r, e) = roundtrip(
            &mut s,
            &mut framer,
            ask("echo", serde_json::json!(["a", "b"])),
        )
        .await;
        assert_eq!((r, e), (Value::String("echo a,b\n".into()), Value::Null));
        assert_eq!(rx.recv().await, Some(7));
        let (r, e) = roundtrip(&mut s, &mut framer, ask("echo", serde_json::json!([]))).await;
        assert!(r.is_null() && e.as_str().unwrap().contains("at least 1"));
        let (_, e) = roundtrip(&mut s, &mut framer, ask("nope", serde_json::json!([]))).await;
        assert!(e.as_str().unwrap().contains("not a valid command"));
    }
}

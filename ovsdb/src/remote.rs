//! OVSDB remote strings as OVN's `--db` options spell them: `unix:PATH`,
//! `tcp:HOST:PORT` (IPv6 as `tcp:[::1]:6641`), comma-separated lists for
//! clustered databases, and the passive forms `punix:`/`ptcp:` that servers
//! listen on. `ssl:` is recognised and refused (no TLS here).

use std::fmt;
use std::path::PathBuf;

/// One remote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Remote {
    /// Connect to a unix socket.
    Unix(PathBuf),
    /// Connect over TCP to `host:port`.
    Tcp(String, u16),
    /// Listen on a unix socket.
    PUnix(PathBuf),
    /// Listen on TCP; an empty host means every address.
    PTcp(String, u16),
}

/// A remote string that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid remote {remote:?}: {message}")]
pub struct RemoteError {
    /// The offending remote.
    pub remote: String,
    /// Why.
    pub message: String,
}

fn host_port(
    remote: &str,
    rest: &str,
    default_port: Option<u16>,
) -> Result<(String, u16), RemoteError> {
    let fail = |m: &str| RemoteError {
        remote: remote.to_string(),
        message: m.to_string(),
    };
    let (host, port) = if let Some(r) = rest.strip_prefix('[') {
        let end = r
            .find(']')
            .ok_or_else(|| fail("unterminated IPv6 address"))?;
        (r[..end].to_string(), r[end + 1..].strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (rest.to_string(), None),
        }
    };
    let port = match port {
        Some(p) => p.parse().map_err(|_| fail("bad port number"))?,
        None => default_port.ok_or_else(|| fail("missing port"))?,
    };
    Ok((host, port))
}

impl Remote {
    /// Parses one remote.
    pub fn parse(s: &str) -> Result<Remote, RemoteError> {
        let fail = |m: &str| RemoteError {
            remote: s.to_string(),
            message: m.to_string(),
        };
        let (kind, rest) = s
            .split_once(':')
            .ok_or_else(|| fail("expected TYPE:ADDRESS"))?;
        match kind {
            "unix" if !rest.is_empty() => Ok(Remote::Unix(rest.into())),
            "punix" if !rest.is_empty() => Ok(Remote::PUnix(rest.into())),
            "unix" | "punix" => Err(fail("missing socket path")),
            "tcp" => {
                let (h, p) = host_port(s, rest, None)?;
                if h.is_empty() {
                    return Err(fail("missing host"));
                }
                Ok(Remote::Tcp(h, p))
            }
            "ptcp" => {
                let (p, h) = match rest.split_once(':') {
                    Some((p, h)) => (
                        p,
                        h.trim_start_matches('[').trim_end_matches(']').to_string(),
                    ),
                    None => (rest, String::new()),
                };
                Ok(Remote::PTcp(
                    h,
                    p.parse().map_err(|_| fail("bad port number"))?,
                ))
            }
            "ssl" | "pssl" => Err(fail("SSL remotes are not supported")),
            _ => Err(fail("unknown remote type")),
        }
    }

    /// Parses a comma-separated list (cluster members).
    pub fn parse_list(s: &str) -> Result<Vec<Remote>, RemoteError> {
        let list: Vec<Remote> = s
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(Remote::parse)
            .collect::<Result<_, _>>()?;
        if list.is_empty() {
            return Err(RemoteError {
                remote: s.to_string(),
                message: "empty remote list".into(),
            });
        }
        Ok(list)
    }

    /// True for the forms a client connects to.
    pub fn is_active(&self) -> bool {
        matches!(self, Remote::Unix(_) | Remote::Tcp(..))
    }
}

impl fmt::Display for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = |h: &str| {
            if h.contains(':') {
                format!("[{h}]")
            } else {
                h.to_string()
            }
        };
        match self {
            Remote::Unix(p) => write!(f, "unix:{}", p.display()),
            Remote::PUnix(p) => write!(f, "punix:{}", p.display()),
            Remote::Tcp(h, p) => write!(f, "tcp:{}:{p}", host(h)),
            Remote::PTcp(h, p) if h.is_empty() => write!(f, "ptcp:{p}"),
            Remote::PTcp(h, p) => write!(f, "ptcp:{p}:{}", host(h)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ovn_remote_strings() {
        assert_eq!(
            Remote::parse("unix:/run/ovn/ovnnb_db.sock").unwrap(),
            Remote::Unix("/run/ovn/ovnnb_db.sock".into())
        );
        assert_eq!(
            Remote::parse("tcp:127.0.0.1:6641").unwrap(),
            Remote::Tcp("127.0.0.1".into(), 6641)
        );
        assert_eq!(
            Remote::parse("tcp:[::1]:6641").unwrap(),
            Remote::Tcp("::1".into(), 6641)
        );
        assert_eq!(
            Remote::parse("ptcp:6641:127.0.0.1").unwrap(),
            Remote::PTcp("127.0.0.1".into(), 6641)
        );
        let l =
            Remote::parse_list("tcp:10.0.0.1:6641,tcp:10.0.0.2:6641, tcp:10.0.0.3:6641").unwrap();
        assert_eq!(l.len(), 3);
        for s in [
            "unix:/a",
            "tcp:[::1]:6641",
            "tcp:1.2.3.4:5",
            "ptcp:6641",
            "punix:/x",
        ] {
            assert_eq!(Remote::parse(s).unwrap().to_string(), s);
        }
        assert!(Remote::parse("ssl:1.2.3.4:6641")
            .unwrap_err()
            .message
            .contains("not supported"));
        assert!(Remote::parse("tcp:1.2.3.4").is_err());
        assert!(Remote::parse("nope").is_err());
        assert!(Remote::parse_list(",").is_err());
    }
}

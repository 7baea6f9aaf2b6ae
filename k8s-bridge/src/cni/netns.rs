//! Doing things inside a network namespace, and the host tools used.
//!
//! Links, addresses and routes are set with the `ip` command (iproute2),
//! run from a thread that has entered the pod's namespace with `setns(2)`
//! (a child process inherits the namespaces of the thread that spawns
//! it), so a failure is reported with `ip`'s own message and nothing else
//! in this process changes namespace. TX checksum offload is turned off
//! with the `SIOCETHTOOL` ioctl (what `ethtool -K IF tx off` does), so no
//! `ethtool` binary is needed: on OVS' userspace datapath a veth's
//! partial checksums would otherwise leave the pod unfilled.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;

/// Runs `f` on a thread inside the network namespace at `path`
/// (`/var/run/netns/NAME`, `/proc/PID/ns/net`).
pub fn in_netns<T: Send>(
    path: &Path,
    f: impl FnOnce() -> Result<T, String> + Send,
) -> Result<T, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: setns on a valid descriptor; it changes only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                return Err(format!(
                    "setns {}: {}",
                    path.display(),
                    std::io::Error::last_os_error()
                ));
            }
            f()
        })
        .join()
        .unwrap_or_else(|_| Err("netns thread panicked".into()))
    })
}

/// Runs a command; the error carries the command line and its stderr.
pub fn run(prog: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(prog)
        .args(args)
        .output()
        .map_err(|e| format!("{prog}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{prog} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ip ARGS…`.
pub fn ip(args: &[&str]) -> Result<String, String> {
    run("ip", args)
}

/// Whether a link exists in the current thread's namespace.
pub fn link_exists(name: &str) -> bool {
    ip(&["link", "show", "dev", name]).is_ok()
}

#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    data: *mut libc::c_void,
    _pad: [u8; 16],
}

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_STXCSUM: u32 = 0x17;

/// Turns TX checksum offload off on a link of the current thread's
/// namespace (`ethtool -K NAME tx off`).
pub fn tx_checksum_off(name: &str) -> Result<(), String> {
    if name.len() >= libc::IFNAMSIZ {
        return Err(format!("{name}: interface name too long"));
    }
    let mut value = EthtoolValue {
        cmd: ETHTOOL_STXCSUM,
        data: 0,
    };
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        data: (&mut value as *mut EthtoolValue).cast(),
        _pad: [0; 16],
    };
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: a datagram socket for the ioctl, closed below; `req` and
    // `value` outlive the call.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(format!("socket: {}", std::io::Error::last_os_error()));
        }
        let rc = libc::ioctl(fd, SIOCETHTOOL as _, &mut req as *mut IfReq);
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if rc != 0 {
            return Err(format!("ethtool -K {name} tx off: {err}"));
        }
    }
    Ok(())
}

//! Process plumbing of OVS daemons (`lib/daemon-unix.c`): the pid file and
//! `--detach`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Environment variable marking the detached child.
pub const DETACHED_ENV: &str = "OVNFLOW_NORTHD_DETACHED";

/// A pid file, removed on drop.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes our pid to `path` (replacing a stale file).
    pub fn create(path: &Path) -> std::io::Result<PidFile> {
        let tmp = path.with_extension("pid.tmp");
        std::fs::write(&tmp, format!("{}\n", std::process::id()))
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(PidFile {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// True in the child started by [`detach`].
pub fn is_detached_child() -> bool {
    std::env::var_os(DETACHED_ENV).is_some()
}

/// `--detach`: starts this program again in the background (own process
/// group, no terminal I/O, [`DETACHED_ENV`] set) and waits until it is
/// ready, i.e. `ready` exists (its control socket or pid file). Returns the
/// child's pid; the caller then exits.
pub fn detach(ready: &Path) -> std::io::Result<u32> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    let _ = std::fs::remove_file(ready);
    let mut child = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(DETACHED_ENV, "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if ready.exists() {
            return Ok(child.id());
        }
        if let Some(status) = child.try_wait()? {
            return Err(std::io::Error::other(format!(
                "the detached daemon exited during startup ({status})"
            )));
        }
        if Instant::now() > deadline {
            return Err(std::io::Error::other(format!(
                "the detached daemon did not create {} in 30 s",
                ready.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_file_holds_our_pid_and_goes_away() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.pid");
        {
            let _f = PidFile::create(&p).unwrap();
            let text = std::fs::read_to_string(&p).unwrap();
            assert_eq!(text.trim(), std::process::id().to_string());
        }
        assert!(!p.exists());
    }
}

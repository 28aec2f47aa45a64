//! The daemon's control socket: how `relais status`, `trace` and
//! `quarantine` reach a running daemon.
//!
//! redb lets one process hold the store, so the operator's commands cannot
//! open it while the daemon runs; they send their [`Request`] over a Unix
//! socket beside the store instead, and the daemon answers with
//! [`ops::execute`] on its own handle: the same code, the same
//! transactions, no second writer. One request per connection, one JSON
//! line each way. The socket is made readable and writable by its owner
//! and group only (the service user and the operators' group); it is never
//! a network port.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::sync::watch;

use crate::ops::{self, Answer, Request};
use crate::store::Store;

/// Longest request accepted, in bytes: a trace id, not a document.
const MAX_REQUEST: u64 = 4096;

/// A control socket failure.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Binding or talking failed.
    #[error("control socket {path}: {action}: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
    /// The other side said something unreadable.
    #[error("control socket {path}: unreadable {what}: {detail}")]
    Protocol {
        path: PathBuf,
        what: &'static str,
        detail: String,
    },
}

/// Binds the socket, replacing one left by a previous run (a live daemon
/// holds the store, so a second one never gets this far).
pub fn bind(path: &Path) -> Result<UnixListener, ControlError> {
    let io = |action, source| ControlError::Io {
        path: path.to_path_buf(),
        action,
        source,
    };
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("remove the old socket", e)),
    }
    let listener = UnixListener::bind(path).map_err(|e| io("bind", e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
            .map_err(|e| io("set its mode", e))?;
    }
    Ok(listener)
}

/// Answers requests until `shutdown` turns true, then removes the socket.
pub async fn serve(
    listener: UnixListener,
    path: PathBuf,
    store: Store,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        match accepted {
            Ok((stream, _)) => {
                connections.spawn(answer_one(stream, store.clone()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "control socket accept failed");
                // A persistent failure (no file descriptors left) must not spin.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        while connections.try_join_next().is_some() {}
    }
    connections.shutdown().await;
    let _ = std::fs::remove_file(&path);
}

async fn answer_one(stream: tokio::net::UnixStream, store: Store) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_REQUEST));
    let answer =
        match tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line)).await {
            Ok(Ok(_)) => match serde_json::from_str::<Request>(&line) {
                Ok(request) => {
                    tracing::info!(?request, "operator request");
                    tokio::task::spawn_blocking(move || ops::execute(&store, &request))
                        .await
                        .unwrap_or_else(|e| Answer::Failed(format!("the request failed: {e}")))
                }
                Err(e) => Answer::Failed(format!("unreadable request: {e}")),
            },
            Ok(Err(e)) => Answer::Failed(format!("cannot read the request: {e}")),
            Err(_) => Answer::Failed("no request within 10 s".into()),
        };
    let Ok(mut bytes) = serde_json::to_vec(&answer) else {
        return;
    };
    bytes.push(b'\n');
    let _ = write.write_all(&bytes).await;
    let _ = write.shutdown().await;
}

/// Asks the daemon listening on `path`. `Ok(None)` means no daemon is
/// there (no socket, or nobody listening): the caller may open the store
/// itself.
pub fn ask(path: &Path, request: &Request) -> Result<Option<Answer>, ControlError> {
    let io = |action, source| ControlError::Io {
        path: path.to_path_buf(),
        action,
        source,
    };
    let mut stream = match std::os::unix::net::UnixStream::connect(path) {
        Ok(stream) => stream,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(io("connect", e)),
    };
    // A release over a large quarantine can take a while; a hung daemon
    // must not hang the operator's terminal for ever.
    let timeout = Some(Duration::from_secs(120));
    stream
        .set_read_timeout(timeout)
        .map_err(|e| io("set a timeout", e))?;
    let mut bytes = serde_json::to_vec(request).map_err(|e| ControlError::Protocol {
        path: path.to_path_buf(),
        what: "request",
        detail: e.to_string(),
    })?;
    bytes.push(b'\n');
    stream.write_all(&bytes).map_err(|e| io("send", e))?;
    let mut line = String::new();
    BufReader::new(&stream)
        .read_line(&mut line)
        .map_err(|e| io("read the answer", e))?;
    serde_json::from_str(&line)
        .map(Some)
        .map_err(|e| ControlError::Protocol {
            path: path.to_path_buf(),
            what: "answer",
            detail: e.to_string(),
        })
}

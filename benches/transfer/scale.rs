//! Scale: many participants joined, many transfers at once, through the participant library.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::workload::StartLine;
use lanshare::identity::Identity;
use lanshare::participant::{Credentials, Session, SessionEvent, TransferConnection};
use lanshare::protocol::{Sha256Digest, UploadRequest};
use sha2::{Digest, Sha256};

/// Participants joined to one host.
pub struct Crowd {
    sessions: Vec<Session>,
}

/// What a burst of simultaneous transfers achieved.
pub struct Burst {
    /// From the common start to the last transfer's end.
    pub elapsed: Duration,
    /// Transfers that failed or delivered other bytes.
    pub errors: usize,
    /// Ids of the files stored (uploads only).
    pub stored: Vec<u64>,
}

impl Crowd {
    /// Joins `count` participants, each with its own identity.
    pub fn join(host: SocketAddr, count: usize) -> io::Result<Self> {
        let sessions = (0..count)
            .map(|index| {
                let identity = Identity::generate()?;
                Session::join(host, &format!("person{index}"), &identity)
                    .map(|(session, _)| session)
                    .map_err(io::Error::other)
            })
            .collect::<io::Result<_>>()?;
        Ok(Self { sessions })
    }

    /// Sessions the host closed since they joined (each one an error).
    pub fn closed_sessions(&self) -> usize {
        self.sessions
            .iter()
            .filter(|session| {
                session
                    .events()
                    .try_iter()
                    .any(|event| matches!(event, SessionEvent::Closed(_)))
            })
            .count()
    }

    /// `count` participants upload `bytes` at the same moment, each on its own connection.
    pub fn upload_burst(&self, host: SocketAddr, count: usize, bytes: &Arc<Vec<u8>>) -> Burst {
        let expected = Sha256Digest(Sha256::digest(bytes.as_slice()).into());
        let credentials: Vec<Credentials> = self
            .sessions
            .iter()
            .take(count)
            .map(|s| s.credentials().clone())
            .collect();
        run_burst(credentials.len(), |index, start| {
            let bytes = Arc::clone(bytes);
            let credentials = credentials[index].clone();
            move || -> Result<u64, String> {
                let prepared = TransferConnection::connect(host).and_then(|mut connection| {
                    connection.authenticate(&credentials)?;
                    Ok(connection)
                });
                // Every thread reaches the barrier, even one that could not connect.
                start.wait();
                let mut connection = prepared.map_err(|e| e.to_string())?;
                let stored = connection
                    .upload(
                        UploadRequest {
                            client_id: credentials.client_id,
                            username: credentials.username.clone(),
                            filename: format!("burst-{index}.bin"),
                            size: bytes.len() as u64,
                        },
                        &mut bytes.as_slice(),
                        &mut |_| {},
                        &AtomicBool::new(false),
                    )
                    .map_err(|e| e.to_string())?;
                if stored.sha256 == expected {
                    Ok(stored.file_id)
                } else {
                    Err("stored with another SHA-256".into())
                }
            }
        })
    }

    /// Each of `ids` is downloaded at the same moment, each on its own connection, and
    /// checked against `expected`.
    pub fn download_burst(host: SocketAddr, ids: &[u64], expected: Sha256Digest) -> Burst {
        let ids = ids.to_vec();
        run_burst(ids.len(), |index, start| {
            let id = ids[index];
            move || -> Result<u64, String> {
                let prepared = TransferConnection::connect(host);
                start.wait();
                let mut connection = prepared.map_err(|e| e.to_string())?;
                let mut hasher = Sha256::new();
                let downloaded = connection
                    .download(id, &mut hasher, &mut |_| {}, &AtomicBool::new(false))
                    .map_err(|e| e.to_string())?;
                let digest = Sha256Digest(hasher.finalize().into());
                if digest == expected && downloaded.sha256 == expected {
                    Ok(id)
                } else {
                    Err("downloaded other bytes".into())
                }
            }
        })
    }
}

/// Runs `count` transfers on threads that all start at one barrier; returns the burst, timed
/// from the first transfer's start to the last one's end as the workers saw them (the thread
/// that waits for them may be scheduled long after the barrier opens).
fn run_burst<F, W>(count: usize, make: F) -> Burst
where
    F: Fn(usize, Arc<StartLine>) -> W,
    W: FnOnce() -> Result<u64, String> + Send + 'static,
{
    let start = StartLine::new(count + 1);
    let workers: Vec<_> = (0..count)
        .map(|index| {
            let work = make(index, Arc::clone(&start));
            std::thread::spawn(move || {
                let result = work();
                (result, Instant::now())
            })
        })
        .collect();
    start.wait();
    let released = Instant::now();
    let mut errors = 0;
    let mut stored = Vec::new();
    let mut last_end = released;
    for worker in workers {
        match worker.join() {
            Ok((result, ended)) => {
                last_end = last_end.max(ended);
                match result {
                    Ok(id) => stored.push(id),
                    Err(error) => {
                        eprintln!("  transfer failed: {error}");
                        errors += 1;
                    }
                }
            }
            Err(_) => errors += 1,
        }
    }
    Burst {
        elapsed: last_end.saturating_duration_since(start.opened_or(released)),
        errors,
        stored,
    }
}

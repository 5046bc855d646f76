//! Reading files to be shared directly: their SHA-256 and transfer check (what the host
//! lists), computed on a worker thread of their own, one file after another, reporting how far
//! each is over a channel the screen follows. It stops when nobody follows any more.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use super::local::LocalFile;
use crate::pipeline::{StreamHash, UploadDigests, UploadHash};

/// Bytes read at a time.
const CHUNK: usize = 1 << 20;
/// Progress is reported at most this often.
const REPORT_EVERY: Duration = Duration::from_millis(100);

/// What the hashing thread reports about job `job` (one file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashEvent {
    /// The job, as numbered by [`hash_files`]'s caller.
    pub job: u64,
    /// How far it is.
    pub step: HashStep,
}

/// How far one file's hashing is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashStep {
    /// This many bytes are read.
    Read(u64),
    /// Its digests, or why it could not be read.
    Done(Result<UploadDigests, String>),
}

/// Hashes `files` (each with its job number) one after another on a thread of their own,
/// reporting to `events`; false if no thread could be started.
pub fn hash_files(files: Vec<(u64, LocalFile)>, events: flume::Sender<HashEvent>) -> bool {
    std::thread::Builder::new()
        .name("lanshare-hashing".into())
        .spawn(move || {
            for (job, file) in files {
                let report = |step| events.send(HashEvent { job, step }).is_ok();
                let digests =
                    digests_of(&file.path, file.size, |read| report(HashStep::Read(read)))
                        .map_err(|error| error.to_string());
                if !report(HashStep::Done(digests)) {
                    return;
                }
            }
        })
        .is_ok()
}

/// SHA-256 and the transfer check of the `size` bytes of the file at `path`; `progress` is
/// told the bytes read now and then, and stops the reading when it answers false.
fn digests_of(
    path: &Path,
    size: u64,
    mut progress: impl FnMut(u64) -> bool,
) -> std::io::Result<UploadDigests> {
    let mut file = File::open(path)?;
    let mut hasher = UploadHash::default();
    let mut buffer = vec![0u8; CHUNK];
    let mut read_so_far = 0u64;
    let mut reported = Instant::now();
    while read_so_far < size {
        let want = usize::try_from(size - read_so_far)
            .unwrap_or(CHUNK)
            .min(CHUNK);
        let read = file.read(&mut buffer[..want])?;
        if read == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file shrank while it was read",
            ));
        }
        hasher.update(&buffer[..read]);
        read_so_far += read as u64;
        if reported.elapsed() >= REPORT_EVERY {
            reported = Instant::now();
            if !progress(read_so_far) {
                return Err(std::io::Error::other("nobody waits for it any more"));
            }
        }
    }
    Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::TransferCheck;
    use sha2::{Digest, Sha256};

    #[test]
    fn a_file_is_hashed_on_a_thread_as_the_host_lists_it() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("a.bin");
        let bytes: Vec<u8> = (0..3_000_000u32).map(|n| (n % 251) as u8).collect();
        std::fs::write(&path, &bytes)?;
        let file = LocalFile {
            path,
            name: "a.bin".into(),
            size: bytes.len() as u64,
        };
        let (sender, events) = flume::unbounded();
        assert!(hash_files(vec![(7, file)], sender));
        let done = events
            .iter()
            .find_map(|event| match event.step {
                HashStep::Done(result) if event.job == 7 => Some(result),
                _ => None,
            })
            .ok_or_else(|| std::io::Error::other("no end"))?;
        let expected = UploadDigests {
            sha256: crate::protocol::Sha256Digest(Sha256::digest(&bytes).into()),
            check: TransferCheck::of(&bytes),
        };
        assert_eq!(done, Ok(expected));
        Ok(())
    }

    #[test]
    fn a_file_that_is_shorter_than_listed_is_an_error() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("short.bin");
        std::fs::write(&path, b"four")?;
        let error = digests_of(&path, 10, |_| true).err();
        assert_eq!(
            error.map(|e| e.kind()),
            Some(std::io::ErrorKind::UnexpectedEof)
        );
        Ok(())
    }
}

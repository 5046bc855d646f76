//! Large files stream through the disk store in bounded memory.

mod common;

use std::io::Read;
use std::sync::atomic::AtomicBool;

use common::*;
use lanshare::participant::TransferConnection;
use lanshare::protocol::UploadRequest;
use sha2::{Digest, Sha256};

/// `len` bytes made of a 1 MiB random block, each copy stamped with its index.
struct Pattern {
    block: Vec<u8>,
    position: u64,
    len: u64,
}

impl Read for Pattern {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let block_len = self.block.len() as u64;
        let offset = (self.position % block_len) as usize;
        let count = out
            .len()
            .min(self.block.len() - offset)
            .min((self.len - self.position) as usize);
        out[..count].copy_from_slice(&self.block[offset..offset + count]);
        // Stamp the block number into its first bytes so no two blocks are alike.
        if offset == 0 && count >= 8 {
            out[..8].copy_from_slice(&(self.position / block_len).to_le_bytes());
        }
        self.position += count as u64;
        Ok(count)
    }
}

/// Peak resident memory of a process, from /proc.
fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmHWM in /proc/{pid}/status"))
}

#[test]
fn a_large_upload_and_download_use_bounded_host_memory() -> TestResult {
    const SIZE: u64 = 768 << 20;
    let dir = tempfile::tempdir()?;
    let host = HostProcess::start(
        &dir.path().join("config"),
        &[
            "--max-file-size",
            "2GiB",
            "--storage",
            &dir.path().join("store").to_string_lossy(),
        ],
    )?;
    let address = host.address;
    let pattern = || Pattern {
        block: data(1 << 20, 77),
        position: 0,
        len: SIZE,
    };
    let mut expected = Sha256::new();
    std::io::copy(&mut pattern(), &mut expected)?;
    let expected = expected.finalize();

    let mut connection = TransferConnection::connect(address)?;
    let stored = connection.upload(
        UploadRequest {
            client_id: 0,
            username: "Big".into(),
            filename: "big.img".into(),
            size: SIZE,
        },
        &mut pattern(),
        &mut |_| {},
        &AtomicBool::new(false),
    )?;
    assert_eq!(stored.sha256.0[..], expected[..]);

    let mut received = Sha256::new();
    let downloaded = connection.download(
        stored.file_id,
        &mut received,
        &mut |_| {},
        &AtomicBool::new(false),
    )?;
    assert_eq!(downloaded.size, SIZE);
    assert_eq!(received.finalize()[..], expected[..]);

    let peak = peak_rss_kib(host.child.id())?;
    eprintln!("host peak RSS after a {SIZE}-byte upload and download: {peak} KiB");
    assert!(
        peak < 64 * 1024,
        "host peak RSS {peak} KiB for a {SIZE}-byte file"
    );
    Ok(())
}

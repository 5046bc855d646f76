//! Large files stream through the disk store in bounded memory.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_lanshare"))
        .args([
            "host",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--max-file-size",
            "2GiB",
        ])
        .arg("--storage")
        .arg(dir.path().join("store"))
        .env("LANSHARE_CONFIG_DIR", dir.path().join("config"))
        .stdout(Stdio::piped())
        .spawn()?;
    let mut log = BufReader::new(
        child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?,
    );
    let mut first = String::new();
    log.read_line(&mut first)?;
    let address = first
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .ok_or_else(|| anyhow::anyhow!("no address in {first:?}"))?
        .parse()?;
    std::thread::spawn(move || for _ in log.lines() {});

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

    let peak = peak_rss_kib(child.id())?;
    eprintln!("host peak RSS after a {SIZE}-byte upload and download: {peak} KiB");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        peak < 64 * 1024,
        "host peak RSS {peak} KiB for a {SIZE}-byte file"
    );
    Ok(())
}

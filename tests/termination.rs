//! `lanshare get` stopped by SIGTERM (as `kill`, a service manager or a closing terminal
//! session stops it) behaves like Ctrl-C: the download is cancelled, its `.part` file removed,
//! and the process ends at once.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

/// The size the fake host lists: a large file, of which it sends only the start.
const SIZE: u64 = 1 << 30;

/// A host that lists one large file and, asked for it, sends its first megabyte and then
/// nothing more, holding the connection open: a download that is still running.
fn slow_host() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || serve(stream));
        }
    });
    Ok(address)
}

fn serve(stream: TcpStream) -> anyhow::Result<()> {
    let tls = accept_tls(stream)?;
    let mut reader = BufReader::new(&tls);
    let mut writer = &tls;
    let mut line = String::new();
    while reader.read_line(&mut line)? > 0 {
        match line.trim_end() {
            "LIST" => writer.write_all(
                format!(
                    "FILE_OFFER:1:big.bin:{SIZE}:Host:1\nFILE_META:1:1764000000000:{}\nEND\n",
                    "0".repeat(64)
                )
                .as_bytes(),
            )?,
            "DOWNLOAD:1" => {
                writer.write_all(format!("FILE:big.bin:{SIZE}\n").as_bytes())?;
                line.clear();
                reader.read_line(&mut line)?;
                writer.write_all(&data(1 << 20, 1))?;
                let mut sink = [0u8; 16];
                while reader.read(&mut sink)? > 0 {}
                return Ok(());
            }
            _ => return Ok(()),
        }
        line.clear();
    }
    Ok(())
}

#[test]
fn sigterm_cancels_a_download_and_removes_its_part_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cli = Cli {
        config_dir: dir.path().join("config"),
        host: slow_host()?,
    };
    let out = dir.path().join("out");
    std::fs::create_dir(&out)?;
    let mut child = cli
        .command(&["get", "1", "-o", &out.to_string_lossy()])
        .stderr(Stdio::piped())
        .spawn()?;
    let part = out.join("big.bin.part");
    assert!(wait_until(Duration::from_secs(10), || {
        std::fs::metadata(&part).is_ok_and(|m| m.len() > 0)
    }));

    let sent = Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    let status = wait_for_exit(&mut child, Duration::from_secs(10))?;
    let took = sent.elapsed();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr)?;
    }
    println!("SIGTERM to exit: {took:?}");

    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted: big.bin was not transferred"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(3), "exit took {took:?}");
    assert!(
        std::fs::read_dir(&out)?.next().is_none(),
        "the .part file is removed"
    );
    Ok(())
}

//! The participant against a broken or hostile host: a download that is corrupted or cancelled
//! leaves nothing behind, one cut short continues from its `.part` file, and nonsense from the
//! host is an error, not a crash.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use lanshare::identity::Identity;
use lanshare::participant::save::Destination;
use lanshare::participant::worker::{TransferUpdate, spawn_download};
use lanshare::participant::{Error, Session, TransferConnection};
use lanshare::protocol::TransferCheck;

const SIZE: usize = 100_000;

/// How the fake host sends file 1's bytes after `READY`.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Sends 40% of the bytes, then closes; serves `DOWNLOAD:1:<offset>` (a resumed
    /// download) properly.
    CutShort,
    /// Sends the right number of wrong bytes.
    Corrupt,
    /// Lists the file with its transfer check (a five-field `FILE_META`), then sends the right
    /// number of wrong bytes.
    CorruptWithCheck,
    /// Sends 1000 bytes, then nothing, holding the connection open.
    Stall,
}

/// A host that lists one file (whose real content is `data(SIZE, 1)`) and misbehaves on
/// `DOWNLOAD` as told. It lists the file as a host from before the transfer check did (a
/// four-field `FILE_META`: SHA-256 only) unless told `CorruptWithCheck`.
fn fake_host(behaviour: Behaviour) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || serve(stream, behaviour));
        }
    });
    Ok(address)
}

fn serve(stream: TcpStream, behaviour: Behaviour) -> anyhow::Result<()> {
    let content = data(SIZE, 1);
    let tls = accept_tls(stream)?;
    let mut reader = BufReader::new(&tls);
    let mut stream = &tls;
    let mut line = String::new();
    while reader.read_line(&mut line)? > 0 {
        match line.trim_end() {
            "LIST" => {
                let check = match behaviour {
                    Behaviour::CorruptWithCheck => format!(":{}", TransferCheck::of(&content)),
                    _ => String::new(),
                };
                stream.write_all(
                    format!(
                        "FILE_OFFER:1:data.bin:{SIZE}:Host:1\nFILE_META:1:1764000000000:{}{check}\nEND\n",
                        sha256_hex(&content)
                    )
                    .as_bytes(),
                )?
            }
            "DOWNLOAD:1" => {
                stream.write_all(format!("FILE:data.bin:{SIZE}\n").as_bytes())?;
                line.clear();
                reader.read_line(&mut line)?;
                match behaviour {
                    Behaviour::CutShort => {
                        stream.write_all(&content[..SIZE * 4 / 10])?;
                        return Ok(());
                    }
                    Behaviour::Corrupt | Behaviour::CorruptWithCheck => {
                        stream.write_all(&data(SIZE, 2))?
                    }
                    Behaviour::Stall => {
                        stream.write_all(&content[..1000])?;
                        // Hold the connection until the client goes away.
                        let mut sink = [0u8; 16];
                        while reader.read(&mut sink)? > 0 {}
                        return Ok(());
                    }
                }
            }
            resumed if resumed.starts_with("DOWNLOAD:1:") => {
                let offset: usize = resumed["DOWNLOAD:1:".len()..].parse()?;
                stream.write_all(format!("FILE:data.bin:{SIZE}\n").as_bytes())?;
                line.clear();
                reader.read_line(&mut line)?;
                if line.trim_end() == "READY" {
                    stream.write_all(&content[offset..])?;
                }
            }
            _ => return Ok(()),
        }
        line.clear();
    }
    Ok(())
}

/// A command line against a fake host behaving as told, and an empty folder to save into
/// (both inside the returned temporary folder).
fn cli_against(behaviour: Behaviour) -> anyhow::Result<(tempfile::TempDir, Cli, PathBuf)> {
    let dir = tempfile::tempdir()?;
    let cli = Cli {
        config_dir: dir.path().join("config"),
        host: fake_host(behaviour)?,
    };
    let out = dir.path().join("out");
    std::fs::create_dir(&out)?;
    Ok((dir, cli, out))
}

fn empty(dir: &Path) -> anyhow::Result<bool> {
    Ok(std::fs::read_dir(dir)?.next().is_none())
}

#[test]
fn a_download_cut_short_continues_from_its_part_file() -> TestResult {
    let (_dir, cli, out) = cli_against(Behaviour::CutShort)?;
    let output = cli.run(&["get", "1", "-o", &out.to_string_lossy()])?;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("Resuming… data.bin from"),
        "{}",
        stderr(&output)
    );
    assert!(std::fs::read(out.join("data.bin"))? == data(SIZE, 1));
    assert!(!out.join("data.bin.part").exists());
    Ok(())
}

#[test]
fn a_corrupted_download_is_not_kept() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cli = Cli {
        config_dir: dir.path().join("config"),
        host: fake_host(Behaviour::Corrupt)?,
    };
    let target = dir.path().join("out.bin");
    let output = cli.run(&["get", "1", "-o", &target.to_string_lossy()])?;
    assert!(!output.status.success());
    assert!(
        stderr(&output)
            .contains("'data.bin' arrived damaged (SHA-256 mismatch); nothing was saved"),
        "{}",
        stderr(&output)
    );
    assert!(!target.exists());
    assert!(!dir.path().join("out.bin.part").exists());
    Ok(())
}

#[test]
fn a_download_that_does_not_match_its_listed_transfer_check_is_not_kept() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cli = Cli {
        config_dir: dir.path().join("config"),
        host: fake_host(Behaviour::CorruptWithCheck)?,
    };
    let target = dir.path().join("out.bin");
    let output = cli.run(&["get", "1", "-o", &target.to_string_lossy()])?;
    assert!(!output.status.success());
    assert!(
        stderr(&output)
            .contains("'data.bin' arrived damaged (transfer check mismatch); nothing was saved"),
        "{}",
        stderr(&output)
    );
    assert!(!target.exists());
    assert!(!dir.path().join("out.bin.part").exists());
    Ok(())
}

#[test]
fn ctrl_c_cancels_a_download_and_removes_its_part_file() -> TestResult {
    let (_dir, cli, out) = cli_against(Behaviour::Stall)?;
    let child = cli
        .command(&["get", "1", "-o", &out.to_string_lossy()])
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    assert!(wait_until(Duration::from_secs(10), || out
        .join("data.bin.part")
        .exists()));
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()?;
    let output = child.wait_with_output()?;
    assert_eq!(output.status.code(), Some(130));
    assert!(stderr(&output).contains("interrupted: data.bin was not transferred"));
    assert!(empty(&out)?, "the .part file is removed");
    Ok(())
}

#[test]
fn cancelling_a_worker_download_reports_cancelled_and_keeps_nothing() -> TestResult {
    let host = fake_host(Behaviour::Stall)?;
    let dir = tempfile::tempdir()?;
    let entry = TransferConnection::connect(host)?.list()?.remove(0);
    let (sender, events) = flume::unbounded();
    let handle = spawn_download(host, entry, Destination::Folder(dir.path().into()), sender)?;
    // Wait for the first progress, then cancel.
    let first = events.recv_timeout(Duration::from_secs(10))?;
    assert!(
        matches!(first.update, TransferUpdate::Progress { .. }),
        "{first:?}"
    );
    handle.cancel();
    let last = loop {
        let event = events.recv_timeout(Duration::from_secs(10))?;
        if event.update.is_final() {
            break event;
        }
    };
    assert_eq!(last.update, TransferUpdate::Cancelled);
    assert_eq!(last.id, handle.id());
    assert!(empty(dir.path())?);
    Ok(())
}

#[test]
fn ctrl_c_during_many_downloads_removes_every_part_file() -> TestResult {
    let (_dir, cli, out) = cli_against(Behaviour::Stall)?;
    // Six small downloads run in six lanes at once (small files get up to 16): six `.part`
    // files exist together.
    let mut args = vec!["get", "-o"];
    let out_text = out.to_string_lossy().into_owned();
    args.push(&out_text);
    args.extend(["1"; 6]);
    let child = cli
        .command(&args)
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    assert!(wait_until(Duration::from_secs(10), || {
        std::fs::read_dir(&out).map_or(0, Iterator::count) == 6
    }));
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()?;
    let output = child.wait_with_output()?;
    assert_eq!(output.status.code(), Some(130));
    assert!(empty(&out)?, "every lane removed its .part file");
    Ok(())
}

/// A host that answers any first line with `reply`.
fn scripted_host(reply: &'static [u8]) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let Ok(tls) = accept_tls(stream) else {
                continue;
            };
            let mut line = String::new();
            let _ = BufReader::new(&tls).read_line(&mut line);
            let _ = (&tls).write_all(reply);
        }
    });
    Ok(address)
}

#[test]
fn nonsense_from_a_host_is_an_error_not_a_crash() -> TestResult {
    let identity = Identity::generate()?;
    let cases: [(&[u8], &str); 4] = [
        (
            b"WHAT\n",
            "unexpected reply from the host: Unknown command 'WHAT'",
        ),
        (
            b"CHALLENGE:zz\n",
            "unexpected reply from the host: Invalid nonce",
        ),
        (b"ERROR:go away\n", "go away"),
        (b"", "the host closed the connection"),
    ];
    for (reply, expected) in cases {
        let host = scripted_host(reply)?;
        let error = Session::join(host, "Ann", &identity).err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains(expected), "{reply:?}: {message}");
    }
    let endless: &'static [u8] = Box::leak(vec![b'x'; 20_000].into_boxed_slice());
    let host = scripted_host(endless)?;
    let result = TransferConnection::connect(host)?.list();
    assert!(matches!(result, Err(Error::Protocol(_))), "{result:?}");
    Ok(())
}

/// A host that takes one upload whole, then answers `STORED` with the right SHA-256 and the
/// transfer check `check_of`'s bytes have.
fn host_storing_as(check_of: &'static [u8]) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    std::thread::spawn(move || -> anyhow::Result<()> {
        let (stream, _) = listener.accept()?;
        let stream = accept_tls(stream)?;
        let mut reader = BufReader::new(&stream);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let size: usize = line.trim_end().rsplit(':').next().unwrap_or("0").parse()?;
        (&stream).write_all(b"READY\n")?;
        let mut received = vec![0u8; size];
        reader.read_exact(&mut received)?;
        let stored = format!(
            "STORED:9:{}:{}\n",
            sha256_hex(&received),
            TransferCheck::of(check_of)
        );
        (&stream).write_all(stored.as_bytes())?;
        Ok(())
    });
    Ok(address)
}

#[test]
fn an_upload_the_host_received_differently_is_an_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    // Large enough to hash on the second thread, as a large file does.
    let content = data(3 << 20, 7);
    let path = dir.path().join("sent.bin");
    std::fs::write(&path, &content)?;
    let size = content.len() as u64;
    let request = || lanshare::protocol::UploadRequest {
        client_id: 1,
        username: "Ann".into(),
        filename: "sent.bin".into(),
        size,
    };
    let never = std::sync::atomic::AtomicBool::new(false);

    let host = host_storing_as(b"other bytes")?;
    let result =
        TransferConnection::connect(host)?.upload_file(request(), &path, &mut |_| {}, &never);
    let Err(error) = result else {
        panic!("a mismatching transfer check was accepted");
    };
    assert!(
        matches!(error, Error::UploadDamaged { file_id: 9 }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("transfer check mismatch"),
        "{error}"
    );

    // The same exchange with the check of the bytes sent is a success.
    let content: &'static [u8] = Box::leak(content.into_boxed_slice());
    let host = host_storing_as(content)?;
    let stored =
        TransferConnection::connect(host)?.upload_file(request(), &path, &mut |_| {}, &never)?;
    assert_eq!(stored.file_id, 9);
    assert_eq!(stored.sha256.to_string(), sha256_hex(content));
    Ok(())
}

//! The command line as a new user would try it, against a real host on loopback.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use lanshare::host::HostConfig;
use lanshare::storage::StorageConfig;

fn user(dir: &Path, name: &str, host: SocketAddr) -> Cli {
    Cli {
        config_dir: dir.join(name),
        host,
    }
}

fn ok(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}\n{}",
        stdout(output),
        stderr(output)
    );
    stdout(output)
}

fn failed(output: &std::process::Output) -> String {
    assert!(
        !output.status.success(),
        "unexpectedly succeeded: {}",
        stdout(output)
    );
    stderr_past_first_contact(output)
}

fn ls_json(cli: &Cli) -> anyhow::Result<Vec<serde_json::Value>> {
    Ok(serde_json::from_str(&ok(&cli.run(&["ls", "--json"])?))?)
}

#[test]
fn version_names_the_git_revision() -> TestResult {
    let cli = user(Path::new("/nonexistent"), "x", "127.0.0.1:1".parse()?);
    let out = ok(&cli.run(&["--version"])?);
    assert!(
        out.starts_with(&format!("lanshare {} (git ", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    Ok(())
}

#[test]
fn send_ls_get_rm_as_a_new_user_would() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let alice = user(dir.path(), "alice", host.local_addr());
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work)?;
    let report = work.join("report.pdf");
    let content = data(2_621_440, 5);
    std::fs::write(&report, &content)?;
    std::fs::write(work.join("notes.txt"), b"notes")?;

    let sent = cli_send(
        &alice,
        &work,
        &["--user", "Alice", "report.pdf", "notes.txt"],
    )?;
    assert_eq!(
        sent,
        "Shared 'report.pdf' (2.5 MB) as #1\nShared 'notes.txt' (5 B) as #2\n"
    );

    let table = ok(&alice.run(&["ls"])?);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].contains("ID") && lines[0].contains("NAME"));
    assert!(
        lines[1].contains("2.5 MB")
            && lines[1].contains("Alice")
            && lines[1].ends_with("report.pdf")
    );

    let listed = ls_json(&alice)?;
    assert_eq!(listed.len(), 2);
    let first = &listed[0];
    assert_eq!(first["id"], 1);
    assert_eq!(first["name"], "report.pdf");
    assert_eq!(first["size"], 2_621_440);
    assert_eq!(first["uploader"], "Alice");
    assert!(first["uploader_id"].as_u64().is_some_and(|id| id > 0));
    assert_eq!(first["sha256"], sha256_hex(&content));
    assert_eq!(
        first["check"],
        lanshare::protocol::TransferCheck::of(&content).to_string()
    );
    let time = first["uploaded_at"].as_str().unwrap_or_default();
    assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{time}");

    // Download into a folder, twice: the second copy gets a new name.
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads)?;
    let got = ok(&alice.run_in(&downloads, &["get", "1", "2"])?);
    assert_eq!(
        got,
        "Saved 'report.pdf' (2.5 MB) to ./report.pdf\nSaved 'notes.txt' (5 B) to ./notes.txt\n"
    );
    assert!(std::fs::read(downloads.join("report.pdf"))? == content);
    let again = ok(&alice.run_in(&downloads, &["get", "2"])?);
    assert_eq!(again, "Saved 'notes.txt' (5 B) to ./notes (1).txt\n");

    // Download to a path: never overwritten silently.
    let target = dir.path().join("mine.pdf");
    std::fs::write(&target, b"precious")?;
    let refused = failed(&alice.run(&["get", "1", "-o", &target.to_string_lossy()])?);
    assert!(
        refused.contains("already exists (not overwritten)"),
        "{refused}"
    );
    assert_eq!(std::fs::read(&target)?, b"precious");
    assert!(!dir.path().join("mine.pdf.part").exists());
    ok(&alice.run(&["get", "1", "-o", &target.to_string_lossy(), "--force"])?);
    assert!(std::fs::read(&target)? == content);

    let removed = ok(&alice.run(&["rm", "2"])?);
    assert_eq!(removed, "Deleted #2 'notes.txt'\n");
    assert_eq!(ls_json(&alice)?.len(), 1);
    Ok(())
}

#[test]
fn many_files_go_up_and_down_in_parallel_lanes() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let bob = user(dir.path(), "bob", host.local_addr());
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work)?;
    let names: Vec<String> = (0..9).map(|i| format!("f{i}.bin")).collect();
    for (index, name) in names.iter().enumerate() {
        std::fs::write(work.join(name), data(10_000 + index * 70_001, index as u64))?;
    }
    let mut args = vec!["--user", "Bob"];
    args.extend(names.iter().map(String::as_str));
    let sent = cli_send(&bob, &work, &args)?;
    // Lines come in the order given; ids in the order the host stored them.
    let mut ids = Vec::new();
    for (line, name) in sent.lines().zip(&names) {
        assert!(line.starts_with(&format!("Shared '{name}'")), "{line}");
        ids.push(line.rsplit('#').next().unwrap_or_default().to_owned());
    }
    assert_eq!(ids.len(), names.len());
    let out = dir.path().join("out");
    std::fs::create_dir(&out)?;
    let mut args = vec![
        "get".to_owned(),
        "-o".into(),
        out.to_string_lossy().into_owned(),
    ];
    args.extend(ids);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&bob.run(&args)?);
    for name in &names {
        assert_eq!(
            std::fs::read(out.join(name))?,
            std::fs::read(work.join(name))?
        );
    }
    assert_eq!(
        std::fs::read_dir(&out)?.count(),
        names.len(),
        "no .part left"
    );
    Ok(())
}

fn cli_send(cli: &Cli, dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let mut all = vec!["send"];
    all.extend_from_slice(args);
    let output = cli.run_in(dir, &all)?;
    let out = ok(&output);
    assert_eq!(
        stderr_past_first_contact(&output),
        "",
        "no progress bars when not on a terminal"
    );
    Ok(out)
}

#[test]
fn ownership_lasts_across_runs_and_is_yours_alone() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let alice = user(dir.path(), "alice", host.local_addr());
    let bob = user(dir.path(), "bob", host.local_addr());
    std::fs::write(dir.path().join("a.txt"), b"a")?;
    cli_send(&alice, dir.path(), &["--user", "Alice", "a.txt"])?;

    // Bob cannot delete it, nor pretend to be Alice.
    let refused = failed(&bob.run(&["rm", "--user", "Bob", "1"])?);
    assert_eq!(
        refused,
        "lanshare: error: Only Alice (who shared it) or the host can delete 'a.txt'\n"
    );
    let posing = failed(&bob.run(&["rm", "--user", "Alice", "1"])?);
    assert!(
        posing.contains("The name 'Alice' is taken by another participant"),
        "{posing}"
    );

    // Alice, in a later run, without repeating her name (it was remembered), can.
    ok(&alice.run(&["rm", "1"])?);
    assert!(ls_json(&alice)?.is_empty());
    Ok(())
}

#[test]
fn errors_are_one_clear_line_and_a_failure_exit() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("big.bin"), data(3000, 1))?;

    // Host unreachable. A socket bound but not listening keeps its port closed for as long as
    // it lives (a port merely freed again could be taken by another test's host meanwhile).
    let closed = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    closed.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
    let free_port = closed
        .local_addr()?
        .as_socket()
        .ok_or_else(|| anyhow::anyhow!("not an IP socket"))?;
    let nobody = user(dir.path(), "nobody", free_port);
    let error = failed(&nobody.run(&["ls"])?);
    assert!(
        error.starts_with(&format!(
            "lanshare: error: cannot reach the host at {free_port}"
        )),
        "{error}"
    );
    assert_eq!(error.lines().count(), 1);

    // Bad address.
    let error = failed(&nobody.run(&["ls", "--host", "no such host!"])?);
    assert!(error.contains("is not a host address"), "{error}");

    // Too large, and host full.
    let host = start(HostConfig {
        max_file_size: 2000,
        storage: StorageConfig::Memory { limit: 2500 },
        ..config()
    })?;
    let carol = user(dir.path(), "carol", host.local_addr());
    let error = failed(&carol.run_in(dir.path(), &["send", "big.bin"])?);
    assert!(
        error.contains("big.bin: File too large (max 2000 bytes = 1.95 KB)"),
        "{error}"
    );
    std::fs::write(dir.path().join("a.bin"), data(1500, 2))?;
    std::fs::write(dir.path().join("b.bin"), data(1500, 3))?;
    ok(&carol.run_in(dir.path(), &["send", "a.bin"])?);
    let error = failed(&carol.run_in(dir.path(), &["send", "b.bin"])?);
    assert!(error.contains("Host storage is full"), "{error}");

    // Not found.
    let error = failed(&carol.run(&["get", "99"])?);
    assert!(
        error.contains("no file with id 99 is shared on the host"),
        "{error}"
    );
    let error = failed(&carol.run(&["rm", "99"])?);
    assert_eq!(
        error,
        "lanshare: error: no file with id 99 is shared on the host\n"
    );

    // Missing local file, and a folder.
    let error = failed(&carol.run(&["send", "/no/such/file"])?);
    assert!(error.contains("cannot read /no/such/file"), "{error}");
    let error = failed(&carol.run(&["send", &dir.path().to_string_lossy()])?);
    assert!(error.contains("is a folder"), "{error}");
    Ok(())
}

#[test]
fn odd_names_are_kept_on_the_host_and_made_safe_on_disk() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let dana = user(dir.path(), "dana", host.local_addr());
    let odd = "q3: plan\nfinal 100%.txt";
    std::fs::write(dir.path().join(odd), b"odd")?;
    let sent = cli_send(&dana, dir.path(), &[odd])?;
    assert_eq!(sent, "Shared 'q3: plan?final 100%.txt' (3 B) as #1\n");
    assert_eq!(ls_json(&dana)?[0]["name"], odd);
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out)?;
    ok(&dana.run(&["get", "1", "-o", &out.to_string_lossy()])?);
    assert_eq!(std::fs::read(out.join("q3_ plan_final 100%.txt"))?, b"odd");
    Ok(())
}

#[test]
fn watch_json_streams_offers_deletions_and_presence() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let eve = user(dir.path(), "eve", host.local_addr());
    let frank = user(dir.path(), "frank", host.local_addr());
    let mut watch = eve
        .command(&["watch", "--json", "--user", "Eve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let lines = stdout_lines(&mut watch)?;
    assert!(wait_until(Duration::from_secs(10), || host.session_count() == 1));

    std::fs::write(dir.path().join("f.txt"), b"frank's")?;
    cli_send(&frank, dir.path(), &["--user", "Frank", "f.txt"])?;
    ok(&frank.run(&["rm", "1"])?);

    // Wait until only Eve is left, then take every event printed.
    assert!(wait_until(Duration::from_secs(10), || host.session_count() == 1));
    let mut events = Vec::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_millis(500)) {
        events.push(serde_json::from_str::<serde_json::Value>(&line)?);
    }
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    // Frank's two runs may overlap on the host, so presence events between them vary; the
    // first and last are fixed, and so is the order of offer and deletion.
    assert_eq!(kinds.first(), Some(&"joined"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"left"), "{kinds:?}");
    let files: Vec<&&str> = kinds
        .iter()
        .filter(|k| **k == "offer" || **k == "deleted")
        .collect();
    assert_eq!(files, [&"offer", &"deleted"]);
    let offer = &events[1];
    assert_eq!(offer["event"], "offer");
    assert_eq!(offer["name"], "f.txt");
    assert_eq!(offer["uploader"], "Frank");
    assert_eq!(offer["size"], 7);
    assert_eq!(offer["sha256"], sha256_hex(b"frank's"));
    assert!(offer["uploaded_at"].is_string() && offer["uploader_id"].is_u64() && offer["id"] == 1);
    let deleted = events.iter().find(|e| e["event"] == "deleted");
    assert_eq!(deleted.map(|e| &e["id"]), Some(&serde_json::json!(1)));
    assert_eq!(events[0]["name"], "Frank");

    // When the host goes away, watch says so and fails.
    host.shutdown();
    let status = wait_for_exit(&mut watch, Duration::from_secs(10))?;
    assert_eq!(status.code(), Some(1));
    Ok(())
}

#[test]
fn the_host_command_logs_like_the_seed_and_stops_on_ctrl_c() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    let mut host = HostProcess::start(
        &dir.path().join("hostcfg"),
        &[
            "--storage",
            &store.to_string_lossy(),
            "--max-file-size",
            "1KB",
        ],
    )?;
    let gina = user(dir.path(), "gina", host.address);
    std::fs::write(dir.path().join("small.txt"), b"small")?;
    std::fs::write(dir.path().join("large.bin"), data(1025, 1))?;
    cli_send(&gina, dir.path(), &["--user", "Gina", "small.txt"])?;
    let error = failed(&gina.run_in(dir.path(), &["send", "large.bin"])?);
    assert!(
        error.contains("File too large (max 1024 bytes = 1 KB)"),
        "{error}"
    );

    let line = host.wait_for_log("Receiving file 'small.txt' (5 bytes) from Gina")?;
    // "[YYYY-MM-DD HH:MM:SS] message", as the seed prints.
    let stamp = &line[..21];
    assert!(
        chrono::NaiveDateTime::parse_from_str(stamp, "[%Y-%m-%d %H:%M:%S]").is_ok(),
        "{line}"
    );
    host.wait_for_log("File 'small.txt' stored with ID 1")?;

    let status = host.interrupt()?;
    assert!(status.success(), "{status:?}");
    host.wait_for_log("Host stopped")?;

    // Its disk store kept the file.
    let host = HostProcess::start(
        &dir.path().join("hostcfg"),
        &["--storage", &store.to_string_lossy()],
    )?;
    let gina = user(dir.path(), "gina", host.address);
    assert_eq!(ls_json(&gina)?[0]["name"], "small.txt");
    Ok(())
}

#[test]
fn host_arguments_are_checked() -> TestResult {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lanshare"))
            .arg("host")
            .args(args)
            .env("LANSHARE_NO_DISCOVERY", "1")
            .output()
    };
    let bad_size = run(&["--max-file-size", "lots"])?;
    assert!(
        stderr(&bad_size).contains("'lots' is not a size"),
        "{}",
        stderr(&bad_size)
    );
    let bad_bind = run(&["--bind", "not-an-ip"])?;
    assert!(stderr(&bad_bind).contains("'not-an-ip' is not an IP address"));
    let no_connections = run(&["--max-per-address", "0"])?;
    assert!(!no_connections.status.success());
    assert!(
        stderr(&no_connections).contains("--max-per-address must be at least 1"),
        "{}",
        stderr(&no_connections)
    );
    let busy = TcpListener::bind("127.0.0.1:0")?;
    let port = busy.local_addr()?.port().to_string();
    let taken = run(&["--bind", "127.0.0.1", "--port", &port])?;
    assert!(
        stderr(&taken).contains("could not listen on 127.0.0.1"),
        "{}",
        stderr(&taken)
    );
    assert!(!taken.status.success());
    Ok(())
}

#[cfg(feature = "gui")]
#[test]
fn without_a_display_the_app_explains_instead_of_crashing() -> TestResult {
    let output = Command::new(env!("CARGO_BIN_EXE_lanshare"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WAYLAND_SOCKET")
        .env("LANSHARE_CONFIG_DIR", tempfile::tempdir()?.path())
        .output()?;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "lanshare: error: no display to open a window on (neither DISPLAY nor WAYLAND_DISPLAY is \
         set)\nhint: `lanshare host` runs a host without a window; `lanshare --help` lists the \
         other commands\n"
    );
    Ok(())
}

#[test]
fn max_per_address_caps_the_connections_of_one_machine() -> TestResult {
    let dir = tempfile::tempdir()?;
    let host = HostProcess::start(dir.path(), &["--max-per-address", "2"])?;
    let first = Raw::connect(host.address)?;
    let second = Raw::connect(host.address)?;
    let mut third = Raw::connect(host.address)?;
    assert_eq!(
        third.line()?,
        "ERROR:Too many connections from 127.0.0.1 (max 2): close some and try again"
    );
    // Another machine is not held back by this one.
    let mut other = Raw::connect_from([127, 0, 0, 2], host.address)?;
    other.send(b"LIST\n")?;
    assert_eq!(other.line()?, "END");
    drop((first, second));
    Ok(())
}

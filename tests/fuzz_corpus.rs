//! Replays every committed fuzz corpus file (fuzz/corpus/<target>/) through the fuzz targets'
//! checks (fuzz/harness.rs), so that a plain `cargo test` on the stable toolchain fails when a
//! change breaks a parser on any input the fuzzers have found interesting. `.ci/run` also runs
//! each target with `cargo fuzz` for a short while; RELIABILITY.md tells how to run them long.

#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::Path;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by a panic in any thread (a host's connection handler catches its own panics, but the
/// fuzzer, like this, counts them as crashes).
static PANICKED: AtomicBool = AtomicBool::new(false);

fn watch_for_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICKED.store(true, Ordering::SeqCst);
            default(info);
        }));
    });
}

/// What a fuzz target checks of one input.
type Check = fn(&[u8]);

/// Feeds every file of one target's corpus to `check`; returns how many there were.
fn replay(target: &str, check: Check) -> anyhow::Result<usize> {
    watch_for_panics();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let bytes = std::fs::read(&path)?;
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        anyhow::ensure!(
            outcome.is_ok() && !PANICKED.load(Ordering::SeqCst),
            "{target}: {} fails ({:?})",
            path.display(),
            String::from_utf8_lossy(&bytes)
        );
        count += 1;
    }
    anyhow::ensure!(count > 0, "{} holds no corpus", dir.display());
    Ok(count)
}

/// One test for all targets, run one after the other, so that a panic in a host's thread is
/// blamed on the input that caused it.
#[test]
fn every_corpus_file_passes_its_fuzz_target() -> anyhow::Result<()> {
    let targets: [(&str, Check); 8] = [
        ("client_line", harness::client_line),
        ("host_line", harness::host_line),
        ("escaping", harness::escaping),
        ("host_connection", harness::host_connection),
        ("participant_replies", harness::participant_replies),
        ("host_secure", harness::host_secure),
        ("preview", harness::preview),
        ("blocks", harness::blocks),
    ];
    for (target, check) in targets {
        let count = replay(target, check)?;
        eprintln!("{target}: {count} inputs replayed");
    }
    Ok(())
}

//! `lanshare preview ID [-o PATH]`: a file's preview, fetched from the host (PROTOCOL.md,
//! *Previews*): a text preview is printed, a thumbnail saved with `-o`.

use std::io::Write;

use anyhow::{Context, bail};
use lanshare::participant::FetchedPreview;
use lanshare::participant::worker::{Route, fetch_preview};
use lanshare::preview::picture_size;
use lanshare::protocol::PreviewKind;
use lanshare::units::format_size;

use super::PreviewArgs;
use super::client::{explain, list_as, own_identity, target};
use super::output::printable;

/// Fetches file `args.id`'s preview; prints a text one, saves either to `-o`.
pub(super) fn preview(args: &PreviewArgs) -> anyhow::Result<()> {
    let target = target(&args.address, false)?;
    let (files, session) = list_as(&target, &args.user)?;
    if !files.iter().any(|file| file.id == args.id) {
        bail!("no file with id {} is shared on the host", args.id);
    }
    let route = Route {
        host: target.address,
        passcode: target.passcode.clone(),
        credentials: session.as_ref().map(|s| s.credentials().clone()),
        identity: own_identity(),
        compression: true,
    };
    let fetched = fetch_preview(&route, args.id).map_err(explain)?;
    match &args.output {
        Some(path) => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true);
            if args.force {
                options.create(true).truncate(true);
            } else {
                options.create_new(true);
            }
            let mut file = options
                .open(path)
                .with_context(|| format!("{} (use --force to replace it)", path.display()))?;
            file.write_all(&fetched.bytes)
                .with_context(|| path.display().to_string())?;
            println!(
                "Saved the preview of #{} ({}) to {}",
                args.id,
                described(&fetched),
                path.display()
            );
        }
        None if fetched.kind == PreviewKind::Text => {
            let text = String::from_utf8_lossy(&fetched.bytes);
            // Each line shown as text only: no terminal control sequences from the host.
            let mut out = std::io::stdout().lock();
            for line in text.lines() {
                writeln!(out, "{}", printable(&line.replace('\t', "    ")))?;
            }
        }
        None => bail!(
            "the preview of #{} is a picture ({}): save it with -o FILE",
            args.id,
            described(&fetched)
        ),
    }
    Ok(())
}

/// `256×128 PNG, 31 KB` or `text, 1.2 KB`.
fn described(preview: &FetchedPreview) -> String {
    let size = format_size(preview.bytes.len() as u64);
    match (preview.kind, picture_size(&preview.bytes)) {
        (PreviewKind::Png, Some((width, height))) => format!("{width}×{height} PNG, {size}"),
        (kind, _) => format!("{kind}, {size}"),
    }
}

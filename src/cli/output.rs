//! How the command line prints: the host's log lines, file tables and JSON.

use std::fmt;

use chrono::{DateTime, Local, SecondsFormat, Utc};
use serde_json::{Value, json};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use lanshare::participant::FileEntry;
use lanshare::protocol::{CommentInfo, VersionInfo, visible_text};
use lanshare::units::{format_remaining, format_size};

/// `[2026-11-24 10:00:00] message`, as the seed's server prints (without the characters that
/// draw nothing or reorder text).
pub(super) struct SeedLogFormat;

impl<S, N> FormatEvent<S, N> for SeedLogFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "[{}] ", Local::now().format("%Y-%m-%d %H:%M:%S"))?;
        match *event.metadata().level() {
            Level::ERROR => write!(writer, "error: ")?,
            Level::WARN => write!(writer, "warning: ")?,
            _ => {}
        }
        // Names in the message come from the network: the characters that draw nothing or
        // reorder text are left out, so a file name cannot disguise itself in the log.
        let mut message = String::new();
        context
            .field_format()
            .format_fields(Writer::new(&mut message), event)?;
        writeln!(writer, "{}", visible_text(&message))
    }
}

/// Local time as people read it.
pub(super) fn local_time(time: DateTime<Utc>) -> String {
    time.with_timezone(&Local)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A file as the JSON object of `ls --json` and `watch --json`.
pub(super) fn file_json(file: &FileEntry) -> Value {
    json!({
        "id": file.id,
        "name": file.name,
        "size": file.size,
        "uploader": file.uploader,
        "uploader_id": file.uploader_id,
        "uploaded_at": file
            .uploaded_at
            .with_timezone(&Local)
            .to_rfc3339_opts(SecondsFormat::Millis, false),
        "sha256": file.sha256.to_string(),
        "check": file.check.map(|check| check.to_string()),
        "category": file.details.category.map(|category| category.as_str()),
        "tags": file.details.tags.as_slice(),
        "expires_at": file
            .details
            .expires_at
            .map(|at| at.with_timezone(&Local).to_rfc3339_opts(SecondsFormat::Millis, false)),
        "expires_in_s": file
            .details
            .expires_at
            .map(|at| (at - Utc::now()).num_seconds().max(0)),
        "only": file.details.only.as_ref().map(|only| only.names()),
        "version": file.details.versions.map_or(1, |count| count.latest),
        "versions": file.details.versions.map_or(1, |count| count.kept),
        "comments": file.details.comments.iter().map(comment_json).collect::<Vec<_>>(),
        "preview": file.details.preview.map(|preview| json!({
            "kind": preview.kind.as_str(),
            "size": preview.size,
        })),
        "direct": file.details.direct.map(direct_state),
    })
}

/// A comment as an object of `comments --json` (and in `ls --json`).
pub(super) fn comment_json(comment: &CommentInfo) -> Value {
    json!({
        "id": comment.comment_id,
        "author": comment.author_name,
        "author_id": comment.author_id,
        "at": DateTime::<Utc>::from_timestamp_millis(comment.at_ms)
            .map(|at| at.with_timezone(&Local).to_rfc3339_opts(SecondsFormat::Millis, false)),
        "text": comment.text,
    })
}

/// The lines `lanshare comments` prints: `#3 [2026-11-24 10:00:00] Bob: text`.
pub(super) fn comment_lines(comments: &[CommentInfo]) -> String {
    comments
        .iter()
        .map(|comment| {
            let when = DateTime::<Utc>::from_timestamp_millis(comment.at_ms)
                .map_or_else(|| "-".to_owned(), local_time);
            format!(
                "#{} [{when}] {}: {}\n",
                comment.comment_id,
                printable(&comment.author_name),
                printable(&comment.text)
            )
        })
        .collect()
}

/// A version as an object of `versions --json`.
pub(super) fn version_json(version: &VersionInfo) -> Value {
    json!({
        "version": version.number,
        "size": version.size,
        "uploaded_at": DateTime::<Utc>::from_timestamp_millis(version.uploaded_at_ms)
            .map(|at| at.with_timezone(&Local).to_rfc3339_opts(SecondsFormat::Millis, false)),
        "sha256": version.sha256.to_string(),
        "check": version.check.to_string(),
    })
}

/// The table `lanshare versions` prints: one line per version kept, oldest first.
pub(super) fn version_table(versions: &[VersionInfo]) -> String {
    let mut out = format!(
        "{:<8} {:>10}  {:<19}  SHA-256\n",
        "VERSION", "SIZE", "UPLOADED"
    );
    for version in versions {
        let when = DateTime::<Utc>::from_timestamp_millis(version.uploaded_at_ms)
            .map_or_else(|| "-".to_owned(), local_time);
        out.push_str(&format!(
            "{:<8} {:>10}  {:<19}  {}\n",
            version.number,
            format_size(version.size),
            when,
            version.sha256
        ));
    }
    out
}

/// "3 h" until a file expires, or "-" for one kept until deleted.
fn expires_cell(file: &FileEntry) -> String {
    match file.details.expires_at {
        Some(at) => format!(
            "in {}",
            format_remaining((at - Utc::now()).to_std().unwrap_or_default())
        ),
        None => "-".to_owned(),
    }
}

/// A file's name as the table shows it: with its version and how many are kept, for a file
/// shared more than once, and for a restricted file (one this participant shared) who else
/// may see it.
fn name_cell(file: &FileEntry) -> String {
    let mut cell = printable(&file.name);
    if let Some(count) = file.details.versions {
        cell.push_str(&format!(" (v{}, {} kept)", count.latest, count.kept));
    }
    match &file.details.only {
        None => {}
        Some(only) if only.is_empty() => cell.push_str(" (only the sharer)"),
        Some(only) => cell.push_str(&format!(" (only {})", printable(&only.to_string()))),
    }
    match file.details.direct {
        None => {}
        Some(true) => cell.push_str(" (direct from its sharer)"),
        Some(false) => cell.push_str(" (unavailable: its sharer is offline)"),
    }
    cell
}

/// `ls --json`'s word for a file shared directly: whether its sharer serves it now.
fn direct_state(available: bool) -> &'static str {
    if available {
        "available"
    } else {
        "unavailable"
    }
}

/// Replaces control characters so a name cannot break a table row or fake terminal output,
/// and removes those that draw nothing or reorder the text (U+202E turns `a\u{202e}txt.sh` into what
/// reads as `ahs.txt`), as the saved file's name has them removed too.
pub(super) fn printable(text: &str) -> String {
    visible_text(text)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// How many columns `lanshare ls` prints.
const COLUMNS: usize = 8;

/// The table `lanshare ls` prints.
pub(super) fn file_table(files: &[FileEntry]) -> String {
    let rows: Vec<[String; COLUMNS]> = files
        .iter()
        .map(|f| {
            let tags = f.details.tags.to_string();
            [
                f.id.to_string(),
                format_size(f.size),
                printable(&f.uploader),
                local_time(f.uploaded_at),
                f.details
                    .category
                    .map_or("-".to_owned(), |category| category.to_string()),
                expires_cell(f),
                if tags.is_empty() {
                    "-".to_owned()
                } else {
                    tags
                },
                name_cell(f),
            ]
        })
        .collect();
    let header = [
        "ID", "SIZE", "UPLOADER", "UPLOADED", "CATEGORY", "EXPIRES", "TAGS", "NAME",
    ];
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; COLUMNS]| {
        for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let padded = match index {
                // Numbers to the right; the name, last, unpadded.
                0 | 1 => format!("{cell:>width$}  "),
                _ if index == COLUMNS - 1 => (*cell).to_owned(),
                _ => format!("{cell:<width$}  "),
            };
            out.push_str(&padded);
        }
        out.push('\n');
    };
    line(header);
    for row in &rows {
        line(row.each_ref().map(String::as_str));
    }
    out
}

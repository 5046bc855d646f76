//! How the command line prints: the host's log lines, file tables and JSON.

use std::fmt;

use chrono::{DateTime, Local, SecondsFormat, Utc};
use serde_json::{Value, json};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use lanshare::participant::FileEntry;
use lanshare::protocol::visible_text;
use lanshare::units::format_size;

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
    })
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

/// The table `lanshare ls` prints.
pub(super) fn file_table(files: &[FileEntry]) -> String {
    let rows: Vec<[String; 5]> = files
        .iter()
        .map(|f| {
            [
                f.id.to_string(),
                format_size(f.size),
                printable(&f.uploader),
                local_time(f.uploaded_at),
                printable(&f.name),
            ]
        })
        .collect();
    let header = ["ID", "SIZE", "UPLOADER", "UPLOADED", "NAME"];
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; 5]| {
        let id = format!("{:>w$}", cells[0], w = widths[0]);
        let size = format!("{:>w$}", cells[1], w = widths[1]);
        let uploader = format!("{:<w$}", cells[2], w = widths[2]);
        let time = format!("{:<w$}", cells[3], w = widths[3]);
        out.push_str(&format!("{id}  {size}  {uploader}  {time}  {}\n", cells[4]));
    };
    line(header);
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4]]);
    }
    out
}

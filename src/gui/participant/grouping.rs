//! Grouping shares for desktop notifications: files one person shares close together make one
//! notification ("Alice shared 300 files"); a file shared alone gets its own ("Alice shared
//! report.pdf, 2.5 MB").
//!
//! A person's group closes once they have shared nothing for [`QUIET`] (or it has been open
//! for [`LONGEST`], so a long stream of files still says something now and then). Time is
//! passed in, so the grouping is tested without waiting.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::protocol::{ClientId, FileId};
use crate::units::format_size;

/// How long a person must share nothing before their group is announced.
pub const QUIET: Duration = Duration::from_millis(1500);
/// The longest a group stays open while files keep coming.
pub const LONGEST: Duration = Duration::from_secs(20);
/// File names listed in a group's notification before "and N more".
const NAMES_LISTED: usize = 3;

/// One desktop notification to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// Its first line: "Alice shared 300 files".
    pub summary: String,
    /// Its second line: some of the names, or how to get the file.
    pub body: String,
    /// The files it is about (for its action, which shows them).
    pub files: Vec<FileId>,
}

/// One person's files, shared close together.
#[derive(Debug)]
struct Open {
    uploader: String,
    opened: Instant,
    last: Instant,
    files: Vec<(FileId, String, u64)>,
}

impl Open {
    fn announcement(self) -> Announcement {
        let files: Vec<FileId> = self.files.iter().map(|(id, _, _)| *id).collect();
        if let [(_, name, size)] = self.files.as_slice() {
            return Announcement {
                summary: format!("{} shared {name}, {}", self.uploader, format_size(*size)),
                body: "Open lanshare to download it.".into(),
                files,
            };
        }
        let count = self.files.len();
        let bytes: u64 = self.files.iter().map(|(_, _, size)| size).sum();
        let names: Vec<&str> = self
            .files
            .iter()
            .take(NAMES_LISTED)
            .map(|(_, name, _)| name.as_str())
            .collect();
        let more = count.saturating_sub(NAMES_LISTED);
        let listed = if more > 0 {
            format!("{} and {more} more", names.join(", "))
        } else {
            names.join(", ")
        };
        Announcement {
            summary: format!("{} shared {count} files", self.uploader),
            body: format!("{listed} · {} in all", format_size(bytes)),
            files,
        }
    }
}

/// Files shared by others, gathered per person until their group is due.
#[derive(Debug, Default)]
pub struct ShareGroups {
    open: BTreeMap<ClientId, Open>,
}

impl ShareGroups {
    /// Notes a file `uploader` (whose id is `uploader_id`) shared at `now`.
    pub fn shared(
        &mut self,
        uploader_id: ClientId,
        uploader: &str,
        file: (FileId, &str, u64),
        now: Instant,
    ) {
        let open = self.open.entry(uploader_id).or_insert_with(|| Open {
            uploader: uploader.to_owned(),
            opened: now,
            last: now,
            files: Vec::new(),
        });
        open.last = now;
        open.files.push((file.0, file.1.to_owned(), file.2));
    }

    /// The groups due at `now`: closed by a quiet moment, or open too long.
    pub fn due(&mut self, now: Instant) -> Vec<Announcement> {
        let due: Vec<ClientId> = self
            .open
            .iter()
            .filter(|(_, open)| {
                now.saturating_duration_since(open.last) >= QUIET
                    || now.saturating_duration_since(open.opened) >= LONGEST
            })
            .map(|(id, _)| *id)
            .collect();
        due.into_iter()
            .filter_map(|id| self.open.remove(&id))
            .map(Open::announcement)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_alone_gets_its_own_notification_after_a_quiet_moment() {
        let start = Instant::now();
        let mut groups = ShareGroups::default();
        groups.shared(1, "Alice", (10, "report.pdf", 2_621_440), start);
        assert!(groups.due(start + QUIET / 2).is_empty());
        let due = groups.due(start + QUIET);
        assert_eq!(
            due,
            [Announcement {
                summary: "Alice shared report.pdf, 2.5 MB".into(),
                body: "Open lanshare to download it.".into(),
                files: vec![10],
            }]
        );
        assert!(groups.due(start + QUIET * 10).is_empty(), "announced once");
    }

    #[test]
    fn three_hundred_files_in_a_burst_make_one_notification_per_person() {
        let start = Instant::now();
        let mut groups = ShareGroups::default();
        for n in 0..300u64 {
            let at = start + Duration::from_millis(n * 10);
            groups.shared(1, "Alice", (n, &format!("photo-{n:03}.jpg"), 1024), at);
            if n % 100 == 0 {
                groups.shared(2, "Bob", (1000 + n, "notes.txt", 6), at);
                assert!(groups.due(at).is_empty(), "nothing while files keep coming");
            }
        }
        let due = groups.due(start + Duration::from_secs(5));
        let summaries: Vec<&str> = due.iter().map(|a| a.summary.as_str()).collect();
        assert_eq!(summaries, ["Alice shared 300 files", "Bob shared 3 files"]);
        assert_eq!(
            due[0].body,
            "photo-000.jpg, photo-001.jpg, photo-002.jpg and 297 more · 300 KB in all"
        );
        assert_eq!(due[0].files.len(), 300);
    }

    #[test]
    fn a_stream_that_never_pauses_is_still_announced_now_and_then() {
        let start = Instant::now();
        let mut groups = ShareGroups::default();
        let mut announced = 0;
        for n in 0..500u64 {
            let at = start + Duration::from_millis(n * 100);
            groups.shared(1, "Alice", (n, "x", 1), at);
            announced += groups.due(at).len();
        }
        // 50 s of files, one every 0.1 s: a notification every 20 s.
        assert_eq!(announced, 2);
    }
}

//! The shared library's choices on the participant screen: how long new uploads are kept (the
//! picker beside the sort choices), who may see them (the "Share with" chips of the people
//! online), the category and tag chips that narrow the list, and how a file's expiry and its
//! restriction read ("expires in 3 h", "only Bob, Carol").

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};

use crate::participant::FileEntry;
use crate::protocol::{Audience, Category, ClientId, Expiry};
use crate::units::format_remaining;

/// How long files shared from this screen are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Keep {
    /// As the host decides.
    #[default]
    HostDefault,
    /// One hour.
    Hour,
    /// One day.
    Day,
    /// One week.
    Week,
    /// Until deleted (a host's maximum still applies).
    Never,
}

impl Keep {
    /// Every choice, in the picker's order.
    pub const ALL: [Self; 5] = [
        Self::HostDefault,
        Self::Hour,
        Self::Day,
        Self::Week,
        Self::Never,
    ];

    /// What the host is asked for.
    pub fn expiry(self) -> Expiry {
        match self {
            Self::HostDefault => Expiry::HostDefault,
            Self::Hour => Expiry::After(3600),
            Self::Day => Expiry::After(86_400),
            Self::Week => Expiry::After(7 * 86_400),
            Self::Never => Expiry::Never,
        }
    }
}

impl fmt::Display for Keep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::HostDefault => "Expiry: host's default",
            Self::Hour => "Expire after 1 hour",
            Self::Day => "Expire after 1 day",
            Self::Week => "Expire after 1 week",
            Self::Never => "Never expire",
        })
    }
}

/// Who files shared from this screen are for: everyone, or the people picked among those
/// online (the host resolves their names to who they are when a file is shared).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShareWith {
    picked: BTreeSet<ClientId>,
    /// Whether its chips are on show.
    open: bool,
}

impl ShareWith {
    /// Shows its chips, or hides them.
    pub fn toggle_open(&mut self) {
        self.open = !self.open;
    }

    /// Whether its chips are on show.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// How many people are picked.
    pub fn picked(&self) -> usize {
        self.picked.len()
    }

    /// Picks `peer`, or unpicks it if it was picked.
    pub fn toggle(&mut self, peer: ClientId) {
        if !self.picked.remove(&peer) {
            self.picked.insert(peer);
        }
    }

    /// Everyone again.
    pub fn everyone(&mut self) {
        self.picked.clear();
    }

    /// Whether `peer` is picked.
    pub fn has(&self, peer: ClientId) -> bool {
        self.picked.contains(&peer)
    }

    /// Whether files go to everyone.
    pub fn is_everyone(&self) -> bool {
        self.picked.is_empty()
    }

    /// What the host is asked: `None` for everyone, else the names of the people picked who
    /// are still among `peers` (online). Someone picked who left is not replaced by everyone:
    /// if all of them left, the file is for its sharer alone.
    pub fn audience(&self, peers: &BTreeMap<ClientId, String>) -> Option<Audience> {
        if self.picked.is_empty() {
            return None;
        }
        let names = self
            .picked
            .iter()
            .filter_map(|peer| peers.get(peer).cloned())
            .collect();
        Some(Audience::new(names).unwrap_or_default())
    }
}

/// "only Bob, Carol" for a restricted file its sharer (or the operator) sees; nothing for one
/// everyone may see.
pub fn restriction_words(file: &FileEntry) -> Option<String> {
    let only = file.details.only.as_ref()?;
    Some(if only.is_empty() {
        "only the sharer".to_owned()
    } else {
        format!("only {only}")
    })
}

/// The chips picked: a category, a tag, both or neither.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chips {
    /// Only files of this category.
    pub category: Option<Category>,
    /// Only files with this tag.
    pub tag: Option<String>,
}

impl Chips {
    /// Whether `file` passes the chips picked.
    pub fn passes(&self, file: &FileEntry) -> bool {
        let category = self
            .category
            .is_none_or(|category| file.details.category == Some(category));
        let tag = self
            .tag
            .as_ref()
            .is_none_or(|tag| file.details.tags.contains(tag));
        category && tag
    }

    /// Picks `category`, or unpicks it if it was picked (`None`: every category).
    pub fn pick_category(&mut self, category: Option<Category>) {
        self.category = if self.category == category {
            None
        } else {
            category
        };
    }

    /// Picks `tag`, or unpicks it if it was picked.
    pub fn pick_tag(&mut self, tag: String) {
        self.tag = if self.tag.as_ref() == Some(&tag) {
            None
        } else {
            Some(tag)
        };
    }

    /// Whether any chip is picked.
    pub fn any(&self) -> bool {
        self.category.is_some() || self.tag.is_some()
    }
}

/// The categories and tags the files have, for their chips (categories in their usual
/// order, tags alphabetically).
pub fn present<'a>(files: impl Iterator<Item = &'a FileEntry>) -> (Vec<Category>, Vec<String>) {
    let mut categories = BTreeSet::new();
    let mut tags = BTreeSet::new();
    for file in files {
        categories.extend(file.details.category);
        tags.extend(file.details.tags.as_slice().iter().cloned());
    }
    (categories.into_iter().collect(), tags.into_iter().collect())
}

/// "expires in 3 h" for a file that expires, as of `now`.
pub fn expiry_words(file: &FileEntry, now: DateTime<Utc>) -> Option<String> {
    let at = file.details.expires_at?;
    let left = (at - now).to_std().unwrap_or_default();
    Some(if left.is_zero() {
        "expiring now".to_owned()
    } else {
        format!("expires in {}", format_remaining(left))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::participant::FileDetails;
    use crate::protocol::{Sha256Digest, Tags};

    fn file(category: Category, tags: &str, expires_in_secs: Option<i64>) -> FileEntry {
        let now = Utc::now();
        FileEntry {
            id: 1,
            name: "a".into(),
            size: 1,
            uploader: "Ann".into(),
            uploader_id: 1,
            uploaded_at: now,
            sha256: Sha256Digest([0; 32]),
            check: None,
            details: FileDetails {
                category: Some(category),
                tags: Tags::parse(tags).unwrap_or_default(),
                expires_at: expires_in_secs.map(|secs| now + chrono::Duration::seconds(secs)),
                ..FileDetails::default()
            },
        }
    }

    #[test]
    fn chips_narrow_by_category_and_tag_and_unpick_on_a_second_click() {
        let slides = file(Category::Documents, "slides,week3", None);
        let photo = file(Category::Images, "week3", None);
        let mut chips = Chips::default();
        assert!(chips.passes(&slides) && chips.passes(&photo));
        chips.pick_category(Some(Category::Images));
        assert!(!chips.passes(&slides) && chips.passes(&photo));
        chips.pick_tag("slides".into());
        assert!(!chips.passes(&slides) && !chips.passes(&photo));
        chips.pick_category(Some(Category::Images));
        assert!(chips.passes(&slides) && !chips.passes(&photo));
        chips.pick_tag("slides".into());
        assert!(!chips.any());
        let (categories, tags) = present([&slides, &photo].into_iter());
        assert_eq!(categories, [Category::Documents, Category::Images]);
        assert_eq!(tags, ["slides", "week3"]);
    }

    #[test]
    fn share_with_names_the_people_picked_who_are_still_online() {
        let peers: BTreeMap<ClientId, String> =
            [(2, "Bob".to_owned()), (3, "Carol".to_owned())].into();
        let mut share_with = ShareWith::default();
        assert_eq!(share_with.audience(&peers), None);
        share_with.toggle(3);
        share_with.toggle(2);
        let names = share_with.audience(&peers).unwrap_or_default();
        assert_eq!(names.names(), ["Bob", "Carol"]);
        share_with.toggle(2);
        share_with.toggle(3);
        assert!(share_with.is_everyone());
        // Bob picked, then gone: the file is for its sharer alone, not for everyone.
        share_with.toggle(2);
        let gone = share_with.audience(&BTreeMap::new());
        assert!(gone.is_some_and(|names| names.is_empty()));
        let mut restricted = file(Category::Other, "", None);
        assert_eq!(restriction_words(&restricted), None);
        restricted.details.only = Audience::new(vec!["Bob".into(), "Carol".into()]).ok();
        assert_eq!(
            restriction_words(&restricted).as_deref(),
            Some("only Bob, Carol")
        );
    }

    #[test]
    fn expiry_reads_in_whole_units() {
        let now = Utc::now();
        let later = file(Category::Other, "", Some(3 * 3600 + 30));
        assert_eq!(expiry_words(&later, now).as_deref(), Some("expires in 3 h"));
        let gone = file(Category::Other, "", Some(-5));
        assert_eq!(expiry_words(&gone, now).as_deref(), Some("expiring now"));
        assert_eq!(expiry_words(&file(Category::Other, "", None), now), None);
    }
}

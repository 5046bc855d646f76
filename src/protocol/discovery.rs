//! The datagrams of discovery (UDP): one line of text each, with no newline.
//!
//! ```text
//! LANSHARE:1:QUERY
//! LANSHARE:1:ANNOUNCE:<host_id>:<tcp_port>:<participants>:<files>:<name>:<fingerprint>
//! LANSHARE:1:BYE:<host_id>
//! ```
//!
//! Only parsing and encoding live here; the sockets and threads are in `crate::discovery`.

use super::escape::{escape, unescape};
use super::fingerprint::Fingerprint;

/// What every discovery datagram begins with: the protocol's name and version.
const PREFIX: &str = "LANSHARE:1:";
/// Longest host id, in hex digits.
const MAX_HOST_ID_DIGITS: usize = 32;
/// Longest announced host name, in characters.
const MAX_HOST_NAME_CHARS: usize = 128;

/// One discovery datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryDatagram {
    /// `QUERY`: "Which hosts are there?"
    Query,
    /// `ANNOUNCE`: "A host is here."
    Announce(Announcement),
    /// `BYE`: "This host is stopping."
    Bye {
        /// The stopping host's id.
        host_id: String,
    },
}

/// What a host says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// Random id of this host process (tells apart hosts on one machine).
    pub host_id: String,
    /// The TCP port participants connect to.
    pub port: u16,
    /// Participants online.
    pub participants: usize,
    /// Files shared.
    pub files: usize,
    /// The host's display name.
    pub name: String,
    /// The fingerprint of the host's TLS certificate (`None` from a host too old to say).
    pub fingerprint: Option<Fingerprint>,
}

impl DiscoveryDatagram {
    /// The datagram's bytes.
    pub fn encode(&self) -> String {
        match self {
            Self::Query => format!("{PREFIX}QUERY"),
            Self::Announce(a) => {
                let fingerprint = a.fingerprint.map(|f| format!(":{f}")).unwrap_or_default();
                format!(
                    "{PREFIX}ANNOUNCE:{}:{}:{}:{}:{}{fingerprint}",
                    a.host_id,
                    a.port,
                    a.participants,
                    a.files,
                    escape(&a.name)
                )
            }
            Self::Bye { host_id } => format!("{PREFIX}BYE:{host_id}"),
        }
    }

    /// Parses a datagram; anything else on the port is ignored (`None`).
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(bytes).ok()?.trim_end();
        let rest = text.strip_prefix(PREFIX)?;
        let mut fields = rest.split(':');
        match fields.next()? {
            "QUERY" => Some(Self::Query),
            "BYE" => Some(Self::Bye {
                host_id: valid_host_id(fields.next()?)?,
            }),
            "ANNOUNCE" => parse_announcement(fields).map(Self::Announce),
            _ => None,
        }
    }
}

/// The fields of an `ANNOUNCE` after its command word, if they are all there and valid.
fn parse_announcement<'a>(mut fields: impl Iterator<Item = &'a str>) -> Option<Announcement> {
    let host_id = valid_host_id(fields.next()?)?;
    let port = fields.next()?.parse().ok()?;
    let participants = fields.next()?.parse().ok()?;
    let files = fields.next()?.parse().ok()?;
    let name = unescape(fields.next()?.as_bytes()).ok()?;
    let fingerprint = match fields.next() {
        Some(text) => Some(text.parse().ok()?),
        None => None,
    };
    if fields.next().is_some() || name.chars().count() > MAX_HOST_NAME_CHARS {
        return None;
    }
    Some(Announcement {
        host_id,
        port,
        participants,
        files,
        name,
        fingerprint,
    })
}

/// `text` as a host id if it is one: 1 to [`MAX_HOST_ID_DIGITS`] hex digits.
fn valid_host_id(text: &str) -> Option<String> {
    (!text.is_empty()
        && text.len() <= MAX_HOST_ID_DIGITS
        && text.bytes().all(|b| b.is_ascii_hexdigit()))
    .then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announcement(name: &str) -> Announcement {
        Announcement {
            host_id: "0123456789abcdef".into(),
            port: 5005,
            participants: 3,
            files: 12,
            name: name.into(),
            fingerprint: Some(Fingerprint([0xab; 32])),
        }
    }

    #[test]
    fn datagrams_round_trip_and_garbage_is_ignored() {
        for datagram in [
            DiscoveryDatagram::Query,
            DiscoveryDatagram::Announce(announcement("Hana's: laptop")),
            DiscoveryDatagram::Bye {
                host_id: "ab".into(),
            },
        ] {
            assert_eq!(
                DiscoveryDatagram::parse(datagram.encode().as_bytes()),
                Some(datagram)
            );
        }
        for junk in [
            &b""[..],
            b"hello",
            b"LANSHARE:2:QUERY",
            b"LANSHARE:1:ANNOUNCE:zz:1:1:1:x",
            b"LANSHARE:1:ANNOUNCE:ab:99999:1:1:x",
            b"LANSHARE:1:ANNOUNCE:ab:1:1:1:x:extra",
            b"\xff\xfe",
        ] {
            assert_eq!(DiscoveryDatagram::parse(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn the_bytes_are_those_of_protocol_md() {
        assert_eq!(DiscoveryDatagram::Query.encode(), "LANSHARE:1:QUERY");
        assert_eq!(
            DiscoveryDatagram::Announce(announcement("Hana's: laptop")).encode(),
            format!(
                "LANSHARE:1:ANNOUNCE:0123456789abcdef:5005:3:12:Hana's%3A laptop:{}",
                "ab".repeat(32)
            )
        );
        // A host too old to announce its fingerprint is still found.
        let old = DiscoveryDatagram::parse(b"LANSHARE:1:ANNOUNCE:ab:5005:3:12:Old");
        assert!(matches!(old, Some(DiscoveryDatagram::Announce(a)) if a.fingerprint.is_none()));
        assert_eq!(
            DiscoveryDatagram::Bye {
                host_id: "0123456789abcdef".into()
            }
            .encode(),
            "LANSHARE:1:BYE:0123456789abcdef"
        );
        // A trailing newline (or `\r\n`) is tolerated on reading.
        assert_eq!(
            DiscoveryDatagram::parse(b"LANSHARE:1:QUERY\r\n"),
            Some(DiscoveryDatagram::Query)
        );
    }

    #[test]
    fn host_ids_and_names_are_bounded() {
        let id_of = |digits: usize| format!("LANSHARE:1:BYE:{}", "a".repeat(digits));
        assert!(DiscoveryDatagram::parse(id_of(MAX_HOST_ID_DIGITS).as_bytes()).is_some());
        assert_eq!(
            DiscoveryDatagram::parse(id_of(MAX_HOST_ID_DIGITS + 1).as_bytes()),
            None
        );
        assert_eq!(DiscoveryDatagram::parse(b"LANSHARE:1:BYE:"), None);
        let named = |chars: usize| {
            DiscoveryDatagram::Announce(announcement(&"é".repeat(chars)))
                .encode()
                .into_bytes()
        };
        assert!(DiscoveryDatagram::parse(&named(MAX_HOST_NAME_CHARS)).is_some());
        assert_eq!(
            DiscoveryDatagram::parse(&named(MAX_HOST_NAME_CHARS + 1)),
            None
        );
    }
}

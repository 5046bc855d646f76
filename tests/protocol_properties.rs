//! Property tests: every name and every message survives encode → parse unchanged, and every
//! file name survives a real host.

mod common;

use std::sync::OnceLock;

use lanshare::host::Host;
use lanshare::protocol::{
    Audience, Category, ClientLine, CommentInfo, Expiry, Features, FileInfo, HostLine,
    MAX_EXPIRY_SECS, MAX_FILENAME_BYTES, MAX_PREVIEW_BYTES, Passcode, PreviewKind, Role,
    Sha256Digest, ShareOptions, Tags, Ticket, TransferCheck, UploadRequest, VersionInfo, escape,
    unescape,
};
use proptest::prelude::*;

/// Any number of bytes, as an array.
fn bytes<const N: usize>() -> impl Strategy<Value = [u8; N]> {
    proptest::collection::vec(any::<u8>(), N).prop_map(|bytes| {
        let mut array = [0u8; N];
        array.copy_from_slice(&bytes);
        array
    })
}

/// Text without control characters: what `ERROR` and `DELETE_FAILED` carry unchanged.
fn plain_text() -> impl Strategy<Value = String> {
    any::<String>().prop_map(|text| text.chars().filter(|c| !c.is_control()).collect())
}

/// Passcodes a person may set: 1 to 128 characters, no control characters.
fn passcode() -> impl Strategy<Value = Passcode> {
    plain_text().prop_filter_map("not a valid passcode", |text| {
        let text: String = text.chars().take(128).collect();
        Passcode::new(if text.is_empty() {
            "x".to_owned()
        } else {
            text
        })
        .ok()
    })
}

/// Any valid tags: up to 8, of letters (some not ASCII), digits, `-`, `_` and `.`.
fn tags() -> impl Strategy<Value = Tags> {
    proptest::collection::vec("[a-zé0-9._-]{1,32}", 0..=8)
        .prop_filter_map("not valid tags", |tags| Tags::parse(&tags.join(",")).ok())
}

/// Any list of names a file may be restricted to (commas and `%` in names included).
fn audience() -> impl Strategy<Value = Audience> {
    proptest::collection::vec(any::<String>(), 0..=5)
        .prop_filter_map("a blank name", |names| Audience::new(names).ok())
}

/// Any expiry a sharer may ask for.
fn expiry() -> impl Strategy<Value = Expiry> {
    prop_oneof![
        Just(Expiry::HostDefault),
        Just(Expiry::Never),
        (1..=MAX_EXPIRY_SECS).prop_map(Expiry::After),
    ]
}

/// Every kind of client line, with any values.
fn client_line() -> impl Strategy<Value = ClientLine> {
    prop_oneof![
        (any::<u64>(), any::<String>(), any::<String>(), any::<u64>()).prop_map(
            |(client_id, username, filename, size)| ClientLine::Upload(UploadRequest {
                client_id,
                username,
                filename,
                size,
            })
        ),
        (any::<u64>(), any::<u64>())
            .prop_map(|(file_id, offset)| ClientLine::Download { file_id, offset }),
        Just(ClientLine::Ready),
        (any::<u64>(), bytes::<16>()).prop_map(|(client_id, ticket)| ClientLine::Auth {
            client_id,
            ticket: Ticket(ticket),
        }),
        Just(ClientLine::List),
        (any::<u32>(), any::<String>(), bytes::<32>()).prop_map(
            |(version, username, public_key)| ClientLine::Join {
                version,
                username,
                public_key: lanshare::protocol::PublicKey(public_key),
            }
        ),
        bytes::<64>().prop_map(|signature| ClientLine::Proof { signature }),
        any::<u64>().prop_map(|file_id| ClientLine::Delete { file_id }),
        Just(ClientLine::Ping),
        passcode().prop_map(|passcode| ClientLine::Pass { passcode }),
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(
                |(file_info, access, versions, comments, previews, direct)| {
                    ClientLine::Features(Features {
                        file_info,
                        access,
                        versions,
                        comments,
                        previews,
                        direct,
                    })
                }
            ),
        any::<u64>().prop_map(|file_id| ClientLine::Preview { file_id }),
        (any::<u64>(), any::<String>())
            .prop_map(|(file_id, text)| ClientLine::Comment { file_id, text }),
        (any::<u64>(), any::<u64>()).prop_map(|(file_id, comment_id)| {
            ClientLine::DeleteComment {
                file_id,
                comment_id,
            }
        }),
        (any::<u64>(), any::<u64>(), any::<u32>()).prop_map(|(file_id, offset, version)| {
            ClientLine::DownloadVersion {
                file_id,
                offset,
                version,
            }
        }),
        any::<u64>().prop_map(|file_id| ClientLine::Versions { file_id }),
        Just(ClientLine::NewFile),
        (
            expiry(),
            tags(),
            proptest::option::of(audience()),
            proptest::option::of(any::<u64>())
        )
            .prop_map(|(expiry, tags, only, version_of)| {
                ClientLine::UploadOptions(ShareOptions {
                    expiry,
                    tags,
                    only,
                    version_of,
                })
            }),
        (any::<u64>(), proptest::option::of(audience()))
            .prop_map(|(file_id, only)| ClientLine::SetAccess { file_id, only }),
    ]
}

/// Every kind of host line, with any values (free text without control characters).
fn host_line() -> impl Strategy<Value = HostLine> {
    let digest = || bytes::<32>().prop_map(Sha256Digest);
    prop_oneof![
        Just(HostLine::Ready),
        plain_text().prop_map(HostLine::Error),
        (any::<String>(), any::<u64>()).prop_map(|(name, size)| HostLine::File { name, size }),
        (any::<u64>(), digest(), bytes::<16>()).prop_map(|(file_id, sha256, check)| {
            HostLine::Stored {
                file_id,
                sha256,
                check: TransferCheck(check),
            }
        }),
        bytes::<32>().prop_map(|nonce| HostLine::Challenge { nonce }),
        (any::<u64>(), bytes::<16>(), any::<bool>()).prop_map(|(client_id, ticket, operator)| {
            HostLine::Welcome {
                client_id,
                ticket: Ticket(ticket),
                role: if operator {
                    Role::Operator
                } else {
                    Role::Participant
                },
            }
        }),
        (
            any::<u64>(),
            any::<String>(),
            any::<u64>(),
            any::<String>(),
            any::<u64>()
        )
            .prop_map(|(file_id, name, size, uploader_name, uploader_id)| {
                HostLine::FileOffer {
                    file_id,
                    name,
                    size,
                    uploader_name,
                    uploader_id,
                }
            }),
        (
            any::<u64>(),
            any::<i64>(),
            digest(),
            proptest::option::of(bytes::<16>())
        )
            .prop_map(|(file_id, uploaded_at_ms, sha256, check)| {
                HostLine::FileMeta {
                    file_id,
                    uploaded_at_ms,
                    sha256,
                    check: check.map(TransferCheck),
                }
            }),
        any::<u64>().prop_map(|file_id| HostLine::FileDeleted { file_id }),
        (any::<u64>(), any::<String>()).prop_map(|(client_id, username)| {
            HostLine::PeerJoined {
                client_id,
                username,
            }
        }),
        any::<u64>().prop_map(|client_id| HostLine::PeerLeft { client_id }),
        (any::<u64>(), plain_text())
            .prop_map(|(file_id, reason)| HostLine::DeleteFailed { file_id, reason }),
        Just(HostLine::End),
        Just(HostLine::Pong),
        (
            any::<u64>(),
            proptest::sample::select(Category::ALL.to_vec()),
            proptest::option::of(any::<u64>()),
            tags()
        )
            .prop_map(|(file_id, category, expires_in_ms, tags)| {
                HostLine::FileInfo(FileInfo {
                    file_id,
                    category,
                    expires_in_ms,
                    tags,
                })
            }),
        (any::<u64>(), audience())
            .prop_map(|(file_id, only)| HostLine::FileAccess { file_id, only }),
        (any::<u64>(), plain_text())
            .prop_map(|(file_id, reason)| HostLine::AccessFailed { file_id, reason }),
        (
            (any::<u64>(), any::<u64>(), any::<u64>()),
            any::<String>(),
            any::<i64>(),
            any::<String>()
        )
            .prop_map(
                |((file_id, comment_id, author_id), author_name, at_ms, text)| {
                    HostLine::CommentAdded(CommentInfo {
                        file_id,
                        comment_id,
                        author_id,
                        author_name,
                        at_ms,
                        text,
                    })
                }
            ),
        (any::<u64>(), any::<u64>()).prop_map(|(file_id, comment_id)| {
            HostLine::CommentDeleted {
                file_id,
                comment_id,
            }
        }),
        (any::<u64>(), plain_text())
            .prop_map(|(file_id, reason)| HostLine::CommentFailed { file_id, reason }),
        (any::<u64>(), any::<bool>(), 0..=MAX_PREVIEW_BYTES).prop_map(|(file_id, png, size)| {
            let kind = if png {
                PreviewKind::Png
            } else {
                PreviewKind::Text
            };
            HostLine::FilePreview {
                file_id,
                kind,
                size,
            }
        }),
        (any::<u64>(), any::<bool>(), 0..=MAX_PREVIEW_BYTES).prop_map(|(file_id, png, size)| {
            let kind = if png {
                PreviewKind::Png
            } else {
                PreviewKind::Text
            };
            HostLine::PreviewData {
                file_id,
                kind,
                size,
            }
        }),
        (any::<u64>(), any::<u32>(), any::<u32>()).prop_map(|(file_id, latest, kept)| {
            HostLine::FileVersions {
                file_id,
                latest,
                kept,
            }
        }),
        (
            (any::<u64>(), any::<u32>(), any::<u64>(), any::<i64>()),
            digest(),
            bytes::<16>()
        )
            .prop_map(|((file_id, number, size, uploaded_at_ms), sha256, check)| {
                HostLine::Version(VersionInfo {
                    file_id,
                    number,
                    size,
                    uploaded_at_ms,
                    sha256,
                    check: TransferCheck(check),
                })
            }),
    ]
}

/// One line ending in `\n`, with no other line break in it.
fn is_one_line(encoded: &str) -> bool {
    encoded.ends_with('\n') && encoded.matches('\n').count() == 1 && !encoded.contains('\r')
}

/// A host shared by the cases of the file-name property.
fn shared_host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| match common::start(common::config()) {
        Ok(host) => host,
        Err(error) => panic!("host did not start: {error:#}"),
    })
}

proptest! {
    #[test]
    fn any_text_round_trips_through_escaping(text in any::<String>()) {
        let escaped = escape(&text);
        prop_assert!(!escaped.contains(':') && !escaped.contains('\n') && !escaped.contains('\r'));
        prop_assert_eq!(unescape(escaped.as_bytes()), Ok(text));
    }

    #[test]
    fn names_without_special_bytes_are_sent_as_is(text in "[^%:\\x00-\\x1f\\x7f]*") {
        prop_assert_eq!(escape(&text), text);
    }

    #[test]
    fn every_client_line_round_trips(line in client_line()) {
        let encoded = line.encode();
        prop_assert!(is_one_line(&encoded), "{:?}", encoded);
        prop_assert_eq!(ClientLine::parse(encoded.as_bytes()), Ok(line));
    }

    #[test]
    fn every_host_line_round_trips(line in host_line()) {
        let encoded = line.encode();
        prop_assert!(is_one_line(&encoded), "{:?}", encoded);
        prop_assert_eq!(HostLine::parse(encoded.as_bytes()), Ok(line));
    }

    #[test]
    fn free_text_loses_only_its_control_characters(text in any::<String>(), file_id in any::<u64>()) {
        let plain: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let error = HostLine::Error(text.clone()).encode();
        prop_assert!(is_one_line(&error));
        prop_assert_eq!(HostLine::parse(error.as_bytes()), Ok(HostLine::Error(plain.clone())));
        let failed = HostLine::DeleteFailed { file_id, reason: text }.encode();
        prop_assert!(is_one_line(&failed));
        prop_assert_eq!(
            HostLine::parse(failed.as_bytes()),
            Ok(HostLine::DeleteFailed { file_id, reason: plain })
        );
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = ClientLine::parse(&bytes);
        let _ = HostLine::parse(&bytes);
    }

    #[test]
    fn ids_and_sizes_that_do_not_fit_are_refused(extra in 1u128..=u128::from(u64::MAX)) {
        let too_big = u128::from(u64::MAX) + extra;
        let download = format!("DOWNLOAD:{too_big}\n");
        prop_assert!(ClientLine::parse(download.as_bytes()).is_err());
        let upload = format!("UPLOAD:1:a:b:{too_big}\n");
        prop_assert!(ClientLine::parse(upload.as_bytes()).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any file name a host accepts comes back exactly: in the listing and in `FILE:`.
    #[test]
    fn every_file_name_survives_a_real_host(name in any::<String>()
        .prop_filter("the host refuses empty and over-long names",
            |name| !name.is_empty() && name.len() <= MAX_FILENAME_BYTES)) {
        let host = shared_host();
        let addr = host.local_addr();
        let content = name.as_bytes().to_vec();
        let line = ClientLine::Upload(UploadRequest {
            client_id: 1,
            username: "Props".into(),
            filename: name.clone(),
            size: content.len() as u64,
        })
        .encode();
        let mut raw = common::Raw::connect(addr).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let stored = (|| -> anyhow::Result<u64> {
            raw.send(line.as_bytes())?;
            anyhow::ensure!(raw.line()? == "READY");
            raw.send(&content)?;
            let stored = raw.line()?;
            let Ok(HostLine::Stored { file_id, .. }) = HostLine::parse(stored.as_bytes()) else {
                anyhow::bail!("expected STORED, got {stored}");
            };
            Ok(file_id)
        })();
        let id = stored.map_err(|e| TestCaseError::fail(e.to_string()))?;
        let listed = lanshare::participant::TransferConnection::connect(addr)
            .and_then(|mut connection| connection.list())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(listed.iter().any(|file| file.id == id && file.name == name));
        let mut connection = lanshare::participant::TransferConnection::connect(addr)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut received = Vec::new();
        let downloaded = connection
            .download(id, &mut received, &mut |_| {}, &std::sync::atomic::AtomicBool::new(false))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(downloaded.name, name);
        prop_assert_eq!(received, content);
    }
}

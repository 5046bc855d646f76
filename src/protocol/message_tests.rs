//! Tests of the protocol lines' parsers and encoders.

use super::*;

fn upload(line: &str) -> Result<UploadRequest, ProtocolError> {
    match ClientLine::parse(line.as_bytes())? {
        ClientLine::Upload(upload) => Ok(upload),
        other => panic!("not an upload: {other:?}"),
    }
}

#[test]
fn seed_upload_line_parses_exactly() {
    let parsed = upload("UPLOAD:3:Alice:report.pdf:2621440\n");
    assert_eq!(
        parsed,
        Ok(UploadRequest {
            client_id: 3,
            username: "Alice".into(),
            filename: "report.pdf".into(),
            size: 2_621_440,
        })
    );
}

#[test]
fn seed_encoding_of_plain_names_is_byte_identical() {
    let line = ClientLine::Upload(UploadRequest {
        client_id: 3,
        username: "Alice".into(),
        filename: "report.pdf".into(),
        size: 2_621_440,
    });
    assert_eq!(line.encode(), "UPLOAD:3:Alice:report.pdf:2621440\n");
    let offer = HostLine::FileOffer {
        file_id: 15,
        name: "report.pdf".into(),
        size: 2_621_440,
        uploader_name: "Alice".into(),
        uploader_id: 3,
    };
    assert_eq!(offer.encode(), "FILE_OFFER:15:report.pdf:2621440:Alice:3\n");
    assert_eq!(
        HostLine::File {
            name: "report.pdf".into(),
            size: 2_621_440
        }
        .encode(),
        "FILE:report.pdf:2621440\n"
    );
    assert_eq!(
        HostLine::FileDeleted { file_id: 15 }.encode(),
        "FILE_DELETED:15\n"
    );
    assert_eq!(
        HostLine::Error("File not found".into()).encode(),
        "ERROR:File not found\n"
    );
}

#[test]
fn unescaped_colons_from_seed_clients_stay_in_the_name() {
    let parsed = upload("UPLOAD:1:bob:notes: part 2.txt:10");
    assert_eq!(
        parsed.map(|u| u.filename),
        Ok("notes: part 2.txt".to_owned())
    );
}

#[test]
fn escaped_names_round_trip() {
    let request = UploadRequest {
        client_id: 9,
        username: "a:b%c".into(),
        filename: "x:\n%😀.txt".into(),
        size: 1,
    };
    let line = ClientLine::Upload(request.clone()).encode();
    assert_eq!(line.matches('\n').count(), 1);
    assert_eq!(
        ClientLine::parse(line.as_bytes()),
        Ok(ClientLine::Upload(request))
    );
}

#[test]
fn short_upload_gets_the_seed_error() {
    assert_eq!(upload("UPLOAD:1:bob"), Err(ProtocolError::InvalidUpload));
    assert_eq!(
        upload("UPLOAD:1:bob:file"),
        Err(ProtocolError::InvalidUpload)
    );
    assert_eq!(
        ProtocolError::InvalidUpload.to_string(),
        "Invalid upload command"
    );
}

#[test]
fn bad_sizes_are_refused() {
    for size in ["-5", "abc", "", "18446744073709551616", " 5", "5 "] {
        let result = upload(&format!("UPLOAD:1:bob:f:{size}"));
        assert!(
            matches!(result, Err(ProtocolError::BadNumber { .. })),
            "{size:?} gave {result:?}"
        );
    }
    assert_eq!(
        upload("UPLOAD:1:bob:f:18446744073709551615").map(|u| u.size),
        Ok(u64::MAX)
    );
}

#[test]
fn unknown_and_empty_commands_are_refused() {
    assert_eq!(ClientLine::parse(b"\n"), Err(ProtocolError::Empty));
    assert!(matches!(
        ClientLine::parse(b"HELLO:there"),
        Err(ProtocolError::UnknownCommand(word)) if word == "HELLO"
    ));
    assert!(matches!(
        ClientLine::parse(b"READY:extra"),
        Err(ProtocolError::UnknownCommand(_))
    ));
    // A third field is the version (lanshare); a fourth is one too many.
    assert!(matches!(
        ClientLine::parse(b"DOWNLOAD:1:2:3:4"),
        Err(ProtocolError::BadValue { .. })
    ));
}

#[test]
fn every_client_line_round_trips() {
    let lines = [
        ClientLine::Download {
            file_id: 7,
            offset: 0,
        },
        ClientLine::Download {
            file_id: 7,
            offset: 1_048_576,
        },
        ClientLine::UploadResume {
            key: ResumeKey([0x5a; 32]),
            request: UploadRequest {
                client_id: 4,
                username: "Zoë".into(),
                filename: "a:b%.bin".into(),
                size: 99,
            },
        },
        ClientLine::Ready,
        ClientLine::Auth {
            client_id: 4,
            ticket: Ticket([0xab; 16]),
        },
        ClientLine::List,
        ClientLine::Join {
            version: 1,
            username: "Zoë: the 2nd".into(),
            public_key: PublicKey([7; 32]),
        },
        ClientLine::Proof { signature: [9; 64] },
        ClientLine::Delete { file_id: 12 },
        ClientLine::Ping,
        ClientLine::Grant {
            grant: Grant {
                file_id: 31,
                downloader: PublicKey([3; 32]),
                expires_at_ms: 1_800_000_000_000,
                signature: [0xc4; 64],
            },
            proof: [0x2e; 64],
        },
        ClientLine::DirectShare(DirectShare {
            name: "big: 50 GB.iso".into(),
            size: 50_000_000_000,
            sha256: Sha256Digest([0x11; 32]),
            check: TransferCheck([0x22; 16]),
            port: 40_123,
            sharer: Fingerprint([0x33; 32]),
            only: None,
        }),
        ClientLine::DirectShare(DirectShare {
            name: "for two.iso".into(),
            size: 7,
            sha256: Sha256Digest([0x11; 32]),
            check: TransferCheck([0x22; 16]),
            port: 1,
            sharer: Fingerprint([0x33; 32]),
            only: Some(Audience::parse_list("Bob, Zoë").unwrap_or_else(|e| panic!("{e}"))),
        }),
        ClientLine::Direct { file_id: 9 },
        ClientLine::Relay { file_id: 9 },
        ClientLine::RelaySend {
            token: RelayToken([0xa5; 16]),
        },
        ClientLine::Features(Features {
            previews: true,
            direct: true,
            ..Features::default()
        }),
        ClientLine::Pass {
            passcode: Passcode::new("50%: open sesame").unwrap_or_else(|e| panic!("{e}")),
        },
    ];
    for line in lines {
        assert_eq!(ClientLine::parse(line.encode().as_bytes()), Ok(line));
    }
}

#[test]
fn every_host_line_round_trips() {
    let lines = [
        HostLine::Ready,
        HostLine::Error("Host is busy: try again".into()),
        HostLine::File {
            name: "a:b.txt".into(),
            size: 5,
        },
        HostLine::ResumeFrom { offset: 4096 },
        HostLine::Stored {
            file_id: 3,
            sha256: Sha256Digest([1; 32]),
            check: TransferCheck([9; 16]),
        },
        HostLine::Challenge { nonce: [2; 32] },
        HostLine::Welcome {
            client_id: 8,
            ticket: Ticket([3; 16]),
            role: Role::Operator,
        },
        HostLine::FileOffer {
            file_id: 1,
            name: "%name%".into(),
            size: 0,
            uploader_name: "x:y".into(),
            uploader_id: 0,
        },
        HostLine::FileMeta {
            file_id: 1,
            uploaded_at_ms: 1_764_000_000_123,
            sha256: Sha256Digest([4; 32]),
            check: Some(TransferCheck([5; 16])),
        },
        HostLine::FileMeta {
            file_id: 1,
            uploaded_at_ms: 1_764_000_000_123,
            sha256: Sha256Digest([4; 32]),
            check: None,
        },
        HostLine::FileDeleted { file_id: 2 },
        HostLine::PeerJoined {
            client_id: 5,
            username: "Bob".into(),
        },
        HostLine::PeerLeft { client_id: 5 },
        HostLine::DeleteFailed {
            file_id: 2,
            reason: "Not yours: uploaded by Alice".into(),
        },
        HostLine::End,
        HostLine::Pong,
    ];
    for line in lines {
        assert_eq!(HostLine::parse(line.encode().as_bytes()), Ok(line));
    }
}

#[test]
fn error_text_cannot_break_the_line() {
    let line = HostLine::Error("bad\nname".into()).encode();
    assert_eq!(line, "ERROR:bad name\n");
}

#[test]
fn resume_lines_are_exact() {
    let key = ResumeKey([0xab; 32]);
    let line = ClientLine::UploadResume {
        key,
        request: UploadRequest {
            client_id: 3,
            username: "Alice".into(),
            filename: "report.pdf".into(),
            size: 2_621_440,
        },
    };
    assert_eq!(
        line.encode(),
        format!(
            "UPLOAD_RESUME:{}:3:Alice:report.pdf:2621440\n",
            "ab".repeat(32)
        )
    );
    assert_eq!(
        HostLine::ResumeFrom { offset: 1_048_576 }.encode(),
        "RESUME_FROM:1048576\n"
    );
    // Offset 0 is the seed's line; any other offset is a third field.
    let whole = ClientLine::Download {
        file_id: 15,
        offset: 0,
    };
    assert_eq!(whole.encode(), "DOWNLOAD:15\n");
    assert_eq!(ClientLine::parse(b"DOWNLOAD:15:0"), Ok(whole));
    assert_eq!(
        ClientLine::parse(b"DOWNLOAD:15:1000"),
        Ok(ClientLine::Download {
            file_id: 15,
            offset: 1000
        })
    );
}

#[test]
fn bad_resume_lines_are_refused() {
    for line in [
        "UPLOAD_RESUME",
        "UPLOAD_RESUME:abcd:3:Alice:f:1",
        "DOWNLOAD:15:-1",
        "DOWNLOAD:15:1:2:3",
        "DOWNLOAD:15:1:x",
        "RESUME_FROM:x",
    ] {
        let client = ClientLine::parse(line.as_bytes());
        let host = HostLine::parse(line.as_bytes());
        assert!(client.is_err() && host.is_err(), "{line} was accepted");
    }
    let short = format!("UPLOAD_RESUME:{}:3:Alice", "00".repeat(32));
    assert_eq!(
        ClientLine::parse(short.as_bytes()),
        Err(ProtocolError::InvalidUpload)
    );
}

#[test]
fn stored_carries_the_sha256_and_the_transfer_check() {
    let sha256 = "ab".repeat(32);
    let check = TransferCheck::of(b"hello");
    let line = format!("STORED:7:{sha256}:{check}");
    // XXH3-128 in its canonical (big-endian) form, as other implementations print it.
    assert_eq!(
        TransferCheck::of(b"0123456789").to_string(),
        "e353667619ec664b49655fc9692165fb"
    );
    assert_eq!(
        HostLine::parse(line.as_bytes()),
        Ok(HostLine::Stored {
            file_id: 7,
            sha256: Sha256Digest([0xab; 32]),
            check,
        })
    );
    // Without the check the line is incomplete; a short or non-hex check is refused.
    for bad in [
        format!("STORED:7:{sha256}"),
        format!("STORED:7:{sha256}:abc"),
        format!("STORED:7:{sha256}:{}", "zz".repeat(16)),
    ] {
        assert!(HostLine::parse(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn file_meta_carries_the_transfer_check_and_still_reads_an_older_hosts_line() {
    let sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let check = "6c78e0e3bd51d358d01e758642b85fb8";
    let with_check = format!("FILE_META:15:1764000000123:{sha256}:{check}\n");
    let parsed = HostLine::parse(with_check.trim_end().as_bytes());
    let Ok(line @ HostLine::FileMeta { check: Some(_), .. }) = parsed else {
        panic!("{parsed:?}");
    };
    assert_eq!(line.encode(), with_check);
    // An older host sends no check: the line still reads, with the check unknown.
    let without = format!("FILE_META:15:1764000000123:{sha256}");
    assert!(matches!(
        HostLine::parse(without.as_bytes()),
        Ok(HostLine::FileMeta {
            file_id: 15,
            uploaded_at_ms: 1_764_000_000_123,
            check: None,
            ..
        })
    ));
    // A check that is empty, short, not hex or followed by more is refused.
    for bad in [
        format!("{without}:"),
        format!("{without}:abc"),
        format!("{without}:{}", "zz".repeat(16)),
        format!("{without}:{check}:1"),
    ] {
        assert!(HostLine::parse(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn library_lines_read_and_encode_exactly() {
    use crate::protocol::{Category, Expiry, Features, FileInfo, ShareOptions, Tags};
    let info = "FILE_INFO:15:documents:7200000:slides,week3\n";
    let Ok(HostLine::FileInfo(parsed)) = HostLine::parse(info.as_bytes()) else {
        panic!("{info}");
    };
    assert_eq!(
        parsed,
        FileInfo {
            file_id: 15,
            category: Category::Documents,
            expires_in_ms: Some(7_200_000),
            tags: Tags::parse("slides,week3").unwrap_or_default(),
        }
    );
    assert_eq!(HostLine::FileInfo(parsed).encode(), info);
    let forever = "FILE_INFO:3:other::\n";
    assert!(matches!(
        HostLine::parse(forever.as_bytes()),
        Ok(HostLine::FileInfo(FileInfo {
            expires_in_ms: None,
            ..
        }))
    ));
    let options = ClientLine::UploadOptions(ShareOptions {
        expiry: Expiry::After(7200),
        tags: Tags::parse("slides,week3").unwrap_or_default(),
        only: None,
        version_of: None,
    });
    assert_eq!(options.encode(), "UPLOAD_OPTIONS:7200:slides,week3\n");
    assert_eq!(
        ClientLine::UploadOptions(ShareOptions::default()).encode(),
        "UPLOAD_OPTIONS::\n"
    );
    assert!(matches!(
        ClientLine::parse(b"UPLOAD_OPTIONS:never:"),
        Ok(ClientLine::UploadOptions(ShareOptions {
            expiry: Expiry::Never,
            ..
        }))
    ));
    assert_eq!(
        ClientLine::Features(Features::ALL).encode(),
        "FEATURES:file-info,access,versions,comments,previews,direct\n"
    );
    // Words a host does not know are ignored.
    assert_eq!(
        ClientLine::parse(b"FEATURES:later,access,versions,previews,direct,comments,file-info"),
        Ok(ClientLine::Features(Features::ALL))
    );
    for bad in [
        "UPLOAD_OPTIONS:0:",
        "UPLOAD_OPTIONS:-1:",
        "UPLOAD_OPTIONS:1h:",
        "UPLOAD_OPTIONS::Week3",
        "UPLOAD_OPTIONS::a b",
        "UPLOAD_OPTIONS::a,,b",
        "UPLOAD_OPTIONS:",
        "FEATURES",
    ] {
        assert!(ClientLine::parse(bad.as_bytes()).is_err(), "{bad}");
    }
    for bad in [
        "FILE_INFO:1:pictures::",
        "FILE_INFO:1:Images::",
        "FILE_INFO:1:images:soon:",
        "FILE_INFO:1:images::Tag",
        "FILE_INFO:1:images:",
        "FILE_INFO:1:images:::x",
    ] {
        assert!(HostLine::parse(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn a_version_of_a_file_is_asked_in_upload_options() {
    use crate::protocol::{Audience, Expiry, ShareOptions, Tags};
    let version_of = |only: Option<Audience>| {
        ClientLine::UploadOptions(ShareOptions {
            expiry: Expiry::After(60),
            tags: Tags::default(),
            only,
            version_of: Some(7),
        })
    };
    let line = "UPLOAD_OPTIONS:60::version-of:7\n";
    assert_eq!(version_of(None).encode(), line);
    assert_eq!(ClientLine::parse(line.as_bytes()), Ok(version_of(None)));
    let bob = Audience::new(vec!["Bob".to_owned()]).unwrap_or_default();
    let line = "UPLOAD_OPTIONS:60::version-of:7:Bob\n";
    assert_eq!(version_of(Some(bob.clone())).encode(), line);
    assert_eq!(
        ClientLine::parse(line.as_bytes()),
        Ok(version_of(Some(bob)))
    );
    // Alone, a third field `version-of` is a name, as it was before the form existed.
    let named = Audience::new(vec!["version-of".to_owned()]).unwrap_or_default();
    assert!(matches!(
        ClientLine::parse(b"UPLOAD_OPTIONS:60::version-of"),
        Ok(ClientLine::UploadOptions(ShareOptions { only: Some(only), version_of: None, .. }))
            if only == named
    ));
    for bad in [
        "UPLOAD_OPTIONS:::version-of:",
        "UPLOAD_OPTIONS:::version-of:x",
        "UPLOAD_OPTIONS:::version-of:-1",
        "UPLOAD_OPTIONS:::version-of:7:Bob:Carol",
        "UPLOAD_OPTIONS:::Bob:version-of:7",
    ] {
        assert!(ClientLine::parse(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn access_lines_read_and_encode_exactly() {
    use crate::protocol::{Audience, Expiry, ShareOptions, Tags};
    let names = |list: &[&str]| Audience::new(list.iter().map(|n| (*n).to_owned()).collect());
    let Ok(bob_carol) = names(&["Bob", "Carol, Jr.:x"]) else {
        panic!("names");
    };
    let options = ClientLine::UploadOptions(ShareOptions {
        expiry: Expiry::HostDefault,
        tags: Tags::default(),
        only: Some(bob_carol.clone()),
        version_of: None,
    });
    let line = "UPLOAD_OPTIONS:::Bob,Carol%2C Jr.%3Ax\n";
    assert_eq!(options.encode(), line);
    assert_eq!(ClientLine::parse(line.as_bytes()), Ok(options));
    // Restricted to no one else: the sharer and the operator only.
    assert!(matches!(
        ClientLine::parse(b"UPLOAD_OPTIONS:::"),
        Ok(ClientLine::UploadOptions(ShareOptions { only: Some(only), .. })) if only.is_empty()
    ));
    let everyone = ClientLine::SetAccess {
        file_id: 7,
        only: None,
    };
    assert_eq!(everyone.encode(), "ACCESS:7:everyone\n");
    let narrowed = ClientLine::SetAccess {
        file_id: 7,
        only: Some(bob_carol.clone()),
    };
    assert_eq!(narrowed.encode(), "ACCESS:7:only:Bob,Carol%2C Jr.%3Ax\n");
    assert_eq!(ClientLine::parse(b"ACCESS:7:everyone"), Ok(everyone));
    let access = HostLine::FileAccess {
        file_id: 7,
        only: bob_carol,
    };
    assert_eq!(access.encode(), "FILE_ACCESS:7:Bob,Carol%2C Jr.%3Ax\n");
    assert_eq!(
        HostLine::parse(b"ACCESS_FAILED:7:No participant called 'dan' is known to this host"),
        Ok(HostLine::AccessFailed {
            file_id: 7,
            reason: "No participant called 'dan' is known to this host".to_owned(),
        })
    );
    for bad in [
        "UPLOAD_OPTIONS:::Bob,,Carol",
        "UPLOAD_OPTIONS:::Bob:x",
        "ACCESS:7",
        "ACCESS:7:some:Bob",
        "ACCESS:7:everyone:Bob",
        "ACCESS:x:everyone",
    ] {
        assert!(ClientLine::parse(bad.as_bytes()).is_err(), "{bad}");
    }
    for bad in ["FILE_ACCESS:7", "FILE_ACCESS:7:Bob,", "FILE_ACCESS:7:Bob:x"] {
        assert!(HostLine::parse(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn version_lines_read_and_encode_exactly() {
    use crate::protocol::VersionInfo;
    assert_eq!(
        ClientLine::parse(b"DOWNLOAD:15:0:2"),
        Ok(ClientLine::DownloadVersion {
            file_id: 15,
            offset: 0,
            version: 2,
        })
    );
    assert_eq!(
        ClientLine::DownloadVersion {
            file_id: 15,
            offset: 7,
            version: 2,
        }
        .encode(),
        "DOWNLOAD:15:7:2\n"
    );
    assert_eq!(
        ClientLine::parse(b"VERSIONS:15"),
        Ok(ClientLine::Versions { file_id: 15 })
    );
    assert_eq!(ClientLine::NewFile.encode(), "NEW_FILE\n");
    assert_eq!(
        HostLine::FileVersions {
            file_id: 15,
            latest: 3,
            kept: 2,
        }
        .encode(),
        "FILE_VERSIONS:15:3:2\n"
    );
    let digest = "ab".repeat(32);
    let check = "cd".repeat(16);
    let line = format!("VERSION:15:2:1000:1764000000000:{digest}:{check}\n");
    let Ok(HostLine::Version(parsed)) = HostLine::parse(line.as_bytes()) else {
        panic!("{line}");
    };
    assert_eq!(
        parsed,
        VersionInfo {
            file_id: 15,
            number: 2,
            size: 1000,
            uploaded_at_ms: 1_764_000_000_000,
            sha256: Sha256Digest([0xab; 32]),
            check: TransferCheck([0xcd; 16]),
        }
    );
    assert_eq!(HostLine::Version(parsed).encode(), line);
    for bad in [
        "DOWNLOAD:15:0:4294967296",
        "VERSIONS",
        "VERSIONS:1:2",
        "NEW_FILE:x",
    ] {
        assert!(ClientLine::parse(bad.as_bytes()).is_err(), "{bad}");
    }
    for bad in [
        "FILE_VERSIONS:1:2",
        "FILE_VERSIONS:1:2:3:4",
        "VERSION:1:2:3:4",
    ] {
        assert!(HostLine::parse(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn comment_lines_read_and_encode_exactly() {
    use crate::protocol::{CommentInfo, comment_text};
    let comment = ClientLine::Comment {
        file_id: 7,
        text: "Great: 100% agreed".to_owned(),
    };
    assert_eq!(comment.encode(), "COMMENT:7:Great%3A 100%25 agreed\n");
    assert_eq!(
        ClientLine::parse(b"COMMENT:7:Great%3A 100%25 agreed"),
        Ok(comment)
    );
    let added = HostLine::CommentAdded(CommentInfo {
        file_id: 7,
        comment_id: 2,
        author_id: 3,
        author_name: "Bob".to_owned(),
        at_ms: 1_764_000_000_000,
        text: "Great: yes".to_owned(),
    });
    let line = "COMMENT_ADDED:7:2:3:Bob:1764000000000:Great%3A yes\n";
    assert_eq!(added.encode(), line);
    assert_eq!(HostLine::parse(line.as_bytes()), Ok(added));
    assert_eq!(
        ClientLine::parse(b"DELETE_COMMENT:7:2"),
        Ok(ClientLine::DeleteComment {
            file_id: 7,
            comment_id: 2
        })
    );
    assert_eq!(comment_text(" a\nb "), Ok("a b".to_owned()));
    assert!(comment_text(" \t ").is_err());
    for bad in ["COMMENT:7", "DELETE_COMMENT:7", "DELETE_COMMENT:7:x"] {
        assert!(ClientLine::parse(bad.as_bytes()).is_err(), "{bad}");
    }
    assert!(HostLine::parse(b"COMMENT_ADDED:7:2:3:Bob:soon:hi").is_err());
}

#[test]
fn preview_lines_read_and_encode_exactly() {
    use crate::protocol::{Features, PreviewKind};
    assert_eq!(
        ClientLine::parse(b"PREVIEW:7"),
        Ok(ClientLine::Preview { file_id: 7 })
    );
    assert_eq!(ClientLine::Preview { file_id: 7 }.encode(), "PREVIEW:7\n");
    let offered = HostLine::FilePreview {
        file_id: 7,
        kind: PreviewKind::Png,
        size: 31_000,
    };
    assert_eq!(offered.encode(), "FILE_PREVIEW:7:png:31000\n");
    assert_eq!(HostLine::parse(b"FILE_PREVIEW:7:png:31000"), Ok(offered));
    let data = HostLine::PreviewData {
        file_id: 7,
        kind: PreviewKind::Text,
        size: 12,
    };
    assert_eq!(data.encode(), "PREVIEW_DATA:7:text:12\n");
    assert_eq!(HostLine::parse(b"PREVIEW_DATA:7:text:12"), Ok(data));
    let Ok(ClientLine::Features(features)) = ClientLine::parse(b"FEATURES:file-info,previews")
    else {
        panic!("FEATURES");
    };
    assert_eq!(
        features,
        Features {
            file_info: true,
            previews: true,
            ..Features::default()
        }
    );
    for bad in ["PREVIEW", "PREVIEW:x", "PREVIEW:7:8"] {
        assert!(ClientLine::parse(bad.as_bytes()).is_err(), "{bad}");
    }
    for bad in [
        "FILE_PREVIEW:7:jpeg:10",
        "FILE_PREVIEW:7:PNG:10",
        "FILE_PREVIEW:7:png",
        "FILE_PREVIEW:7:png:10:11",
        "FILE_PREVIEW:7:png:1048577",
        "PREVIEW_DATA:7:text:99999999999",
    ] {
        assert!(HostLine::parse(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn direct_transfer_host_lines_round_trip_with_either_kind_of_address() {
    let grant = Grant {
        file_id: 5,
        downloader: PublicKey([6; 32]),
        expires_at_ms: 1_800_000_000_000,
        signature: [7; 64],
    };
    let mut lines = vec![
        HostLine::DirectShared {
            file_id: 5,
            sha256: Sha256Digest([8; 32]),
            grant_key: PublicKey([9; 32]),
        },
        HostLine::FileState {
            file_id: 5,
            available: true,
        },
        HostLine::DirectFailed {
            sha256: Sha256Digest([8; 32]),
            reason: "Too many: stop sharing some: then try".into(),
        },
        HostLine::FileState {
            file_id: 5,
            available: false,
        },
        HostLine::RelayWanted {
            token: RelayToken([0x5a; 16]),
            file_id: 5,
        },
    ];
    for address in ["192.168.1.20:40123", "[fe80::1]:40123"] {
        lines.push(HostLine::DirectRoute(DirectRoute {
            address: address.parse().unwrap_or_else(|e| panic!("{e}")),
            sharer: Fingerprint([1; 32]),
            grant,
        }));
    }
    for line in lines {
        assert_eq!(HostLine::parse(line.encode().as_bytes()), Ok(line));
    }
    for bad in [
        "FILE_STATE:5:gone",
        "DIRECT_SHARE:a:1:00:00:0:00",
        "DIRECT:x",
        "RELAY:",
        "RELAY_SEND:abcd",
        "RELAY_WANTED:5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
        "DIRECT_SHARE:a:1:1111111111111111111111111111111111111111111111111111111111111111:\
         22222222222222222222222222222222:65536:\
         3333333333333333333333333333333333333333333333333333333333333333",
    ] {
        let host = HostLine::parse(bad.as_bytes()).is_err();
        let client = ClientLine::parse(bad.as_bytes()).is_err();
        assert!(host && client, "{bad}");
    }
}

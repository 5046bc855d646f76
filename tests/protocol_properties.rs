//! Property tests: every name and every message survives encode → parse unchanged.

use lanshare::protocol::{ClientLine, HostLine, UploadRequest, escape, unescape};
use proptest::prelude::*;

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
    fn any_upload_line_round_trips(
        client_id in any::<u64>(),
        username in any::<String>(),
        filename in any::<String>(),
        size in any::<u64>(),
    ) {
        let line = ClientLine::Upload(UploadRequest { client_id, username, filename, size });
        let encoded = line.encode();
        prop_assert_eq!(encoded.matches('\n').count(), 1);
        prop_assert_eq!(ClientLine::parse(encoded.as_bytes()), Ok(line));
    }

    #[test]
    fn any_offer_round_trips(
        file_id in any::<u64>(),
        name in any::<String>(),
        size in any::<u64>(),
        uploader_name in any::<String>(),
        uploader_id in any::<u64>(),
    ) {
        let line = HostLine::FileOffer { file_id, name, size, uploader_name, uploader_id };
        prop_assert_eq!(HostLine::parse(line.encode().as_bytes()), Ok(line));
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = ClientLine::parse(&bytes);
        let _ = HostLine::parse(&bytes);
    }
}

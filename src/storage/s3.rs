//! The object store's requests: S3 calls signed by `rusty-s3` (no I/O of its own) and sent by
//! `ureq`, synchronously, on the calling thread. Keys are relative to the library's prefix.
//!
//! Where the store is and who the host is to it come from the standard environment
//! (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
//! `AWS_SESSION_TOKEN`); see [`ObjectStoreConfig::from_env`].

use std::fmt;
use std::io::{self, Read};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusty_s3::actions::{
    AbortMultipartUpload, CompleteMultipartUpload, CreateMultipartUpload, DeleteObject, GetObject,
    ListObjectsV2, PutObject, UploadPart,
};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

/// How long a signed request stays valid (it is sent at once; a long download only has to
/// start within it).
const SIGNED_FOR: Duration = Duration::from_secs(3600);
/// How long to wait for the store to accept a connection.
const CONNECT_WAIT: Duration = Duration::from_secs(5);
/// How long one read or write on a connection to the store may wait.
const IO_WAIT: Duration = Duration::from_secs(30);
/// Largest answer read into memory (metadata, listings, previews).
const MAX_SMALL_BODY: u64 = 96 * 1024 * 1024;

/// Unfinished uploads of a host silent for this long are swept by default (another live host
/// writes its heartbeat every few seconds).
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(600);
/// How often a host looks for changes made by other hosts of the library, by default.
pub const DEFAULT_POLL_EVERY: Duration = Duration::from_secs(1);

/// An S3-compatible store and the part of it (bucket and prefix) that holds one library.
#[derive(Clone, PartialEq, Eq)]
pub struct ObjectStoreConfig {
    /// The store's address, `http://` or `https://`.
    pub endpoint: String,
    /// The region requests are signed for.
    pub region: String,
    /// The access key id.
    pub access_key: String,
    /// The secret access key.
    pub secret_key: String,
    /// A session token, for temporary credentials.
    pub session_token: Option<String>,
    /// The bucket.
    pub bucket: String,
    /// The prefix of every key of the library: empty, or ending in `/`.
    pub prefix: String,
    /// Unfinished uploads of hosts that have been silent this long (and files' bytes no
    /// metadata names, this old) are removed.
    pub stale_after: Duration,
    /// How often the host looks for files added, changed or deleted by other hosts.
    pub poll_every: Duration,
}

impl fmt::Debug for ObjectStoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret never goes into a log.
        f.debug_struct("ObjectStoreConfig")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("stale_after", &self.stale_after)
            .field("poll_every", &self.poll_every)
            .finish_non_exhaustive()
    }
}

/// Why an `s3://` store could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum ObjectConfigError {
    /// The text is not `s3://BUCKET[/PREFIX]`.
    #[error("'{0}' is not an object store address: write s3://BUCKET or s3://BUCKET/PREFIX")]
    Url(String),
    /// A variable the store needs is not set.
    #[error(
        "{0} is not set: the object store needs it (with AWS_ENDPOINT_URL for a store other than AWS S3)"
    )]
    Missing(&'static str),
    /// `AWS_ENDPOINT_URL` is not an http or https address.
    #[error("AWS_ENDPOINT_URL '{0}' is not an http:// or https:// address")]
    Endpoint(String),
}

impl ObjectStoreConfig {
    /// Whether `text` names an object store (`s3://…`) rather than a folder.
    pub fn is_object_url(text: &str) -> bool {
        text.get(..5)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("s3://"))
    }

    /// The store `url` (`s3://BUCKET/PREFIX`) names, reached and signed for as the
    /// environment says: `AWS_ENDPOINT_URL` (default: AWS S3 in `AWS_REGION`),
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (optional),
    /// `AWS_REGION` (default `us-east-1`).
    pub fn from_env(url: &str) -> Result<Self, ObjectConfigError> {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_owned());
        let endpoint =
            var("AWS_ENDPOINT_URL").unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        Self::new(
            url,
            &endpoint,
            &region,
            (
                var("AWS_ACCESS_KEY_ID").ok_or(ObjectConfigError::Missing("AWS_ACCESS_KEY_ID"))?,
                var("AWS_SECRET_ACCESS_KEY")
                    .ok_or(ObjectConfigError::Missing("AWS_SECRET_ACCESS_KEY"))?,
            ),
        )
        .map(|config| Self {
            session_token: var("AWS_SESSION_TOKEN"),
            ..config
        })
    }

    /// The store `url` (`s3://BUCKET/PREFIX`) names at `endpoint`, signed for `region` with
    /// `credentials` (access key id, secret).
    pub fn new(
        url: &str,
        endpoint: &str,
        region: &str,
        (access_key, secret_key): (String, String),
    ) -> Result<Self, ObjectConfigError> {
        let bad_url = || ObjectConfigError::Url(url.to_owned());
        let rest = url
            .get(5..)
            .filter(|_| Self::is_object_url(url))
            .ok_or_else(bad_url)?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_matches('/');
        if bucket.is_empty() || bucket.contains(['?', '#', '\\']) || prefix.contains("//") {
            return Err(bad_url());
        }
        let parsed = url::Url::parse(endpoint)
            .ok()
            .filter(|parsed| matches!(parsed.scheme(), "http" | "https"))
            .ok_or_else(|| ObjectConfigError::Endpoint(endpoint.to_owned()))?;
        Ok(Self {
            endpoint: parsed.as_str().trim_end_matches('/').to_owned(),
            region: region.to_owned(),
            access_key,
            secret_key,
            session_token: None,
            bucket: bucket.to_owned(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
            stale_after: DEFAULT_STALE_AFTER,
            poll_every: DEFAULT_POLL_EVERY,
        })
    }

    /// `s3://BUCKET/PREFIX at ENDPOINT`, for people.
    pub fn describe(&self) -> String {
        format!(
            "s3://{}/{} at {}",
            self.bucket,
            self.prefix.trim_end_matches('/'),
            self.endpoint
        )
    }
}

/// Why a request to the object store failed.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// No answer: the store is down, or the address is wrong.
    #[error("the object store at {endpoint} cannot be reached ({reason})")]
    Unreachable {
        /// The store's address.
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
    /// The store does not accept the credentials.
    #[error(
        "the object store at {endpoint} refuses these credentials ({code}): check \
         AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )]
    Credentials {
        /// The store's address.
        endpoint: String,
        /// The store's error code.
        code: String,
    },
    /// The bucket does not exist.
    #[error("the object store at {endpoint} has no bucket '{bucket}'")]
    NoBucket {
        /// The store's address.
        endpoint: String,
        /// The bucket asked for.
        bucket: String,
    },
    /// A conditional write found the object changed (or present, or absent) meanwhile.
    #[error("the object changed meanwhile")]
    Conflict,
    /// Any other refusal.
    #[error("the object store refused {action} of '{key}': {status} {code}")]
    Refused {
        /// What was asked.
        action: &'static str,
        /// The object.
        key: String,
        /// The HTTP status.
        status: u16,
        /// The store's error code.
        code: String,
    },
    /// An answer that could not be understood.
    #[error("the object store's answer to {0} could not be read")]
    Answer(&'static str),
}

impl From<S3Error> for io::Error {
    fn from(error: S3Error) -> Self {
        io::Error::other(error)
    }
}

/// A condition on a write.
#[derive(Debug, Clone, Copy)]
pub(super) enum Condition<'a> {
    /// Always.
    None,
    /// Only if no object has the key (`If-None-Match: *`).
    Absent,
    /// Only if the object still has this ETag (`If-Match`).
    Unchanged(&'a str),
}

/// One object of a listing.
#[derive(Debug, Clone)]
pub(super) struct Listed {
    /// Its key, relative to the prefix.
    pub key: String,
    /// Its ETag.
    pub etag: String,
    /// When it was last written, by the store's clock.
    pub modified: Option<DateTime<Utc>>,
}

/// An unfinished multipart upload.
#[derive(Debug, Clone)]
pub(super) struct Unfinished {
    /// Its key, relative to the prefix.
    pub key: String,
    /// Its upload id.
    pub upload_id: String,
    /// When it was started, by the store's clock.
    pub initiated: Option<DateTime<Utc>>,
}

/// A connection to one bucket and prefix of an object store.
pub(super) struct S3Client {
    bucket: Bucket,
    credentials: Credentials,
    agent: ureq::Agent,
    prefix: String,
    endpoint: String,
}

type Response = ureq::http::Response<ureq::Body>;

impl S3Client {
    /// A client for `config`'s store (nothing is sent yet).
    pub(super) fn new(config: &ObjectStoreConfig) -> Result<Self, S3Error> {
        let invalid = |_| S3Error::Unreachable {
            endpoint: config.endpoint.clone(),
            reason: "not a usable address".to_owned(),
        };
        let endpoint = url::Url::parse(&config.endpoint).map_err(invalid)?;
        let style = if endpoint
            .host_str()
            .is_some_and(|host| host.ends_with(".amazonaws.com"))
        {
            UrlStyle::VirtualHost
        } else {
            UrlStyle::Path
        };
        let bucket = Bucket::new(
            endpoint,
            style,
            config.bucket.clone(),
            config.region.clone(),
        )
        .map_err(|error| S3Error::Unreachable {
            endpoint: config.endpoint.clone(),
            reason: error.to_string(),
        })?;
        let credentials = match &config.session_token {
            Some(token) => Credentials::new_with_token(
                config.access_key.clone(),
                config.secret_key.clone(),
                token.clone(),
            ),
            None => Credentials::new(config.access_key.clone(), config.secret_key.clone()),
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_WAIT))
            .timeout_per_read(Some(IO_WAIT))
            .timeout_per_write(Some(IO_WAIT))
            .timeout_recv_response(Some(IO_WAIT))
            .build()
            .into();
        Ok(Self {
            bucket,
            credentials,
            agent,
            prefix: config.prefix.clone(),
            endpoint: config.endpoint.clone(),
        })
    }

    fn full_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Turns a failure to get an answer into [`S3Error::Unreachable`].
    fn unreachable(&self, error: ureq::Error) -> S3Error {
        S3Error::Unreachable {
            endpoint: self.endpoint.clone(),
            reason: error.to_string(),
        }
    }

    /// The error an answer with a failing status stands for.
    fn refusal(&self, action: &'static str, key: &str, mut response: Response) -> S3Error {
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let code = xml_field(&body, "Code").unwrap_or_else(|| status.to_string());
        match (status, code.as_str()) {
            (412, _) => S3Error::Conflict,
            (_, "NoSuchBucket") => S3Error::NoBucket {
                endpoint: self.endpoint.clone(),
                bucket: self.bucket.name().to_owned(),
            },
            (
                401 | 403,
                "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AccessDenied" | "403" | "401",
            ) => S3Error::Credentials {
                endpoint: self.endpoint.clone(),
                code,
            },
            _ => S3Error::Refused {
                action,
                key: key.to_owned(),
                status,
                code,
            },
        }
    }

    /// Checks that the store answers, knows the bucket and accepts the credentials.
    pub(super) fn check(&self) -> Result<(), S3Error> {
        let mut list = ListObjectsV2::new(&self.bucket, Some(&self.credentials));
        list.with_prefix(self.prefix.as_str());
        list.with_max_keys(1);
        let url = list.sign(SIGNED_FOR);
        let response = self
            .agent
            .get(url.as_str())
            .call()
            .map_err(|error| self.unreachable(error))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(self.refusal("listing", "", response))
        }
    }

    /// Writes `body` as `key`, if `condition` holds; returns the new ETag.
    pub(super) fn put(
        &self,
        key: &str,
        body: &[u8],
        condition: Condition<'_>,
    ) -> Result<String, S3Error> {
        let full = self.full_key(key);
        let url = PutObject::new(&self.bucket, Some(&self.credentials), &full).sign(SIGNED_FOR);
        let request = self.agent.put(url.as_str());
        let request = match condition {
            Condition::None => request,
            Condition::Absent => request.header("If-None-Match", "*"),
            Condition::Unchanged(etag) => request.header("If-Match", etag),
        };
        let response = request
            .send(body)
            .map_err(|error| self.unreachable(error))?;
        if !response.status().is_success() {
            return Err(self.refusal("writing", key, response));
        }
        Ok(etag_of(&response))
    }

    /// The whole of a small object and its ETag; `None` if there is none.
    pub(super) fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, S3Error> {
        let full = self.full_key(key);
        let url = GetObject::new(&self.bucket, Some(&self.credentials), &full).sign(SIGNED_FOR);
        let mut response = self
            .agent
            .get(url.as_str())
            .call()
            .map_err(|error| self.unreachable(error))?;
        if response.status().as_u16() == 404 {
            return match self.refusal("reading", key, response) {
                S3Error::Refused { .. } => Ok(None),
                other => Err(other),
            };
        }
        if !response.status().is_success() {
            return Err(self.refusal("reading", key, response));
        }
        let etag = etag_of(&response);
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_SMALL_BODY)
            .read_to_vec()
            .map_err(|error| self.unreachable(error))?;
        Ok(Some((bytes, etag)))
    }

    /// A reader of object `key` from byte `offset` on (a ranged GET).
    pub(super) fn read_from(
        &self,
        key: &str,
        offset: u64,
    ) -> Result<Box<dyn Read + Send>, S3Error> {
        let full = self.full_key(key);
        let url = GetObject::new(&self.bucket, Some(&self.credentials), &full).sign(SIGNED_FOR);
        let request = self.agent.get(url.as_str());
        let request = if offset > 0 {
            request.header("Range", format!("bytes={offset}-"))
        } else {
            request
        };
        let response = request.call().map_err(|error| self.unreachable(error))?;
        if !response.status().is_success() {
            return Err(self.refusal("reading", key, response));
        }
        Ok(Box::new(response.into_body().into_reader()))
    }

    /// Deletes object `key` (no error if it is gone already).
    pub(super) fn delete(&self, key: &str) -> Result<(), S3Error> {
        let full = self.full_key(key);
        let url = DeleteObject::new(&self.bucket, Some(&self.credentials), &full).sign(SIGNED_FOR);
        self.send_delete(&url, "deleting", key)
    }

    /// Sends a signed DELETE for `key`; what is gone already counts as done.
    fn send_delete(&self, url: &url::Url, doing: &'static str, key: &str) -> Result<(), S3Error> {
        let response = self
            .agent
            .delete(url.as_str())
            .call()
            .map_err(|error| self.unreachable(error))?;
        match response.status().as_u16() {
            200..=299 | 404 => Ok(()),
            _ => Err(self.refusal(doing, key, response)),
        }
    }

    /// Every object whose key starts with `under` (relative to the prefix).
    pub(super) fn list(&self, under: &str) -> Result<Vec<Listed>, S3Error> {
        let full = self.full_key(under);
        let mut listed = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut list = ListObjectsV2::new(&self.bucket, Some(&self.credentials));
            list.with_prefix(full.as_str());
            if let Some(token) = &token {
                list.with_continuation_token(token.as_str());
            }
            let url = list.sign(SIGNED_FOR);
            let body = self.call_for_text("listing", under, self.agent.get(url.as_str()).call())?;
            let page =
                ListObjectsV2::parse_response(&body).map_err(|_| S3Error::Answer("a listing"))?;
            listed.extend(page.contents.into_iter().filter_map(|object| {
                Some(Listed {
                    key: object.key.strip_prefix(&self.prefix)?.to_owned(),
                    etag: object.etag.unwrap_or_default(),
                    modified: object.last_modified.as_deref().and_then(parse_time),
                })
            }));
            match page.next_continuation_token {
                Some(next) => token = Some(next),
                None => return Ok(listed),
            }
        }
    }

    /// Reads the answer to a request as text, or the error it stands for.
    fn call_for_text(
        &self,
        action: &'static str,
        key: &str,
        sent: Result<Response, ureq::Error>,
    ) -> Result<String, S3Error> {
        let mut response = sent.map_err(|error| self.unreachable(error))?;
        if !response.status().is_success() {
            return Err(self.refusal(action, key, response));
        }
        response
            .body_mut()
            .with_config()
            .limit(MAX_SMALL_BODY)
            .read_to_string()
            .map_err(|error| self.unreachable(error))
    }

    /// Starts a multipart upload of `key`; returns its upload id.
    pub(super) fn start_multipart(&self, key: &str) -> Result<String, S3Error> {
        let full = self.full_key(key);
        let url = CreateMultipartUpload::new(&self.bucket, Some(&self.credentials), &full)
            .sign(SIGNED_FOR);
        let body = self.call_for_text(
            "starting an upload",
            key,
            self.agent.post(url.as_str()).send_empty(),
        )?;
        let created = CreateMultipartUpload::parse_response(&body)
            .map_err(|_| S3Error::Answer("starting an upload"))?;
        Ok(created.upload_id().to_owned())
    }

    /// Sends part `number` (from 1) of a multipart upload; returns its ETag.
    pub(super) fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u16,
        bytes: &[u8],
    ) -> Result<String, S3Error> {
        let full = self.full_key(key);
        let url = UploadPart::new(
            &self.bucket,
            Some(&self.credentials),
            &full,
            number,
            upload_id,
        )
        .sign(SIGNED_FOR);
        let response = self
            .agent
            .put(url.as_str())
            .send(bytes)
            .map_err(|error| self.unreachable(error))?;
        if !response.status().is_success() {
            return Err(self.refusal("sending part of", key, response));
        }
        Ok(etag_of(&response))
    }

    /// Makes a multipart upload's parts (their ETags, in order) the object.
    pub(super) fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[String],
    ) -> Result<(), S3Error> {
        let full = self.full_key(key);
        let complete = CompleteMultipartUpload::new(
            &self.bucket,
            Some(&self.credentials),
            &full,
            upload_id,
            parts.iter().map(String::as_str),
        );
        let url = complete.sign(SIGNED_FOR);
        let body = self.call_for_text(
            "finishing the upload of",
            key,
            self.agent.post(url.as_str()).send(complete.body()),
        )?;
        // A failure found after the answer began comes as an error document with status 200.
        match xml_field(&body, "Code") {
            Some(code) => Err(S3Error::Refused {
                action: "finishing the upload of",
                key: key.to_owned(),
                status: 200,
                code,
            }),
            None => Ok(()),
        }
    }

    /// Abandons a multipart upload (its parts are freed).
    pub(super) fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), S3Error> {
        let full = self.full_key(key);
        let url =
            AbortMultipartUpload::new(&self.bucket, Some(&self.credentials), &full, upload_id)
                .sign(SIGNED_FOR);
        self.send_delete(&url, "abandoning the upload of", key)
    }

    /// The unfinished multipart uploads of keys under `under` (relative to the prefix).
    pub(super) fn unfinished(&self, under: &str) -> Result<Vec<Unfinished>, S3Error> {
        let full = self.full_key(under);
        // ListMultipartUploads: a GET of the bucket with `?uploads`, which rusty-s3 signs as
        // any GET of the bucket's root.
        let mut list = GetObject::new(&self.bucket, Some(&self.credentials), "");
        list.query_mut().insert("uploads", "");
        list.query_mut().insert("prefix", full.as_str());
        let url = list.sign(SIGNED_FOR);
        let body = self.call_for_text(
            "listing the unfinished uploads under",
            under,
            self.agent.get(url.as_str()).call(),
        )?;
        Ok(xml_blocks(&body, "Upload")
            .into_iter()
            .filter_map(|block| {
                let key = xml_field(block, "Key")?;
                Some(Unfinished {
                    key: key.strip_prefix(&self.prefix)?.to_owned(),
                    upload_id: xml_field(block, "UploadId")?,
                    initiated: xml_field(block, "Initiated")
                        .as_deref()
                        .and_then(parse_time),
                })
            })
            .collect())
    }
}

/// The ETag an answer carries (empty if none).
fn etag_of(response: &Response) -> String {
    response
        .headers()
        .get("etag")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// A time as S3 writes it (RFC 3339).
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

/// The text of the first `<name>` element of `xml`, unescaped.
fn xml_field(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(unescape_xml(&xml[start..end]))
}

/// The contents of every `<name>` element of `xml`.
fn xml_blocks<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut blocks = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else {
            break;
        };
        blocks.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    blocks
}

/// XML's five escapes undone.
fn unescape_xml(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> Result<ObjectStoreConfig, ObjectConfigError> {
        ObjectStoreConfig::new(
            url,
            "http://127.0.0.1:9000/",
            "us-east-1",
            ("key".into(), "secret".into()),
        )
    }

    #[test]
    fn addresses_name_a_bucket_and_a_prefix() -> Result<(), ObjectConfigError> {
        let plain = config("s3://library")?;
        assert_eq!(
            (plain.bucket.as_str(), plain.prefix.as_str()),
            ("library", "")
        );
        let nested = config("S3://library/room-4/files/")?;
        assert_eq!(nested.prefix, "room-4/files/");
        assert_eq!(nested.endpoint, "http://127.0.0.1:9000");
        assert!(config("s3://").is_err());
        assert!(config("/srv/files").is_err());
        assert!(config("s3://b/a//b").is_err());
        assert!(!format!("{plain:?}").contains("secret"));
        Ok(())
    }

    #[test]
    fn listings_of_unfinished_uploads_are_read() {
        let xml = "<ListMultipartUploadsResult><Upload><Key>p/data/a&amp;b</Key>\
                   <UploadId>u1</UploadId><Initiated>2026-11-29T07:46:02Z</Initiated></Upload>\
                   <Upload><Key>p/data/c</Key><UploadId>u2</UploadId></Upload>\
                   </ListMultipartUploadsResult>";
        let blocks = xml_blocks(xml, "Upload");
        assert_eq!(blocks.len(), 2);
        assert_eq!(xml_field(blocks[0], "Key").as_deref(), Some("p/data/a&b"));
        assert_eq!(xml_field(blocks[1], "UploadId").as_deref(), Some("u2"));
        assert!(parse_time("2026-11-29T07:46:02Z").is_some());
    }
}

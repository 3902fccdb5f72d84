//! The pipeline's shared vocabulary: the state each step receives and returns
//! (pointers to blobs, never large payloads — Step Functions caps state at 256 KB),
//! routing by content type, the blob key layout and execution names.

use crate::domain::{DocumentId, ObjectRef, TenantId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The state passed from step to step (the Step Functions execution input, grown
/// by each step's `ResultPath`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineState {
    pub tenant_id: TenantId,
    pub document_id: DocumentId,
    /// The original object.
    pub source: ObjectRef,
    pub content_type: String,
    /// How the document arrived ("inbox", "upload", "attachment", "email").
    pub origin: String,
    /// The extracted document (JSON [`crate::content::ExtractedDocument`]) in the curated store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extracted: Option<ObjectRef>,
    /// The chunks (JSON array of [`crate::domain::Chunk`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<ObjectRef>,
    /// The embeddings, one vector per chunk, in [`crate::pipeline::encode_vectors`] form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_count: Option<u32>,
    /// The document's run number this run is ([`crate::domain::Document::runs`]).
    #[serde(default)]
    pub run: u32,
}

impl PipelineState {
    /// What this run's files are named by ([`keys::run_prefix`]): its file
    /// version, and its run number past the first.
    pub fn version(&self) -> String {
        run_version(&self.source.etag, self.run)
    }
}

/// A run's version: the file's ETag, and the run number past the first.
pub fn run_version(etag: &str, run: u32) -> String {
    match run {
        0 => etag.to_owned(),
        n => format!("{etag}#{n}"),
    }
}

/// The error a failed step leaves in the state for the `Catch` handler
/// (Step Functions' `{"Error", "Cause"}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepFailure {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause")]
    pub cause: String,
}

/// Input of the `mark-failed` Catch target: the state plus the failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedState {
    #[serde(flatten)]
    pub state: PipelineState,
    pub error: StepFailure,
}

/// Which extractor a document goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Text, Markdown, HTML, JSON, PDF, DOCX: `extract-document`.
    Document,
    /// Images: `extract-image` (OCR + labels).
    Image,
    /// Audio and video: `extract-audio` (transcription).
    Audio,
    /// `.eml` mail: `parse-email`.
    Email,
}

impl Route {
    pub fn for_content_type(content_type: &str) -> Route {
        let ct = content_type.split(';').next().unwrap_or("").trim();
        if ct == "message/rfc822" {
            Route::Email
        } else if ct.starts_with("image/") {
            Route::Image
        } else if ct.starts_with("audio/") || ct.starts_with("video/") {
            Route::Audio
        } else {
            Route::Document
        }
    }

    /// The function crate that handles this route.
    pub fn function_name(self) -> &'static str {
        match self {
            Route::Document => "extract-document",
            Route::Image => "extract-image",
            Route::Audio => "extract-audio",
            Route::Email => "parse-email",
        }
    }
}

/// Content type from a file name (and, where the name says nothing, from the bytes).
pub fn content_type_for(key: &str, head: &[u8]) -> String {
    content_type_by_name(key)
        .unwrap_or_else(|| sniff(head))
        .to_owned()
}

/// Content type from a file name's extension alone, when it is one Jarvis knows.
pub fn content_type_by_name(key: &str) -> Option<&'static str> {
    // SES receipt rules write raw mail as `<tenant>/inbound-mail/<message id>`,
    // with no extension.
    if keys::is_inbound_mail(key) {
        return Some("message/rfc822");
    }
    let ext = key
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    BY_EXTENSION
        .iter()
        .find(|(exts, _)| exts.contains(&ext.as_str()))
        .map(|(_, ct)| *ct)
}

/// File extensions Jarvis knows, and the content type each is read as.
const BY_EXTENSION: &[(&[&str], &str)] = &[
    (&["txt", "text", "log", "csv"], "text/plain"),
    (&["md", "markdown"], "text/markdown"),
    (&["html", "htm"], "text/html"),
    (&["json"], "application/json"),
    (&["pdf"], "application/pdf"),
    (
        &["docx"],
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    (&["eml"], "message/rfc822"),
    (&["png"], "image/png"),
    (&["jpg", "jpeg"], "image/jpeg"),
    (&["gif"], "image/gif"),
    (&["tif", "tiff"], "image/tiff"),
    (&["webp"], "image/webp"),
    (&["bmp"], "image/bmp"),
    (&["mp3"], "audio/mpeg"),
    (&["wav"], "audio/wav"),
    (&["m4a"], "audio/mp4"),
    (&["ogg", "oga"], "audio/ogg"),
    (&["flac"], "audio/flac"),
    (&["mp4"], "video/mp4"),
    (&["mov"], "video/quicktime"),
    (&["webm"], "video/webm"),
];

/// The content types Jarvis reads (what a pre-signed upload may declare).
pub fn supported_content_types() -> impl Iterator<Item = &'static str> {
    BY_EXTENSION.iter().map(|(_, ct)| *ct)
}

/// Whether `content_type` (parameters such as `; charset=utf-8` ignored) is one Jarvis reads.
pub fn is_supported_content_type(content_type: &str) -> bool {
    let ct = content_type.split(';').next().unwrap_or("").trim();
    supported_content_types().any(|known| known.eq_ignore_ascii_case(ct))
}

fn sniff(head: &[u8]) -> &'static str {
    if head.starts_with(b"%PDF-") {
        "application/pdf"
    } else if head.starts_with(b"\x89PNG") {
        "image/png"
    } else if head.starts_with(b"\xff\xd8\xff") {
        "image/jpeg"
    } else if head.starts_with(b"PK\x03\x04") {
        "application/zip"
    } else if std::str::from_utf8(head).is_ok() || looks_like_text(head) {
        "text/plain"
    } else {
        "application/octet-stream"
    }
}

/// Whether bytes look like text: valid UTF-8 (allowing a cut multi-byte tail) and few control bytes.
pub fn looks_like_text(bytes: &[u8]) -> bool {
    let valid_up_to = match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => return false,
    };
    let sample = &bytes[..valid_up_to];
    let control = sample
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c))
        .count();
    control * 100 <= sample.len().max(1)
}

/// The Step Functions execution name for an object version: derived from
/// bucket, key and ETag, so a redelivered event cannot start a second run, and
/// a changed object (new ETag) starts a new one. At most 80 characters of `[0-9a-f-]`.
pub fn execution_name(bucket: &str, key: &str, etag: &str) -> String {
    let mut h = Sha256::new();
    for part in [bucket, key, etag] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    // 48 hex digits (192 bits) leave room for a rerun's suffix within 80.
    format!("ingest-{}", &hex::encode(h.finalize())[..48])
}

/// Step Functions' limit on an execution name's length.
pub const MAX_EXECUTION_NAME: usize = 80;

/// The execution name of a document's run number `run` of an object version:
/// the version's name, and past the first run its number in hex. A redelivered
/// event reads the same number from the document, so it names the same run
/// and starts nothing; a new version or a retry counts one more, so it never
/// meets a running execution of the same name (Step Functions answers success
/// to a StartExecution with a running execution's name and input, starting
/// nothing). At most 64 characters.
pub fn run_name(bucket: &str, key: &str, etag: &str, run: u32) -> String {
    match run {
        0 => execution_name(bucket, key, etag),
        n => format!("{}-{n:x}", execution_name(bucket, key, etag)),
    }
}

/// Whether Step Functions accepts `name`: 1 to 80 characters of
/// `[0-9A-Za-z_-]` (AWS allows a few more, but those make CloudWatch metrics
/// unusable; moto accepts anything, so adapters check this themselves).
pub fn check_execution_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_EXECUTION_NAME {
        return Err(format!(
            "an execution name has 1 to {MAX_EXECUTION_NAME} characters; {name:?} has {}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!("an execution name may not contain {c:?}"));
    }
    Ok(())
}

/// Where things live in the blob stores.
pub mod keys {
    use crate::domain::{DocumentId, TenantId};

    /// Longest object key accepted (S3's limit).
    pub const MAX_KEY_BYTES: usize = 1024;

    /// A file name [`sanitize_file_name`] keeps: its last segment (after `/`
    /// or `\`) has a character that is not a control, a space or a dot. The
    /// `pattern` of every file name the API takes.
    pub const FILE_NAME_PATTERN: &str = r"[^/\\\s.\x00-\x1f\x7f-\x9f][^/\\]*$";

    /// Whether `key` is a plain relative path every blob store accepts: not empty,
    /// no leading or trailing `/`, no empty, `.` or `..` segments, no control
    /// characters. Both adapters refuse anything else, so a key means the same
    /// object on a laptop and in S3.
    pub fn check_object_key(key: &str) -> Result<(), String> {
        let plain = !key.is_empty()
            && key.len() <= MAX_KEY_BYTES
            && !key.chars().any(char::is_control)
            && key.split('/').all(|seg| !matches!(seg, "" | "." | ".."));
        if plain {
            Ok(())
        } else {
            Err(format!("object key {key:?} is not a plain relative path"))
        }
    }

    /// Prefix in the inbox bucket that names a tenant folder: `@alice/notes.md`.
    pub const TENANT_FOLDER_PREFIX: char = '@';

    /// The tenant an object in the raw bucket belongs to: its first path segment.
    pub fn tenant_of_raw_key(key: &str) -> Option<TenantId> {
        let first = key.split('/').next()?;
        TenantId::parse(first).ok().filter(|_| key.contains('/'))
    }

    /// The raw bucket's folder for files dropped by hand (`aws s3 cp notes.md
    /// s3://<raw>/inbox/`): they belong to the deployment's owner tenant.
    pub const OWNER_INBOX: &str = "inbox";

    /// The tenant an object in the raw bucket belongs to, with an owner
    /// configured (a single-user deployment): `inbox/…` and keys at the
    /// bucket's root are the owner's; `<tenant>/…` is that tenant's. Without
    /// an owner those are nobody's (`None`); `inbox` is never a tenant.
    pub fn owner_of_raw_key(key: &str, owner: Option<&TenantId>) -> Option<TenantId> {
        let by_hand = match key.split_once('/') {
            None => !key.is_empty(),
            Some((first, rest)) => first == OWNER_INBOX && !rest.is_empty(),
        };
        if by_hand {
            return owner.cloned();
        }
        tenant_of_raw_key(key).filter(|t| t.as_str() != OWNER_INBOX)
    }

    /// The tenant of a file in the local inbox: `@name/…` folders name a tenant,
    /// everything else belongs to the default tenant.
    pub fn tenant_of_inbox_key(key: &str, default: &TenantId) -> Option<TenantId> {
        match key.strip_prefix(TENANT_FOLDER_PREFIX) {
            Some(rest) => {
                let (tenant, file) = rest.split_once('/')?;
                (!file.is_empty()).then_some(())?;
                TenantId::parse(tenant).ok()
            }
            None => Some(default.clone()),
        }
    }

    /// Raw key of an upload through the API.
    pub fn upload(tenant: &TenantId, file_name: &str) -> String {
        format!("{tenant}/uploads/{file_name}")
    }

    /// Raw key of a mail attachment.
    pub fn attachment(
        tenant: &TenantId,
        parent: &DocumentId,
        index: usize,
        file_name: &str,
    ) -> String {
        format!("{tenant}/attachments/{parent}/{index}-{file_name}")
    }

    /// The folder under a tenant's prefix where SES stores the mail it receives.
    pub const INBOUND_MAIL: &str = "inbound-mail";

    /// Whether `key` is mail SES received: `<tenant>/inbound-mail/<message id>`.
    pub fn is_inbound_mail(key: &str) -> bool {
        let mut parts = key.split('/');
        matches!(
            (parts.next(), parts.next(), parts.next(), parts.next()),
            (Some(t), Some(INBOUND_MAIL), Some(id), None) if !t.is_empty() && !id.is_empty()
        )
    }

    /// Curated prefix of everything derived from a document.
    pub fn curated_prefix(tenant: &TenantId, doc: &DocumentId) -> String {
        format!("{tenant}/{doc}/")
    }

    /// Folder of one run's files: a document's object version (its source
    /// ETag) gets its own, so two runs of a quickly edited file never read each
    /// other's chunks or vectors. Everything stays under [`curated_prefix`].
    pub fn run_prefix(tenant: &TenantId, doc: &DocumentId, etag: &str) -> String {
        format!("{}{}/", curated_prefix(tenant, doc), version_tag(etag))
    }

    /// A short, key-safe name for an object version: `v` and 16 hex digits of
    /// the ETag's SHA-256 (ETags carry quotes and dashes).
    pub fn version_tag(etag: &str) -> String {
        use sha2::{Digest, Sha256};
        format!("v{}", &hex::encode(Sha256::digest(etag.as_bytes()))[..16])
    }

    pub fn extracted(tenant: &TenantId, doc: &DocumentId, etag: &str) -> String {
        format!("{}extracted.json", run_prefix(tenant, doc, etag))
    }

    /// The extracted document after the PII step (flags, and redactions when configured).
    pub fn annotated(tenant: &TenantId, doc: &DocumentId, etag: &str) -> String {
        format!("{}annotated.json", run_prefix(tenant, doc, etag))
    }

    pub fn chunks(tenant: &TenantId, doc: &DocumentId, etag: &str) -> String {
        format!("{}chunks.json", run_prefix(tenant, doc, etag))
    }

    pub fn embeddings(tenant: &TenantId, doc: &DocumentId, etag: &str) -> String {
        format!("{}embeddings.f32", run_prefix(tenant, doc, etag))
    }

    /// The origin a raw key implies ("upload", "attachment", "email", "inbox").
    pub fn origin_of(bucket_is_inbox: bool, key: &str) -> &'static str {
        if bucket_is_inbox {
            return "inbox";
        }
        match key.split('/').nth(1) {
            Some("uploads") => "upload",
            Some("attachments") => "attachment",
            Some("mail") => "email",
            _ => "upload",
        }
    }

    /// A file name safe to use as the last key segment: no separators, no
    /// control characters, not empty, at most 200 bytes.
    pub fn sanitize_file_name(name: &str) -> Option<String> {
        let base = name.rsplit(['/', '\\']).next().unwrap_or("");
        let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
        let cleaned = cleaned.trim().trim_start_matches('.').to_owned();
        if cleaned.is_empty() {
            return None;
        }
        Some(cleaned[..cleaned.floor_char_boundary(200)].to_owned())
    }
}

/// Vectors as a blob: `u32 count, u32 dims` (little endian) then `count*dims` f32s.
pub fn encode_vectors(vectors: &[Vec<f32>]) -> Vec<u8> {
    let dims = vectors.first().map_or(0, Vec::len);
    let mut out = Vec::with_capacity(8 + vectors.len() * dims * 4);
    out.extend_from_slice(&(vectors.len() as u32).to_le_bytes());
    out.extend_from_slice(&(dims as u32).to_le_bytes());
    for v in vectors {
        for x in v {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out
}

/// Inverse of [`encode_vectors`]; `None` when the blob is malformed.
pub fn decode_vectors(bytes: &[u8]) -> Option<Vec<Vec<f32>>> {
    let count = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
    let dims = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?) as usize;
    let body = bytes.get(8..)?;
    if body.len() != count.checked_mul(dims)?.checked_mul(4)? {
        return None;
    }
    let floats: Vec<f32> = body
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Some(if dims == 0 {
        vec![Vec::new(); count]
    } else {
        floats.chunks(dims).map(<[f32]>::to_vec).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_follow_content_type() {
        assert_eq!(Route::for_content_type("message/rfc822"), Route::Email);
        assert_eq!(Route::for_content_type("image/png"), Route::Image);
        assert_eq!(Route::for_content_type("audio/mpeg"), Route::Audio);
        assert_eq!(Route::for_content_type("video/mp4"), Route::Audio);
        assert_eq!(Route::for_content_type("application/pdf"), Route::Document);
        assert_eq!(
            Route::for_content_type("text/html; charset=utf-8"),
            Route::Document
        );
    }

    #[test]
    fn content_type_comes_from_extension_then_bytes() {
        assert_eq!(content_type_for("a/Notes.MD", b""), "text/markdown");
        assert_eq!(content_type_for("scan", b"%PDF-1.7"), "application/pdf");
        assert_eq!(
            content_type_for("blob", &[0u8, 1, 2, 3, 0xff, 0xfe]),
            "application/octet-stream"
        );
        assert_eq!(content_type_for("readme", b"hello"), "text/plain");
    }

    #[test]
    fn execution_names_change_with_the_etag_only() {
        let a = execution_name("raw", "t/x.pdf", "e1");
        assert_eq!(a, execution_name("raw", "t/x.pdf", "e1"));
        assert_ne!(a, execution_name("raw", "t/x.pdf", "e2"));
        assert!(a.len() <= 80);
    }

    #[test]
    fn the_name_and_type_of_mail_ses_received() {
        assert_eq!(
            content_type_by_name("3f1c/inbound-mail/o3vrnil0e2ic28trm7dfhrc2v0"),
            Some("message/rfc822")
        );
        assert_eq!(
            content_type_for("3f1c/inbound-mail/AMAZON_SES_SETUP_NOTIFICATION", b"x"),
            "message/rfc822"
        );
        assert_ne!(
            content_type_by_name("3f1c/notes/inbound-mail/x.md"),
            Some("message/rfc822"),
            "only the tenant's own inbound-mail folder"
        );
        assert!(!keys::is_inbound_mail("inbound-mail/x"));
    }

    proptest::proptest! {
        // Thousands of generated inputs per run, not proptest's default 256.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Every name the router can produce (a version's first run, and any
        /// later run) is one Step Functions accepts: ≤ 80 of `[0-9A-Za-z_-]`;
        /// and a later run's name is never an earlier run's.
        #[test]
        fn every_execution_name_the_router_makes_is_valid(
            bucket in "\\PC{0,70}",
            key in "\\PC{0,1024}",
            etag in "\\PC{0,80}",
            run in proptest::prelude::any::<u32>(),
        ) {
            let name = execution_name(&bucket, &key, &etag);
            proptest::prop_assert!(check_execution_name(&name).is_ok(), "{name}");
            proptest::prop_assert_eq!(run_name(&bucket, &key, &etag, 0), name.clone());
            let again = run_name(&bucket, &key, &etag, run);
            proptest::prop_assert!(check_execution_name(&again).is_ok(), "{again}");
            proptest::prop_assert!(again.starts_with(&name));
            if run > 0 {
                proptest::prop_assert_ne!(&again, &run_name(&bucket, &key, &etag, run - 1));
            }
        }
    }

    #[test]
    fn names_step_functions_refuses_are_refused() {
        assert!(check_execution_name(&"a".repeat(81)).is_err());
        assert!(check_execution_name("ingest-a/b").is_err());
        assert!(check_execution_name("").is_err());
        assert!(check_execution_name(&"a".repeat(80)).is_ok());
        // The name of the last run there can be still fits.
        let far = run_name("raw", "k", "e", u32::MAX);
        assert!(far.len() <= 80, "{}", far.len());
    }

    #[test]
    fn inbox_tenant_folders() {
        let d = TenantId::parse("local").unwrap();
        assert_eq!(keys::tenant_of_inbox_key("notes.md", &d), Some(d.clone()));
        assert_eq!(
            keys::tenant_of_inbox_key("@bob/notes.md", &d)
                .unwrap()
                .as_str(),
            "bob"
        );
        assert_eq!(keys::tenant_of_inbox_key("@../x", &d), None);
        assert_eq!(
            keys::tenant_of_raw_key("alice/uploads/a.md")
                .unwrap()
                .as_str(),
            "alice"
        );
        assert_eq!(keys::tenant_of_raw_key("nofolder"), None);
        let owner = TenantId::parse("ana").unwrap();
        for (key, want) in [
            ("inbox/notes.md", Some("ana")),
            ("inbox/sub/deep.pdf", Some("ana")),
            ("notes.md", Some("ana")),
            ("bob/uploads/a.md", Some("bob")),
            ("inbox/", None),
            ("", None),
        ] {
            assert_eq!(
                keys::owner_of_raw_key(key, Some(&owner)).map(|t| t.to_string()),
                want.map(str::to_owned),
                "{key}"
            );
        }
        assert_eq!(keys::owner_of_raw_key("inbox/notes.md", None), None);
        assert_eq!(keys::owner_of_raw_key("notes.md", None), None);
    }

    #[test]
    fn vectors_round_trip_and_reject_truncation() {
        let v = vec![vec![1.0, -2.5], vec![0.0, 3.25]];
        let bytes = encode_vectors(&v);
        assert_eq!(decode_vectors(&bytes), Some(v));
        assert_eq!(decode_vectors(&bytes[..bytes.len() - 1]), None);
    }

    #[test]
    fn file_names_are_sanitized() {
        assert_eq!(
            keys::sanitize_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(keys::sanitize_file_name("..").as_deref(), None);
        assert_eq!(
            keys::sanitize_file_name("a\u{0}b.txt").as_deref(),
            Some("ab.txt")
        );
    }
}

//! `ImageAnalyzer` on Textract and Rekognition.
//!
//! - Images (JPEG, PNG): Textract `DetectDocumentText` (synchronous) for the text,
//!   Rekognition `DetectLabels` for what is in the picture.
//! - Multi-page inputs (PDF, TIFF): a Textract async job
//!   (`StartDocumentTextDetection` with a client request token derived from the
//!   object's ETag, so asking again returns the same job), then
//!   `GetDocumentTextDetection` page by page. While the job runs this answers
//!   `PortError::Pending`, and the state machine asks again later.

use crate::signed::{AwsClient, REKOGNITION, TEXTRACT};
use async_trait::async_trait;
use jarvis_core::domain::ObjectRef;
use jarvis_core::ports::{ImageAnalysis, ImageAnalyzer, PortResult};
use jarvis_core::PortError;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Inline bytes are accepted up to 5 MB by both services; larger images go by S3 reference.
const MAX_INLINE_BYTES: usize = 5 * 1024 * 1024;
const MAX_LABELS: i32 = 20;
const MIN_LABEL_CONFIDENCE: f32 = 70.0;

#[derive(Clone)]
pub struct AwsVision {
    client: AwsClient,
    /// `false`: text only (OCR of scanned documents); Rekognition is never called.
    labels: bool,
}

/// One of Textract's blocks: the fields Jarvis reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Block {
    /// `PAGE`, `LINE`, `WORD`, …
    pub block_type: Option<String>,
    pub page: Option<i32>,
    pub text: Option<String>,
}

/// The fields Jarvis reads of Textract's and Rekognition's answers.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Answer {
    blocks: Vec<Block>,
    job_id: Option<String>,
    job_status: Option<String>,
    status_message: Option<String>,
    next_token: Option<String>,
    labels: Vec<Label>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Label {
    name: Option<String>,
}

/// The image or document itself: inline bytes (base64 in JSON) up to 5 MB,
/// else its S3 object.
fn source(object: &ObjectRef, bytes: &[u8]) -> Value {
    if bytes.len() <= MAX_INLINE_BYTES {
        json!({"Bytes": aws_smithy_types::base64::encode(bytes)})
    } else {
        json!({"S3Object": {"Bucket": object.bucket, "Name": object.key}})
    }
}

/// The Textract job token for one object version (64 characters of `[0-9a-f]` at most).
pub fn job_token(object: &ObjectRef) -> String {
    let mut h = Sha256::new();
    for part in [&object.bucket, &object.key, &object.etag] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())[..48].to_owned()
}

/// Textract's limit on pages per document; a block claiming a later page is ignored.
const MAX_PAGES: i32 = 3000;

/// LINE blocks' text, one entry per page: entry `i` is page `i + 1`. A page
/// with no lines (a blank or photo-only page; Textract still sends its PAGE
/// block) is an empty entry, so the pages after it keep their numbers.
pub fn lines_by_page(blocks: &[Block]) -> Vec<String> {
    let mut pages: BTreeMap<i32, Vec<&str>> = BTreeMap::new();
    let mut last = 0;
    for b in blocks {
        let page = b.page.unwrap_or(1).max(1);
        if page > MAX_PAGES {
            continue;
        }
        last = last.max(page);
        if b.block_type.as_deref() == Some("LINE") {
            if let Some(text) = b.text.as_deref() {
                pages.entry(page).or_default().push(text);
            }
        }
    }
    (1..=last)
        .map(|p| pages.get(&p).map(|l| l.join("\n")).unwrap_or_default())
        .collect()
}

fn is_multi_page(content_type: &str) -> bool {
    matches!(content_type, "application/pdf" | "image/tiff")
}

impl AwsVision {
    /// Text (Textract) and labels (Rekognition).
    pub fn new(client: AwsClient) -> Self {
        Self {
            client,
            labels: true,
        }
    }

    /// Text only (Textract): what OCR of scanned documents needs, no labels.
    pub fn text_only(client: AwsClient) -> Self {
        Self {
            client,
            labels: false,
        }
    }

    async fn image_text(&self, object: &ObjectRef, bytes: &[u8]) -> PortResult<String> {
        let out: Answer = self
            .client
            .call_port(
                &TEXTRACT,
                "DetectDocumentText",
                json!({"Document": source(object, bytes)}),
            )
            .await?;
        Ok(lines_by_page(&out.blocks).join("\n\n"))
    }

    async fn labels(&self, object: &ObjectRef, bytes: &[u8]) -> PortResult<Vec<String>> {
        if !self.labels {
            return Ok(Vec::new());
        }
        let out: Answer = self
            .client
            .call_port(
                &REKOGNITION,
                "DetectLabels",
                json!({
                    "Image": source(object, bytes),
                    "MaxLabels": MAX_LABELS,
                    "MinConfidence": MIN_LABEL_CONFIDENCE,
                }),
            )
            .await?;
        Ok(out.labels.into_iter().filter_map(|l| l.name).collect())
    }

    /// Starts (or finds, by token) the async job and collects its pages when done.
    async fn document_pages(&self, object: &ObjectRef) -> PortResult<Vec<String>> {
        let started: Answer = self
            .client
            .call_port(
                &TEXTRACT,
                "StartDocumentTextDetection",
                json!({
                    "DocumentLocation": {"S3Object": {"Bucket": object.bucket, "Name": object.key}},
                    "ClientRequestToken": job_token(object),
                    "JobTag": "jarvis",
                }),
            )
            .await?;
        let job_id = started.job_id.unwrap_or_default();
        let mut blocks = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut request = json!({"JobId": job_id});
            if let Some(t) = token.take() {
                request["NextToken"] = Value::String(t);
            }
            let page: Answer = self
                .client
                .call_port(&TEXTRACT, "GetDocumentTextDetection", request)
                .await?;
            match page.job_status.as_deref() {
                Some("SUCCEEDED" | "PARTIAL_SUCCESS") => {}
                Some("FAILED") => {
                    return Err(PortError::Invalid(format!(
                        "Textract could not read the document: {}",
                        page.status_message.as_deref().unwrap_or("no reason given")
                    )))
                }
                _ => {
                    return Err(PortError::Pending(format!(
                        "Textract job {job_id} is still running"
                    )))
                }
            }
            blocks.extend(page.blocks);
            match page.next_token {
                Some(t) => token = Some(t),
                None => return Ok(lines_by_page(&blocks)),
            }
        }
    }
}

#[async_trait]
impl ImageAnalyzer for AwsVision {
    async fn analyze(
        &self,
        image: &ObjectRef,
        bytes: &[u8],
        content_type: &str,
    ) -> PortResult<ImageAnalysis> {
        if is_multi_page(content_type) {
            let pages = self.document_pages(image).await?;
            return Ok(ImageAnalysis {
                text: pages.join("\n\n"),
                labels: Vec::new(),
                pages,
            });
        }
        let (text, labels) = if self.labels {
            tokio::try_join!(self.image_text(image, bytes), self.labels(image, bytes))?
        } else {
            (self.image_text(image, bytes).await?, Vec::new())
        };
        Ok(ImageAnalysis {
            text,
            labels,
            pages: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(kind: &str, page: i32, text: Option<&str>) -> Block {
        Block {
            block_type: Some(kind.to_owned()),
            page: Some(page),
            text: text.map(str::to_owned),
        }
    }

    #[test]
    fn a_page_without_lines_keeps_the_later_pages_numbers() {
        let blocks = [
            block("PAGE", 1, None),
            block("LINE", 1, Some("Cover")),
            block("PAGE", 2, None),
            block("PAGE", 3, None),
            block("LINE", 3, Some("Page three")),
            block("WORD", 3, Some("Page")),
            block("LINE", 99_999, Some("bogus")),
        ];
        assert_eq!(lines_by_page(&blocks), ["Cover", "", "Page three"]);
        assert!(lines_by_page(&[]).is_empty());
    }
}

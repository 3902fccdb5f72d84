//! `ImageAnalyzer` on Textract and Rekognition.
//!
//! - Images (JPEG, PNG): Textract `DetectDocumentText` (synchronous) for the text,
//!   Rekognition `DetectLabels` for what is in the picture.
//! - Multi-page inputs (PDF, TIFF): a Textract async job
//!   (`StartDocumentTextDetection` with a client request token derived from the
//!   object's ETag, so asking again returns the same job), then
//!   `GetDocumentTextDetection` page by page. While the job runs this answers
//!   `PortError::Pending`, and the state machine asks again later.

use crate::error::sdk_error;
use async_trait::async_trait;
use aws_sdk_rekognition::types::{Image, S3Object as RekObject};
use aws_sdk_textract::types::{Block, BlockType, Document, DocumentLocation, JobStatus, S3Object};
use jarvis_core::domain::ObjectRef;
use jarvis_core::ports::{ImageAnalysis, ImageAnalyzer, PortResult};
use jarvis_core::PortError;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Inline bytes are accepted up to 5 MB by both services; larger images go by S3 reference.
const MAX_INLINE_BYTES: usize = 5 * 1024 * 1024;
const MAX_LABELS: i32 = 20;
const MIN_LABEL_CONFIDENCE: f32 = 70.0;

#[derive(Clone)]
pub struct AwsVision {
    textract: aws_sdk_textract::Client,
    /// `None`: text only (OCR of scanned documents); Rekognition is never called.
    rekognition: Option<aws_sdk_rekognition::Client>,
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
        let page = b.page().unwrap_or(1).max(1);
        if page > MAX_PAGES {
            continue;
        }
        last = last.max(page);
        if b.block_type() == Some(&BlockType::Line) {
            if let Some(text) = b.text() {
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
    pub fn new(
        textract: aws_sdk_textract::Client,
        rekognition: aws_sdk_rekognition::Client,
    ) -> Self {
        Self {
            textract,
            rekognition: Some(rekognition),
        }
    }

    /// Text only (Textract): what OCR of scanned documents needs, no labels.
    pub fn text_only(textract: aws_sdk_textract::Client) -> Self {
        Self {
            textract,
            rekognition: None,
        }
    }

    async fn image_text(&self, object: &ObjectRef, bytes: &[u8]) -> PortResult<String> {
        let doc = if bytes.len() <= MAX_INLINE_BYTES {
            Document::builder()
                .bytes(aws_smithy_types::Blob::new(bytes))
                .build()
        } else {
            Document::builder()
                .s3_object(
                    S3Object::builder()
                        .bucket(&object.bucket)
                        .name(&object.key)
                        .build(),
                )
                .build()
        };
        let out = self
            .textract
            .detect_document_text()
            .document(doc)
            .send()
            .await
            .map_err(|e| sdk_error("textract", "DetectDocumentText", e))?;
        Ok(lines_by_page(out.blocks()).join("\n\n"))
    }

    async fn labels(&self, object: &ObjectRef, bytes: &[u8]) -> PortResult<Vec<String>> {
        let Some(rekognition) = &self.rekognition else {
            return Ok(Vec::new());
        };
        let image = if bytes.len() <= MAX_INLINE_BYTES {
            Image::builder()
                .bytes(aws_smithy_types::Blob::new(bytes))
                .build()
        } else {
            Image::builder()
                .s3_object(
                    RekObject::builder()
                        .bucket(&object.bucket)
                        .name(&object.key)
                        .build(),
                )
                .build()
        };
        let out = rekognition
            .detect_labels()
            .image(image)
            .max_labels(MAX_LABELS)
            .min_confidence(MIN_LABEL_CONFIDENCE)
            .send()
            .await
            .map_err(|e| sdk_error("rekognition", "DetectLabels", e))?;
        Ok(out
            .labels()
            .iter()
            .filter_map(|l| l.name().map(str::to_owned))
            .collect())
    }

    /// Starts (or finds, by token) the async job and collects its pages when done.
    async fn document_pages(&self, object: &ObjectRef) -> PortResult<Vec<String>> {
        let started = self
            .textract
            .start_document_text_detection()
            .document_location(
                DocumentLocation::builder()
                    .s3_object(
                        S3Object::builder()
                            .bucket(&object.bucket)
                            .name(&object.key)
                            .build(),
                    )
                    .build(),
            )
            .client_request_token(job_token(object))
            .job_tag("jarvis")
            .send()
            .await
            .map_err(|e| sdk_error("textract", "StartDocumentTextDetection", e))?;
        let job_id = started.job_id().unwrap_or_default().to_owned();
        let mut blocks = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .textract
                .get_document_text_detection()
                .job_id(&job_id)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| sdk_error("textract", "GetDocumentTextDetection", e))?;
            match page.job_status() {
                Some(JobStatus::Succeeded) | Some(JobStatus::PartialSuccess) => {}
                Some(JobStatus::Failed) => {
                    return Err(PortError::Invalid(format!(
                        "Textract could not read the document: {}",
                        page.status_message().unwrap_or("no reason given")
                    )))
                }
                _ => {
                    return Err(PortError::Pending(format!(
                        "Textract job {job_id} is still running"
                    )))
                }
            }
            blocks.extend_from_slice(page.blocks());
            match page.next_token() {
                Some(t) => token = Some(t.to_owned()),
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
        let (text, labels) = match &self.rekognition {
            Some(_) => tokio::try_join!(self.image_text(image, bytes), self.labels(image, bytes))?,
            None => (self.image_text(image, bytes).await?, Vec::new()),
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

    fn block(kind: BlockType, page: i32, text: Option<&str>) -> Block {
        Block::builder()
            .block_type(kind)
            .page(page)
            .set_text(text.map(str::to_owned))
            .build()
    }

    #[test]
    fn a_page_without_lines_keeps_the_later_pages_numbers() {
        let blocks = [
            block(BlockType::Page, 1, None),
            block(BlockType::Line, 1, Some("Cover")),
            block(BlockType::Page, 2, None),
            block(BlockType::Page, 3, None),
            block(BlockType::Line, 3, Some("Page three")),
            block(BlockType::Word, 3, Some("Page")),
            block(BlockType::Line, 99_999, Some("bogus")),
        ];
        assert_eq!(lines_by_page(&blocks), ["Cover", "", "Page three"]);
        assert!(lines_by_page(&[]).is_empty());
    }
}

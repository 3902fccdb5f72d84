//! Images and audio on one machine: Tesseract OCR when it is installed; no
//! local speech-to-text. Both say plainly what is missing, so the document is
//! kept and marked `skipped` with that reason instead of failing mysteriously.

use async_trait::async_trait;
use jarvis_core::domain::ObjectRef;
use jarvis_core::ports::{ImageAnalysis, ImageAnalyzer, PortResult, Transcriber, Transcript};
use jarvis_core::PortError;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

/// OCR with the `tesseract` command.
#[derive(Debug, Clone)]
pub struct TesseractOcr {
    binary: String,
    version: Option<String>,
}

impl TesseractOcr {
    /// Probes `binary --version` once.
    pub fn probe(binary: &str) -> Self {
        let version = std::process::Command::new(binary)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| {
                let text = String::from_utf8_lossy(if o.stdout.is_empty() {
                    &o.stderr
                } else {
                    &o.stdout
                })
                .into_owned();
                text.lines().next().map(str::to_owned)
            });
        Self {
            binary: binary.to_owned(),
            version,
        }
    }

    /// The engine's version line, when installed.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }
}

#[async_trait]
impl ImageAnalyzer for TesseractOcr {
    async fn analyze(
        &self,
        _image: &ObjectRef,
        bytes: &[u8],
        _content_type: &str,
    ) -> PortResult<ImageAnalysis> {
        if self.version.is_none() {
            return Err(PortError::Unavailable {
                what: "image text extraction (OCR)".into(),
                hint: format!(
                    "Tesseract was not found as {:?}; install it (apt-get install tesseract-ocr) or set JARVIS_TESSERACT, then upload the image again",
                    self.binary
                ),
            });
        }
        let mut child = tokio::process::Command::new(&self.binary)
            .args(["stdin", "stdout", "--psm", "3"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| PortError::backend("tesseract", e))?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| PortError::Invalid("tesseract stdin".into()))?;
        let input = bytes.to_vec();
        let writer = tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
        });
        let output = tokio::time::timeout(
            std::time::Duration::from_secs(120),
            child.wait_with_output(),
        )
        .await
        .map_err(|_| PortError::Invalid("OCR took longer than 120 s".into()))?
        .map_err(|e| PortError::backend("tesseract", e))?;
        let _ = writer.await;
        if !output.status.success() {
            let err = String::from_utf8_lossy(&output.stderr);
            return Err(PortError::Invalid(format!(
                "the image could not be read: {}",
                err.lines().last().unwrap_or("tesseract failed")
            )));
        }
        Ok(ImageAnalysis {
            text: String::from_utf8_lossy(&output.stdout).into_owned(),
            labels: Vec::new(),
            pages: Vec::new(),
        })
    }
}

/// The local transcriber: there is no speech-to-text engine on one machine by
/// default, and it says so (on AWS, Amazon Transcribe does this step).
#[derive(Debug, Clone, Default)]
pub struct NoLocalTranscriber;

#[async_trait]
impl Transcriber for NoLocalTranscriber {
    async fn transcribe(&self, _media: &ObjectRef, _content_type: &str) -> PortResult<Transcript> {
        Err(PortError::Unavailable {
            what: "audio transcription".into(),
            hint: "the local runtime has no speech-to-text engine; the file is kept, and is transcribed when deployed on AWS (Amazon Transcribe)".into(),
        })
    }
}

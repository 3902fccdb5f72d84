//! Third-party parsers in a child process with bounded memory and time.
//!
//! pdf-extract, lopdf, html2text and zip are other people's code fed other
//! people's files: a hostile one can expand past any memory (a decompression
//! bomb in an object stream or an LZW or ASCII85 chain inflates inside the
//! parser itself), or loop. [`catch_unwind`](std::panic::catch_unwind) stops a
//! panic, not an abort on a failed allocation or a loop. So the parse runs in a
//! child process — the same executable, started with [`CHILD_ARG`] — whose
//! address space is capped (`RLIMIT_AS`) and which is killed past its time.
//! Whatever happens to it, the caller gets an [`ExtractError`] with a reason in
//! words, and the process that asked keeps going.
//!
//! The protocol: the request on the child's stdin (one JSON line
//! `{"content_type", "name"}`, then the file's bytes), the answer on its stdout
//! (one JSON object: the document, or the error's words).
//!
//! Every binary that hands parsing to a [`Sandbox`] of itself calls
//! [`serve_child_if_asked`] first thing in `main`.

use crate::{ExtractError, ExtractedDocument};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

/// The first argument that makes an executable a parser child.
pub const CHILD_ARG: &str = "__parse";

/// Largest answer read from a child (an extracted document as JSON).
const MAX_ANSWER_BYTES: usize = 256 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
struct Request {
    content_type: String,
    name: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Answer {
    Document(ExtractedDocument),
    Refused { message: String, no_text: bool },
}

/// Where and how parsers run.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// The executable started as the child (with [`CHILD_ARG`]).
    pub program: PathBuf,
    /// Its address-space cap.
    pub memory_bytes: u64,
    /// How long it may take.
    pub timeout: Duration,
}

impl Sandbox {
    /// The running executable as the child.
    pub fn of_this_program(memory_bytes: u64, timeout: Duration) -> std::io::Result<Self> {
        Ok(Self {
            program: std::env::current_exe()?,
            memory_bytes,
            timeout,
        })
    }

    /// Extracts a document in a child process; see the module documentation.
    pub async fn extract(
        &self,
        bytes: &[u8],
        content_type: &str,
        file_name: &str,
    ) -> Result<ExtractedDocument, ExtractError> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let failed = |detail: String| ExtractError::Reported {
            message: format!("the file could not be read: {detail}"),
            no_text: false,
        };
        let mut command = tokio::process::Command::new(&self.program);
        command
            .arg(CHILD_ARG)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        let limit = self.memory_bytes;
        let cpu_seconds = self.timeout.as_secs() + 1;
        // SAFETY: between fork and exec only setrlimit runs, which is
        // async-signal-safe; nothing is allocated or locked.
        unsafe {
            command.pre_exec(move || {
                let memory = libc::rlimit {
                    rlim_cur: limit as libc::rlim_t,
                    rlim_max: limit as libc::rlim_t,
                };
                let cpu = libc::rlimit {
                    rlim_cur: cpu_seconds as libc::rlim_t,
                    rlim_max: cpu_seconds as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &memory) != 0
                    || libc::setrlimit(libc::RLIMIT_CPU, &cpu) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| failed(format!("the parser could not be started: {e}")))?;
        let mut request = serde_json::to_vec(&Request {
            content_type: content_type.to_owned(),
            name: file_name.to_owned(),
        })
        .map_err(|e| failed(e.to_string()))?;
        request.push(b'\n');
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let body = bytes.to_vec();
        let work = async move {
            // A child that dies early closes its end: writing stops, reading says why.
            let write = async move {
                let _ = stdin.write_all(&request).await;
                let _ = stdin.write_all(&body).await;
                drop(stdin);
            };
            let read = async move {
                let mut out = Vec::new();
                let n = (&mut stdout)
                    .take(MAX_ANSWER_BYTES as u64 + 1)
                    .read_to_end(&mut out)
                    .await;
                (n, out)
            };
            let ((), (n, out)) = tokio::join!(write, read);
            (n, out)
        };
        let (read, out) = match tokio::time::timeout(self.timeout, work).await {
            Ok(done) => done,
            Err(_) => {
                let _ = child.kill().await;
                return Err(failed(format!(
                    "reading it took longer than {} s, so it was stopped",
                    self.timeout.as_secs()
                )));
            }
        };
        let status = match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
            Ok(Ok(status)) => status,
            _ => {
                let _ = child.kill().await;
                return Err(failed("the parser did not end".into()));
            }
        };
        if read.is_err() || out.len() > MAX_ANSWER_BYTES || !status.success() {
            return Err(failed(format!(
                "reading it needed more than the parser's {} MB of memory or {} s, or crashed the parser ({status}); a file like that is not read",
                self.memory_bytes / (1024 * 1024),
                self.timeout.as_secs()
            )));
        }
        match serde_json::from_slice::<Answer>(&out) {
            Ok(Answer::Document(doc)) => Ok(doc),
            Ok(Answer::Refused { message, no_text }) => {
                Err(ExtractError::Reported { message, no_text })
            }
            Err(e) => Err(failed(format!("the parser's answer was unreadable: {e}"))),
        }
    }
}

/// In a binary's `main`, first thing: when started as a parser child, parses
/// what stdin holds, answers on stdout and exits; otherwise returns.
pub fn serve_child_if_asked() {
    if std::env::args().nth(1).as_deref() != Some(CHILD_ARG) {
        return;
    }
    let code = match child() {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "parser child: {e}");
            2
        }
    };
    std::process::exit(code);
}

fn child() -> std::io::Result<()> {
    let mut input = Vec::new();
    std::io::stdin().lock().read_to_end(&mut input)?;
    let split = input
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| std::io::Error::other("no request line"))?;
    let request: Request = serde_json::from_slice(&input[..split])?;
    let bytes = &input[split + 1..];
    let answer = match crate::extract_document(bytes, &request.content_type, &request.name) {
        Ok(doc) => Answer::Document(doc),
        Err(e) => Answer::Refused {
            no_text: e.is_no_text(),
            message: e.to_string(),
        },
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &answer)?;
    out.flush()
}

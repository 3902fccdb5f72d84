//! The BERT encoder of all-MiniLM-L6-v2 in fp32: embeddings, six layers of
//! self-attention and feed-forward with post-layer normalisation, then the
//! mean of the token vectors, L2-normalised. One sequence at a time, so no
//! padding and no attention mask; a batch is spread over the machine's cores.
//!
//! The weights are read from `model.safetensors` (a JSON header of names,
//! shapes and offsets, then little-endian data); a file that does not hold
//! what `config.json` describes is refused at load.

use crate::Error;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The parts of `config.json` the forward pass needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub hidden_size: usize,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub vocab_size: usize,
    #[serde(default = "two")]
    pub type_vocab_size: usize,
    #[serde(default = "eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "gelu")]
    pub hidden_act: String,
    #[serde(default = "absolute")]
    pub position_embedding_type: String,
}

fn two() -> usize {
    2
}
fn eps() -> f64 {
    1e-12
}
fn gelu() -> String {
    "gelu".into()
}
fn absolute() -> String {
    "absolute".into()
}

/// `y = x·Wᵀ + b` with `W` as PyTorch stores it: `[out, in]`, row-major.
struct Linear {
    w: Vec<f32>,
    b: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: Norm,
    up: Linear,
    down: Linear,
    out_norm: Norm,
}

/// One sequence's vector in [`MiniLm::embed_many`], once embedded.
type Slot = Option<Result<Vec<f32>, Error>>;

/// The encoder, loaded.
pub struct MiniLm {
    config: Config,
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
}

impl MiniLm {
    /// Loads `config.json` and `model.safetensors` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let read = |file: &str| {
            std::fs::read(dir.join(file)).map_err(|source| Error::Io {
                file: dir.join(file).display().to_string(),
                source,
            })
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| Error::format("config.json", e.to_string()))?;
        Self::from_parts(config, &read("model.safetensors")?)
    }

    /// The encoder from a parsed config and the bytes of a safetensors file.
    pub fn from_parts(config: Config, safetensors: &[u8]) -> Result<Self, Error> {
        let c = &config;
        if c.hidden_act != "gelu" || c.position_embedding_type != "absolute" {
            return Err(Error::format(
                "config.json",
                format!(
                    "hidden_act {:?} and position_embedding_type {:?}: only gelu and absolute are supported",
                    c.hidden_act, c.position_embedding_type
                ),
            ));
        }
        if c.num_attention_heads == 0 || !c.hidden_size.is_multiple_of(c.num_attention_heads) {
            return Err(Error::format(
                "config.json",
                "hidden_size is not a multiple of num_attention_heads",
            ));
        }
        let mut tensors = Tensors::parse(safetensors)?;
        let (d, ff) = (c.hidden_size, c.intermediate_size);
        let norm = |t: &mut Tensors, name: &str| -> Result<Norm, Error> {
            Ok(Norm {
                gamma: t.take(&format!("{name}.weight"), &[d])?,
                beta: t.take(&format!("{name}.bias"), &[d])?,
            })
        };
        let linear = |t: &mut Tensors, name: &str, inputs: usize, outputs: usize| {
            Ok::<_, Error>(Linear {
                w: t.take(&format!("{name}.weight"), &[outputs, inputs])?,
                b: t.take(&format!("{name}.bias"), &[outputs])?,
                inputs,
                outputs,
            })
        };
        let t = &mut tensors;
        let word = t.take("embeddings.word_embeddings.weight", &[c.vocab_size, d])?;
        let position = t.take(
            "embeddings.position_embeddings.weight",
            &[c.max_position_embeddings, d],
        )?;
        let token_type = t.take(
            "embeddings.token_type_embeddings.weight",
            &[c.type_vocab_size, d],
        )?;
        let embedding_norm = norm(t, "embeddings.LayerNorm")?;
        let layers = (0..c.num_hidden_layers)
            .map(|i| {
                let p = format!("encoder.layer.{i}");
                Ok(Layer {
                    query: linear(t, &format!("{p}.attention.self.query"), d, d)?,
                    key: linear(t, &format!("{p}.attention.self.key"), d, d)?,
                    value: linear(t, &format!("{p}.attention.self.value"), d, d)?,
                    attention_out: linear(t, &format!("{p}.attention.output.dense"), d, d)?,
                    attention_norm: norm(t, &format!("{p}.attention.output.LayerNorm"))?,
                    up: linear(t, &format!("{p}.intermediate.dense"), d, ff)?,
                    down: linear(t, &format!("{p}.output.dense"), ff, d)?,
                    out_norm: norm(t, &format!("{p}.output.LayerNorm"))?,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Self {
            config,
            word,
            position,
            token_type,
            embedding_norm,
            layers,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The sentence vector of one sequence of token ids (with its `[CLS]`
    /// and `[SEP]`): unit length, `hidden_size` long. Ids past the
    /// vocabulary, or more ids than positions, are refused.
    pub fn embed(&self, ids: &[u32]) -> Result<Vec<f32>, Error> {
        let c = &self.config;
        let d = c.hidden_size;
        if ids.len() > c.max_position_embeddings {
            return Err(Error::format(
                "input",
                format!(
                    "{} tokens; the model takes at most {}",
                    ids.len(),
                    c.max_position_embeddings
                ),
            ));
        }
        if let Some(&bad) = ids.iter().find(|&&id| id as usize >= c.vocab_size) {
            return Err(Error::format(
                "input",
                format!("token id {bad} is past the vocabulary"),
            ));
        }
        if ids.is_empty() {
            return Ok(vec![0.0; d]);
        }
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU has AVX2 and FMA (checked just above).
                return Ok(unsafe { avx2::encode(self, ids) });
            }
        }
        Ok(self.encode(ids, |x, n, l, y| blocked(x, n, l, y, tile)))
    }

    /// The forward pass and pooling, with `linear` for the matrix products;
    /// inlined into [`avx2::encode`] so every loop here gets AVX2 there.
    #[inline(always)]
    fn encode(&self, ids: &[u32], linear: impl Fn(&[f32], usize, &Linear, &mut [f32])) -> Vec<f32> {
        let c = &self.config;
        let d = c.hidden_size;
        let n = ids.len();
        let eps = c.layer_norm_eps as f32;
        // Embeddings: word + position + token type 0, normalised.
        let mut x = vec![0.0f32; n * d];
        for (i, &id) in ids.iter().enumerate() {
            let row = &mut x[i * d..(i + 1) * d];
            let word = &self.word[id as usize * d..][..d];
            let position = &self.position[i * d..][..d];
            for j in 0..d {
                row[j] = word[j] + position[j] + self.token_type[j];
            }
        }
        layer_norm(&mut x, d, &self.embedding_norm, eps);

        let heads = c.num_attention_heads;
        let head = d / heads;
        let scale = 1.0 / (head as f32).sqrt();
        let (mut q, mut k, mut v) = (vec![0.0; n * d], vec![0.0; n * d], vec![0.0; n * d]);
        let mut context = vec![0.0; n * d];
        let mut attended = vec![0.0; n * d];
        let mut hidden = vec![0.0; n * c.intermediate_size];
        let mut scores = vec![0.0f32; n];
        for layer in &self.layers {
            linear(&x, n, &layer.query, &mut q);
            linear(&x, n, &layer.key, &mut k);
            linear(&x, n, &layer.value, &mut v);
            context.fill(0.0);
            for h in 0..heads {
                let cols = h * head..(h + 1) * head;
                for i in 0..n {
                    let qi = &q[i * d..][cols.clone()];
                    let mut max = f32::NEG_INFINITY;
                    for (j, s) in scores.iter_mut().enumerate() {
                        *s = dot(qi, &k[j * d..][cols.clone()]) * scale;
                        max = max.max(*s);
                    }
                    let mut sum = 0.0;
                    for s in scores.iter_mut() {
                        *s = (*s - max).exp();
                        sum += *s;
                    }
                    let out = &mut context[i * d..][cols.clone()];
                    for (j, &s) in scores.iter().enumerate() {
                        let p = s / sum;
                        for (o, &vj) in out.iter_mut().zip(&v[j * d..][cols.clone()]) {
                            *o += p * vj;
                        }
                    }
                }
            }
            linear(&context, n, &layer.attention_out, &mut attended);
            for (a, &r) in attended.iter_mut().zip(&x) {
                *a += r;
            }
            layer_norm(&mut attended, d, &layer.attention_norm, eps);
            linear(&attended, n, &layer.up, &mut hidden);
            for h in hidden.iter_mut() {
                *h = gelu_erf(*h);
            }
            linear(&hidden, n, &layer.down, &mut x);
            for (o, &r) in x.iter_mut().zip(&attended) {
                *o += r;
            }
            layer_norm(&mut x, d, &layer.out_norm, eps);
        }

        // Mean over the tokens, then unit length.
        let mut mean = vec![0.0f32; d];
        for row in x.chunks_exact(d) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        for m in &mut mean {
            *m /= n as f32;
        }
        let norm = mean.iter().map(|m| m * m).sum::<f32>().sqrt().max(1e-12);
        for m in &mut mean {
            *m /= norm;
        }
        mean
    }

    /// The vectors of many sequences, in order, across the machine's cores.
    pub fn embed_many(&self, sequences: &[Vec<u32>]) -> Result<Vec<Vec<f32>>, Error> {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(sequences.len());
        if threads <= 1 {
            return sequences.iter().map(|s| self.embed(s)).collect();
        }
        // Longest first, so no core is left with a long one at the end.
        let mut order: Vec<usize> = (0..sequences.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(sequences[i].len()));
        let next = AtomicUsize::new(0);
        let out: Mutex<Vec<Slot>> = Mutex::new((0..sequences.len()).map(|_| None).collect());
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| loop {
                    let at = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = order.get(at) else { break };
                    let vector = self.embed(&sequences[i]);
                    out.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(vector);
                });
            }
        });
        out.into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_iter()
            .map(|v| v.expect("every sequence was embedded"))
            .collect()
    }
}

#[inline(always)]
fn layer_norm(x: &mut [f32], d: usize, norm: &Norm, eps: f32) {
    for row in x.chunks_exact_mut(d) {
        let mean = row.iter().sum::<f32>() / d as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, &g), &b) in row.iter_mut().zip(&norm.gamma).zip(&norm.beta) {
            *v = (*v - mean) * inv * g + b;
        }
    }
}

/// GELU with the exact error function (BERT's `gelu`).
fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x / std::f32::consts::SQRT_2))
}

/// The error function, from Numerical Recipes' fit of `erfc` (fractional
/// error under 1.2e-7 everywhere), in f64.
fn erf(x: f32) -> f32 {
    let z = (x as f64).abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    (if x >= 0.0 { 1.0 - erfc } else { erfc - 1.0 }) as f32
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight running sums the compiler keeps in vector registers.
    let mut acc = [0.0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Rows of `x` and rows of `W` dotted a tile at a time.
const TILE_ROWS: usize = 4;
const TILE_COLS: usize = 2;
/// Rows of `W` worked through before moving on (32 rows of 1536 floats is
/// 192 KiB, which stays in the L2 cache while every row of `x` passes).
const BLOCK_COLS: usize = 32;

type Tile = [[f32; TILE_COLS]; TILE_ROWS];

/// `y[n × out] = x[n × in] · Wᵀ + b`, by the loop nest: a block of `W`'s rows against every row of `x`, a tile of
/// four rows by two at a time. `W` (up to 2.4 MB) is read from memory once
/// per product, not once per four tokens. Rows past the end repeat the last
/// one (their sums are dropped).
#[inline(always)]
fn blocked(
    x: &[f32],
    n: usize,
    l: &Linear,
    y: &mut [f32],
    tile: impl Fn([&[f32]; TILE_ROWS], [&[f32]; TILE_COLS]) -> Tile,
) {
    let (k, m) = (l.inputs, l.outputs);
    for block in (0..m).step_by(BLOCK_COLS) {
        let block_end = (block + BLOCK_COLS).min(m);
        for i in (0..n).step_by(TILE_ROWS) {
            let rows = (n - i).min(TILE_ROWS);
            let xr: [&[f32]; TILE_ROWS] =
                std::array::from_fn(|r| &x[(i + r.min(rows - 1)) * k..][..k]);
            for o in (block..block_end).step_by(TILE_COLS) {
                let cols = (block_end - o).min(TILE_COLS);
                let wr: [&[f32]; TILE_COLS] =
                    std::array::from_fn(|c| &l.w[(o + c.min(cols - 1)) * k..][..k]);
                let sums = tile(xr, wr);
                for (r, row) in sums.iter().enumerate().take(rows) {
                    for (c, sum) in row.iter().enumerate().take(cols) {
                        y[(i + r) * m + o + c] = sum + l.b[o + c];
                    }
                }
            }
        }
    }
}

/// The portable tile: eight running sums per dot product, which the
/// compiler keeps in vector registers.
fn tile(x: [&[f32]; TILE_ROWS], w: [&[f32]; TILE_COLS]) -> Tile {
    const LANES: usize = 8;
    let k = w[0].len();
    let whole = k - k % LANES;
    let mut acc = [[[0.0f32; LANES]; TILE_COLS]; TILE_ROWS];
    for p in (0..whole).step_by(LANES) {
        let wv: [&[f32; LANES]; TILE_COLS] =
            std::array::from_fn(|c| w[c][p..p + LANES].try_into().unwrap());
        for r in 0..TILE_ROWS {
            let xv: &[f32; LANES] = x[r][p..p + LANES].try_into().unwrap();
            for c in 0..TILE_COLS {
                for lane in 0..LANES {
                    acc[r][c][lane] += xv[lane] * wv[c][lane];
                }
            }
        }
    }
    std::array::from_fn(|r| {
        std::array::from_fn(|c| {
            acc[r][c].iter().sum::<f32>() + (whole..k).map(|p| x[r][p] * w[c][p]).sum::<f32>()
        })
    })
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{blocked, MiniLm, Tile, TILE_COLS, TILE_ROWS};
    use std::arch::x86_64::*;

    /// [`MiniLm::encode`] compiled for AVX2 and FMA, with their tile.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn encode(model: &MiniLm, ids: &[u32]) -> Vec<f32> {
        // SAFETY: this function only runs where the CPU has AVX2 and FMA.
        model.encode(ids, |x, n, l, y| {
            blocked(x, n, l, y, |x, w| unsafe { tile(x, w) })
        })
    }

    /// The sum of a register's eight floats.
    #[target_feature(enable = "avx2,fma")]
    fn sum(v: __m256) -> f32 {
        let quad = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
        _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps(pair, pair, 1)))
    }

    /// Eight dot products in eight registers, eight floats per step, fused
    /// multiply-adds; the slices all have the same length.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn tile(x: [&[f32]; TILE_ROWS], w: [&[f32]; TILE_COLS]) -> Tile {
        let k = w[0].len();
        let whole = k - k % 8;
        let (x0, x1, x2, x3) = (x[0].as_ptr(), x[1].as_ptr(), x[2].as_ptr(), x[3].as_ptr());
        let (w0, w1) = (w[0].as_ptr(), w[1].as_ptr());
        let zero = _mm256_setzero_ps();
        let (mut a00, mut a01, mut a10, mut a11) = (zero, zero, zero, zero);
        let (mut a20, mut a21, mut a30, mut a31) = (zero, zero, zero, zero);
        let mut p = 0;
        while p < whole {
            // SAFETY: p + 8 <= whole <= k, the length of every slice.
            unsafe {
                let v0 = _mm256_loadu_ps(w0.add(p));
                let v1 = _mm256_loadu_ps(w1.add(p));
                // Named sums, so each stays in a register (an array indexed
                // in a loop was stored back to the stack at every step).
                macro_rules! row {
                    ($x:ident, $s0:ident, $s1:ident) => {
                        let u = _mm256_loadu_ps($x.add(p));
                        $s0 = _mm256_fmadd_ps(u, v0, $s0);
                        $s1 = _mm256_fmadd_ps(u, v1, $s1);
                    };
                }
                row!(x0, a00, a01);
                row!(x1, a10, a11);
                row!(x2, a20, a21);
                row!(x3, a30, a31);
            }
            p += 8;
        }
        let mut out = [
            [sum(a00), sum(a01)],
            [sum(a10), sum(a11)],
            [sum(a20), sum(a21)],
            [sum(a30), sum(a31)],
        ];
        if whole < k {
            for (r, row) in out.iter_mut().enumerate() {
                for (c, o) in row.iter_mut().enumerate() {
                    *o += (whole..k).map(|p| x[r][p] * w[c][p]).sum::<f32>();
                }
            }
        }
        out
    }
}

/// The tensors of a safetensors file, taken out one by one by name.
struct Tensors<'a> {
    data: &'a [u8],
    index: HashMap<String, (String, Vec<usize>, usize, usize)>,
}

const WEIGHTS: &str = "model.safetensors";

impl<'a> Tensors<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let len = bytes
            .get(..8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
            .ok_or_else(|| Error::format(WEIGHTS, "shorter than its header"))?;
        let header_end = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_add(8))
            .filter(|&end| end <= bytes.len())
            .ok_or_else(|| Error::format(WEIGHTS, "header length past the end of the file"))?;
        let header: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&bytes[8..header_end])
                .map_err(|e| Error::format(WEIGHTS, format!("header: {e}")))?;
        let data = &bytes[header_end..];
        let mut index = HashMap::new();
        for (name, entry) in header {
            if name == "__metadata__" {
                continue;
            }
            let bad = || Error::format(WEIGHTS, format!("{name}: malformed entry"));
            let dtype = entry
                .get("dtype")
                .and_then(|d| d.as_str())
                .ok_or_else(bad)?;
            let shape = entry
                .get("shape")
                .and_then(|s| s.as_array())
                .ok_or_else(bad)?
                .iter()
                .map(|v| v.as_u64().map(|v| v as usize).ok_or_else(bad))
                .collect::<Result<Vec<_>, _>>()?;
            let offsets = entry
                .get("data_offsets")
                .and_then(|o| o.as_array())
                .filter(|o| o.len() == 2)
                .ok_or_else(bad)?;
            let start = offsets[0].as_u64().ok_or_else(bad)? as usize;
            let end = offsets[1].as_u64().ok_or_else(bad)? as usize;
            if start > end || end > data.len() {
                return Err(Error::format(WEIGHTS, format!("{name}: data past the end")));
            }
            // Some exports put the encoder under `bert.`.
            let name = name.strip_prefix("bert.").unwrap_or(&name).to_string();
            index.insert(name, (dtype.to_string(), shape, start, end));
        }
        Ok(Self { data, index })
    }

    /// The f32 tensor `name`, which must have `shape`.
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, Error> {
        let (dtype, found, start, end) = self
            .index
            .remove(name)
            .ok_or_else(|| Error::format(WEIGHTS, format!("no tensor {name}")))?;
        if dtype != "F32" || found != shape {
            return Err(Error::format(
                WEIGHTS,
                format!("{name} is {dtype} {found:?}; expected F32 {shape:?}"),
            ));
        }
        let count: usize = shape.iter().product();
        if end - start != count * 4 {
            return Err(Error::format(
                WEIGHTS,
                format!("{name}: {} bytes for {count} values", end - start),
            ));
        }
        Ok(self.data[start..end]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        for (x, want) in [
            (0.0f32, 0.0f64),
            (0.5, 0.520_499_877_8),
            (1.0, 0.842_700_792_9),
            (-1.0, -0.842_700_792_9),
            (2.0, 0.995_322_265_0),
            (-3.5, -0.999_999_256_9),
        ] {
            assert!((erf(x) as f64 - want).abs() < 2e-7, "erf({x})");
        }
    }

    #[test]
    fn the_blocked_product_equals_the_plain_one_at_every_edge() {
        // Sizes that leave rows, columns and lanes over.
        for (n, k, m) in [(1, 3, 1), (5, 19, 3), (4, 16, 2), (7, 40, 9), (9, 384, 70)] {
            let x: Vec<f32> = (0..n * k)
                .map(|i| ((i * 7 % 13) as f32 - 6.0) / 5.0)
                .collect();
            let l = Linear {
                w: (0..m * k)
                    .map(|i| ((i * 5 % 11) as f32 - 5.0) / 3.0)
                    .collect(),
                b: (0..m).map(|i| i as f32).collect(),
                inputs: k,
                outputs: m,
            };
            let mut products = vec![vec![0.0; n * m]];
            blocked(&x, n, &l, &mut products[0], tile);
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                let mut y = vec![0.0; n * m];
                // SAFETY: the CPU has AVX2 and FMA (checked just above).
                blocked(&x, n, &l, &mut y, |x, w| unsafe { avx2::tile(x, w) });
                products.push(y);
            }
            for y in &products {
                for r in 0..n {
                    for c in 0..m {
                        let want: f32 =
                            (0..k).map(|q| x[r * k + q] * l.w[c * k + q]).sum::<f32>() + l.b[c];
                        assert!((y[r * m + c] - want).abs() < 1e-4, "{n}x{k}x{m} at {r},{c}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_truncated_or_mislabelled_weights_file_is_refused() {
        assert!(Tensors::parse(&[1, 2, 3]).is_err());
        assert!(Tensors::parse(&u64::MAX.to_le_bytes()).is_err());
        let header = br#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#;
        let mut file = (header.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(header);
        file.extend_from_slice(&[0; 8]);
        assert!(Tensors::parse(&file).is_err(), "data past the end");
        let header = br#"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#;
        let mut file = (header.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(header);
        file.extend_from_slice(&[0; 4]);
        let e = Tensors::parse(&file).unwrap().take("a", &[2]).unwrap_err();
        assert!(e.to_string().contains("expected F32"), "{e}");
    }
}

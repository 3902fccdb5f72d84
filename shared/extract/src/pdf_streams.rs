//! How far a PDF stream expands, counted without holding it: the stream's
//! filter chain ([`Filter`]s, in decoding order) as push decoders writing
//! into a counter that refuses past a limit. Every filter that can expand —
//! FlateDecode (also with a broken zlib header, which parsers then read as raw
//! deflate), LZWDecode, ASCII85Decode (`z` is four zero bytes), ASCIIHexDecode
//! and RunLengthDecode — is followed through any chain of the others; an image
//! filter (DCT, JPX, JBIG2, CCITT) ends the chain and counts its input.

use std::cell::Cell;
use std::io::{self, Write};
use std::rc::Rc;

/// A stream filter, by its PDF name (full or abbreviated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    Flate,
    Lzw {
        early_change: bool,
    },
    Ascii85,
    AsciiHex,
    RunLength,
    /// One that does not expand text (image codecs): counted as its input.
    Opaque,
}

impl Filter {
    pub fn named(name: &[u8], early_change: bool) -> Self {
        match name {
            b"FlateDecode" | b"Fl" => Self::Flate,
            b"LZWDecode" | b"LZW" => Self::Lzw { early_change },
            b"ASCII85Decode" | b"A85" => Self::Ascii85,
            b"ASCIIHexDecode" | b"AHx" => Self::AsciiHex,
            b"RunLengthDecode" | b"RL" => Self::RunLength,
            _ => Self::Opaque,
        }
    }
}

/// Counts what reaches it; past `limit` it refuses (an error), which stops
/// every decoder in front of it.
struct Counter {
    count: Rc<Cell<u64>>,
    limit: u64,
}

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.count.get().saturating_add(buf.len() as u64);
        self.count.set(n);
        if n > self.limit {
            return Err(io::Error::other("past the limit"));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How many bytes `content` decodes to through `filters`, counting at most
/// `limit + 1` (so `> limit` means "past it"). A stream that stops making
/// sense counts as far as it decoded: the parser decides whether the file is
/// readable; this only bounds what it could be made to hold.
pub fn expanded_size(content: &[u8], filters: &[Filter], limit: u64) -> u64 {
    let count = Rc::new(Cell::new(0u64));
    let mut sink: Box<dyn Write> = Box::new(Counter {
        count: count.clone(),
        limit,
    });
    for filter in filters.iter().rev() {
        sink = match filter {
            Filter::Flate => Box::new(FlateWriter::new(sink)),
            Filter::Lzw { early_change } => Box::new(LzwWriter::new(sink, *early_change)),
            Filter::Ascii85 => Box::new(Ascii85Writer::new(sink)),
            Filter::AsciiHex => Box::new(AsciiHexWriter::new(sink)),
            Filter::RunLength => Box::new(RunLengthWriter::new(sink)),
            // Counted as its input: nothing after it is followed.
            Filter::Opaque => Box::new(Counter {
                count: count.clone(),
                limit,
            }),
        };
    }
    for piece in content.chunks(64 * 1024) {
        if sink.write_all(piece).is_err() {
            break;
        }
    }
    let _ = sink.flush();
    drop(sink);
    count.get()
}

/// FlateDecode: zlib, or — when the zlib header is not one — raw deflate
/// after those two bytes, as parsers fall back to.
struct FlateWriter {
    head: Vec<u8>,
    next: Option<Box<dyn Write>>,
    inner: Option<Box<dyn Write>>,
}

impl FlateWriter {
    fn new(next: Box<dyn Write>) -> Self {
        Self {
            head: Vec::with_capacity(2),
            next: Some(next),
            inner: None,
        }
    }
}

impl Write for FlateWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(inner) = &mut self.inner {
            return inner.write(buf);
        }
        let take = (2 - self.head.len()).min(buf.len());
        self.head.extend_from_slice(&buf[..take]);
        if self.head.len() == 2 {
            let next = self.next.take().expect("set until the head is read");
            let (cmf, flg) = (self.head[0], self.head[1]);
            let zlib = cmf & 0x0f == 8 && (u16::from(cmf) * 256 + u16::from(flg)) % 31 == 0;
            let inner: &mut Box<dyn Write> = self.inner.insert(if zlib {
                Box::new(flate2::write::ZlibDecoder::new(next))
            } else {
                Box::new(flate2::write::DeflateDecoder::new(next))
            });
            if zlib {
                inner.write_all(&self.head)?;
            }
            inner.write_all(&buf[take..])?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Some(inner) => inner.flush(),
            None => Ok(()),
        }
    }
}

/// LZWDecode (weezl, most significant bit first, as PDF writes it).
struct LzwWriter {
    decoder: weezl::decode::Decoder,
    next: Box<dyn Write>,
    out: Vec<u8>,
    done: bool,
}

impl LzwWriter {
    fn new(next: Box<dyn Write>, early_change: bool) -> Self {
        use weezl::{decode::Decoder, BitOrder};
        let decoder = if early_change {
            Decoder::with_tiff_size_switch(BitOrder::Msb, 8)
        } else {
            Decoder::new(BitOrder::Msb, 8)
        };
        Self {
            decoder,
            next,
            out: vec![0; 64 * 1024],
            done: false,
        }
    }
}

impl Write for LzwWriter {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        while !self.done && !buf.is_empty() {
            let r = self.decoder.decode_bytes(buf, &mut self.out);
            self.next.write_all(&self.out[..r.consumed_out])?;
            buf = &buf[r.consumed_in..];
            match r.status {
                Ok(weezl::LzwStatus::Done) | Err(_) => self.done = true,
                Ok(weezl::LzwStatus::NoProgress) if r.consumed_in == 0 && r.consumed_out == 0 => {
                    self.done = true
                }
                Ok(_) => {}
            }
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.next.flush()
    }
}

/// ASCII85Decode: five characters are four bytes; `z` is four zero bytes;
/// `~` ends it.
struct Ascii85Writer {
    next: Box<dyn Write>,
    group: [u8; 5],
    len: usize,
    ended: bool,
}

impl Ascii85Writer {
    fn new(next: Box<dyn Write>) -> Self {
        Self {
            next,
            group: [0; 5],
            len: 0,
            ended: false,
        }
    }
}

impl Write for Ascii85Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut out = Vec::with_capacity(buf.len());
        for &c in buf {
            if self.ended {
                break;
            }
            match c {
                b'z' if self.len == 0 => out.extend_from_slice(&[0; 4]),
                b'~' => self.ended = true,
                c if c.is_ascii_whitespace() => {}
                b'!'..=b'u' => {
                    self.group[self.len] = c - b'!';
                    self.len += 1;
                    if self.len == 5 {
                        let v = self
                            .group
                            .iter()
                            .fold(0u64, |acc, d| acc * 85 + u64::from(*d));
                        out.extend_from_slice(&(v as u32).to_be_bytes());
                        self.len = 0;
                    }
                }
                _ => self.ended = true,
            }
        }
        self.next.write_all(&out)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.next.flush()
    }
}

/// ASCIIHexDecode: two hex digits a byte; `>` ends it.
struct AsciiHexWriter {
    next: Box<dyn Write>,
    high: Option<u8>,
    ended: bool,
}

impl AsciiHexWriter {
    fn new(next: Box<dyn Write>) -> Self {
        Self {
            next,
            high: None,
            ended: false,
        }
    }
}

impl Write for AsciiHexWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut out = Vec::with_capacity(buf.len() / 2 + 1);
        for &c in buf {
            if self.ended {
                break;
            }
            let digit = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                b'>' => {
                    self.ended = true;
                    continue;
                }
                _ => continue,
            };
            match self.high.take() {
                Some(h) => out.push(h << 4 | digit),
                None => self.high = Some(digit),
            }
        }
        self.next.write_all(&out)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.next.flush()
    }
}

/// RunLengthDecode: a length byte, then that many plus one literal bytes
/// (0–127), or one byte repeated 257 minus it times (129–255); 128 ends it.
struct RunLengthWriter {
    next: Box<dyn Write>,
    /// Literal bytes still to copy, or `Some(n)`: the next byte repeats n times.
    literal: usize,
    repeat: Option<usize>,
    ended: bool,
}

impl RunLengthWriter {
    fn new(next: Box<dyn Write>) -> Self {
        Self {
            next,
            literal: 0,
            repeat: None,
            ended: false,
        }
    }
}

impl Write for RunLengthWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut i = 0;
        while i < buf.len() && !self.ended {
            if let Some(n) = self.repeat.take() {
                let run = [buf[i]; 128];
                self.next.write_all(&run[..n])?;
                i += 1;
            } else if self.literal > 0 {
                let k = self.literal.min(buf.len() - i);
                self.next.write_all(&buf[i..i + k])?;
                self.literal -= k;
                i += k;
            } else {
                match buf[i] {
                    128 => self.ended = true,
                    l @ 0..=127 => self.literal = usize::from(l) + 1,
                    l => self.repeat = Some(257 - usize::from(l)),
                }
                i += 1;
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.next.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(data).unwrap();
        z.finish().unwrap()
    }

    fn lzw(data: &[u8]) -> Vec<u8> {
        weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
            .encode(data)
            .unwrap()
    }

    fn ascii85(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for group in data.chunks(4) {
            let mut word = [0u8; 4];
            word[..group.len()].copy_from_slice(group);
            let mut v = u32::from_be_bytes(word) as u64;
            if v == 0 && group.len() == 4 {
                out.push(b'z');
                continue;
            }
            let mut digits = [0u8; 5];
            for d in digits.iter_mut().rev() {
                *d = (v % 85) as u8 + b'!';
                v /= 85;
            }
            out.extend_from_slice(&digits[..group.len() + 1]);
        }
        out.extend_from_slice(b"~>");
        out
    }

    #[test]
    fn each_filter_and_chain_counts_what_it_decodes_to() {
        let text = b"Quarterly report: revenue grew in the north. ".repeat(100);
        let n = text.len() as u64;
        let big = u64::MAX - 1;
        assert_eq!(expanded_size(&zlib(&text), &[Filter::Flate], big), n);
        assert_eq!(
            expanded_size(&lzw(&text), &[Filter::Lzw { early_change: true }], big),
            n
        );
        assert_eq!(expanded_size(&ascii85(&text), &[Filter::Ascii85], big), n);
        let hex: String = text.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            expanded_size(format!("{hex}>").as_bytes(), &[Filter::AsciiHex], big),
            n
        );
        assert_eq!(
            expanded_size(
                &ascii85(&zlib(&text)),
                &[Filter::Ascii85, Filter::Flate],
                big
            ),
            n
        );
        // Raw deflate behind a header that is not zlib's.
        let mut bad = zlib(&text);
        bad[0] = 0x00;
        assert_eq!(expanded_size(&bad, &[Filter::Flate], big), n);
        // Run length: 0xFF 'x' is 'x' twice over... 257-255 = 2.
        assert_eq!(
            expanded_size(&[255, b'x', 1, b'a', b'b', 128], &[Filter::RunLength], big),
            4
        );
    }

    #[test]
    fn every_bomb_shape_stops_at_the_limit() {
        let zeros = vec![0u8; 8 << 20];
        let limit = 1 << 20;
        for (what, content, filters) in [
            ("flate", zlib(&zeros), vec![Filter::Flate]),
            ("lzw", lzw(&zeros), vec![Filter::Lzw { early_change: true }]),
            (
                "ascii85 z",
                b"z".repeat(300_000).into_iter().chain(*b"~>").collect(),
                vec![Filter::Ascii85],
            ),
            (
                "ascii85 then flate",
                ascii85(&zlib(&zeros)),
                vec![Filter::Ascii85, Filter::Flate],
            ),
            (
                "bad zlib header",
                {
                    let mut z = zlib(&zeros);
                    z[0] = 0x00;
                    z
                },
                vec![Filter::Flate],
            ),
            (
                "flate of flate",
                zlib(&zlib(&zeros)),
                vec![Filter::Flate, Filter::Flate],
            ),
            (
                "run length",
                [129u8, 0].repeat(40_000),
                vec![Filter::RunLength],
            ),
        ] {
            assert!(
                content.len() < (1 << 20),
                "{what}: {} bytes stored",
                content.len()
            );
            assert!(
                expanded_size(&content, &filters, limit) > limit,
                "{what} was not stopped"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
        /// Any bytes through any chain: no panic, and never counted past the limit + a chunk.
        #[test]
        fn any_stream_through_any_chain_never_panics(
            content in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096),
            chain in proptest::collection::vec(0u8..6, 0..4),
        ) {
            let filters: Vec<Filter> = chain.iter().map(|c| match c {
                0 => Filter::Flate,
                1 => Filter::Lzw { early_change: true },
                2 => Filter::Ascii85,
                3 => Filter::AsciiHex,
                4 => Filter::RunLength,
                _ => Filter::Opaque,
            }).collect();
            let _ = expanded_size(&content, &filters, 1 << 20);
            // A limit reached mid-chain, then more input: the decoders stay stopped.
            let _ = expanded_size(&content, &filters, 16);
        }
    }
}

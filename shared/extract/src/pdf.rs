//! PDF text layer, page by page (pdf-extract). The parser runs under
//! `catch_unwind`: a hostile file fails its document, never the process.
//!
//! Before it runs, [`check_expansion`] walks the file's streams and inflates
//! each compressed one into nothing, counting: a file whose streams expand past
//! [`MAX_EXPANDED_BYTES`] (a decompression bomb — deflate packs a thousand to
//! one) is refused before the parser holds any of it in memory.

use crate::{ExtractError, ExtractedDocument};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Most bytes a PDF's streams may expand to. A text PDF of 50 MB (the
/// default file limit) rarely expands past a few hundred; this leaves the
/// extract function (1,024 MB on AWS) room for the parser's own copies.
pub const MAX_EXPANDED_BYTES: u64 = 256 * 1024 * 1024;

/// Runs a parser so that its panic or its error fails the file as corrupt.
fn guarded<T, E: std::fmt::Display>(
    parse: impl FnOnce() -> Result<T, E>,
) -> Result<T, ExtractError> {
    catch_unwind(AssertUnwindSafe(parse))
        .map_err(|_| ExtractError::Corrupt {
            format: "PDF",
            detail: "the parser could not read its structure".into(),
        })?
        .map_err(|e| ExtractError::Corrupt {
            format: "PDF",
            detail: e.to_string(),
        })
}

thread_local! {
    /// The guard's budget while lopdf loads a file on this thread: the limit,
    /// and what the streams seen so far expand to.
    static BUDGET: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// lopdf's load filter: counts each stream as it is read — before lopdf
/// expands an object stream — and empties every stream once the budget is
/// spent, so that nothing more is inflated.
fn count_stream(id: (u32, u16), object: &mut lopdf::Object) -> Option<((u32, u16), lopdf::Object)> {
    use crate::pdf_streams::{expanded_size, Filter};
    let lopdf::Object::Stream(stream) = object else {
        return Some((id, object.clone()));
    };
    let (limit, total) = BUDGET.get();
    if total > limit {
        stream.content.clear();
        return Some((id, lopdf::Object::Null));
    }
    let early_change = stream
        .dict
        .get(b"DecodeParms")
        .and_then(lopdf::Object::as_dict)
        .and_then(|p| p.get(b"EarlyChange"))
        .and_then(lopdf::Object::as_i64)
        .map_or(true, |v| v != 0);
    let filters: Vec<Filter> = stream
        .filters()
        .map(|names| {
            names
                .iter()
                .map(|n| Filter::named(n, early_change))
                .collect()
        })
        .unwrap_or_default();
    let total = total.saturating_add(expanded_size(&stream.content, &filters, limit - total));
    if total > limit {
        stream.content.clear();
    }
    BUDGET.set((limit, total));
    // lopdf keeps the object it passed in (mutated); this copy is dropped.
    Some((id, lopdf::Object::Null))
}

/// Refuses a PDF whose streams expand past `limit` bytes, decoding each
/// stream's whole filter chain into a counter (never into memory;
/// [`crate::pdf_streams`]): Flate (with a broken zlib header too), LZW,
/// ASCII85, ASCIIHex and RunLength, in any order. Streams are counted as
/// lopdf reads them, before it expands an object stream, and emptied once the
/// budget is spent. What this misses is bounded by the parser child's memory
/// and time ([`crate::sandbox`]).
pub fn check_expansion(bytes: &[u8], limit: u64) -> Result<(), ExtractError> {
    BUDGET.set((limit, 0));
    let options = lopdf::LoadOptions {
        filter: Some(count_stream),
        ..Default::default()
    };
    let loaded = guarded(|| lopdf::Document::load_mem_with_options(bytes, options));
    let (_, total) = BUDGET.replace((0, 0));
    if total > limit {
        return Err(ExtractError::Corrupt {
            format: "PDF",
            detail: format!(
                "its compressed contents expand past {} MB; a file like that could exhaust memory, so it is not read",
                limit / (1024 * 1024)
            ),
        });
    }
    loaded.map(|_| ())
}

pub fn extract(bytes: &[u8]) -> Result<ExtractedDocument, ExtractError> {
    if !bytes.starts_with(b"%PDF-") {
        return Err(ExtractError::Corrupt {
            format: "PDF",
            detail: "it does not start with a %PDF- header".into(),
        });
    }
    check_expansion(bytes, MAX_EXPANDED_BYTES)?;
    let pages = guarded(|| pdf_extract::extract_text_from_mem_by_pages(bytes))?;
    let mut blocks = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        blocks.extend(ExtractedDocument::paragraphs_of(page, Some(i as u32 + 1)));
    }
    if blocks.is_empty() {
        return Err(ExtractError::NoText {
            format: "PDF",
            hint: "it has no text layer (a scan?); scanned PDFs need OCR",
        });
    }
    let mut doc = ExtractedDocument {
        title: String::new(),
        blocks,
        ..Default::default()
    };
    doc.metadata.insert("pages".into(), pages.len().into());
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::make_pdf;

    /// A PDF with one stream of `n` zero bytes, deflated (a few KB per MB).
    fn bomb(n: usize) -> Vec<u8> {
        use lopdf::{dictionary, Document, Object, Stream};
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let chunk = vec![0u8; 1 << 20];
        let mut left = n;
        while left > 0 {
            let k = left.min(chunk.len());
            z.write_all(&chunk[..k]).unwrap();
            left -= k;
        }
        let packed = z.finish().unwrap();
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let content = doc.add_object(Stream::new(dictionary! {"Filter" => "FlateDecode"}, packed));
        let page = doc.add_object(
            dictionary! {"Type" => "Page", "Parent" => pages_id, "Contents" => content},
        );
        doc.objects.insert(
            pages_id,
            Object::Dictionary(
                dictionary! {"Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1},
            ),
        );
        let catalog = doc.add_object(dictionary! {"Type" => "Catalog", "Pages" => pages_id});
        doc.trailer.set("Root", catalog);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    #[test]
    fn a_decompression_bomb_is_refused_before_it_is_read() {
        let pdf = bomb(8 << 20);
        assert!(pdf.len() < 100_000, "{} bytes", pdf.len());
        let limit = 4 << 20;
        let refused = check_expansion(&pdf, limit).unwrap_err();
        assert!(
            refused.to_string().contains("expand past 4 MB"),
            "{refused}"
        );
        // Under a larger limit the same file passes the guard.
        check_expansion(&pdf, 16 << 20).unwrap();
        // And an ordinary PDF is far inside the real one.
        check_expansion(&make_pdf(&[&["Quarterly report"]]), MAX_EXPANDED_BYTES).unwrap();
    }

    #[test]
    fn the_zero_stream_fixture_is_a_real_zlib_stream() {
        use std::io::Read;
        for n in [0u64, 1, 257, 258, 259, 100_000] {
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(&crate::fixtures::zlib_zeros(n)[..])
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out.len() as u64, n);
            assert!(out.iter().all(|b| *b == 0));
        }
    }

    /// Every shape that used to pass the guard uncounted, in a real PDF: the
    /// guard refuses each past its limit.
    #[test]
    fn every_compression_shape_in_a_pdf_is_counted_by_the_guard() {
        use crate::fixtures::{pdf_with_stream, zlib_zeros};
        use lopdf::{dictionary, Object};
        let n = 8u64 << 20;
        let limit = 4u64 << 20;
        let zeros = vec![0u8; n as usize];
        let lzw = weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
            .encode(&zeros)
            .unwrap();
        let ascii85_of = |data: &[u8]| -> Vec<u8> {
            let mut out = Vec::new();
            for group in data.chunks(4) {
                let mut word = [0u8; 4];
                word[..group.len()].copy_from_slice(group);
                let mut v = u32::from_be_bytes(word) as u64;
                let mut digits = [0u8; 5];
                for d in digits.iter_mut().rev() {
                    *d = (v % 85) as u8 + b'!';
                    v /= 85;
                }
                out.extend_from_slice(&digits[..group.len() + 1]);
            }
            out.extend_from_slice(b"~>");
            out
        };
        let mut bad_header = zlib_zeros(n);
        bad_header[0] = 0x00;

        let shapes: Vec<(&str, Vec<u8>)> = vec![
            (
                "LZWDecode",
                pdf_with_stream(dictionary! {"Filter" => "LZWDecode"}, lzw),
            ),
            (
                "[/ASCII85Decode /FlateDecode]",
                pdf_with_stream(
                    dictionary! {"Filter" => vec![Object::Name(b"ASCII85Decode".to_vec()), Object::Name(b"FlateDecode".to_vec())]},
                    ascii85_of(&zlib_zeros(n)),
                ),
            ),
            (
                "a bad zlib header",
                pdf_with_stream(dictionary! {"Filter" => "FlateDecode"}, bad_header),
            ),
            (
                "an object stream",
                crate::fixtures::pdf_with_object_stream(&zlib_zeros(n)),
            ),
        ];
        for (shape, pdf) in shapes {
            assert!(pdf.len() < 1 << 20, "{shape}: {} bytes", pdf.len());
            let refused = check_expansion(&pdf, limit);
            assert!(
                matches!(&refused, Err(e) if e.to_string().contains("expand past 4 MB")),
                "{shape}: {refused:?}"
            );
        }
    }

    #[test]
    fn text_keeps_its_page_numbers() {
        let pdf = make_pdf(&[
            &["Quarterly report"],
            &["Revenue grew in the northern region."],
        ]);
        let doc = extract(&pdf).unwrap();
        let page2 = doc
            .blocks
            .iter()
            .find(|b| b.text.contains("northern"))
            .expect("page 2 text");
        assert_eq!(page2.page, Some(2));
        assert_eq!(doc.metadata["pages"], 2);
    }

    #[test]
    fn corrupt_pdfs_fail_cleanly() {
        let mut pdf = make_pdf(&[&["hello"]]);
        pdf.truncate(pdf.len() / 3);
        pdf.extend_from_slice(b"\x00garbage\xff");
        assert!(matches!(
            extract(&pdf),
            Err(ExtractError::Corrupt { .. } | ExtractError::NoText { .. })
        ));
        assert!(matches!(
            extract(b"not a pdf"),
            Err(ExtractError::Corrupt { .. })
        ));
    }
}

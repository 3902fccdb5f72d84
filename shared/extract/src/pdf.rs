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

/// Refuses a PDF whose streams expand past `limit` bytes, inflating each
/// FlateDecode stream into a counter (never into memory). Streams with other
/// filters count at their stored size.
pub fn check_expansion(bytes: &[u8], limit: u64) -> Result<(), ExtractError> {
    use std::io::Read;
    let doc = guarded(|| lopdf::Document::load_mem(bytes))?;
    let mut total: u64 = 0;
    for object in doc.objects.values() {
        let lopdf::Object::Stream(stream) = object else {
            continue;
        };
        let deflated = stream
            .filters()
            .map(|f| f.iter().any(|name| &name[..] == b"FlateDecode"))
            .unwrap_or(false);
        let size = if deflated {
            let left = limit.saturating_sub(total) + 1;
            let mut inflate = flate2::read::ZlibDecoder::new(stream.content.as_slice()).take(left);
            // A stream that stops making sense counts as far as it inflated;
            // the parser decides whether the file is readable.
            let mut counted = 0u64;
            let mut buf = [0u8; 64 * 1024];
            loop {
                match inflate.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => counted += n as u64,
                }
            }
            counted
        } else {
            stream.content.len() as u64
        };
        total = total.saturating_add(size);
        if total > limit {
            return Err(ExtractError::Corrupt {
                format: "PDF",
                detail: format!(
                    "its compressed contents expand past {} MB; a file like that could exhaust memory, so it is not read",
                    limit / (1024 * 1024)
                ),
            });
        }
    }
    Ok(())
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

//! PDF text layer, page by page (pdf-extract). The parser runs under
//! `catch_unwind`: a hostile file fails its document, never the process.

use crate::{ExtractError, ExtractedDocument};
use std::panic::{catch_unwind, AssertUnwindSafe};

pub fn extract(bytes: &[u8]) -> Result<ExtractedDocument, ExtractError> {
    if !bytes.starts_with(b"%PDF-") {
        return Err(ExtractError::Corrupt {
            format: "PDF",
            detail: "it does not start with a %PDF- header".into(),
        });
    }
    let pages = catch_unwind(AssertUnwindSafe(|| {
        pdf_extract::extract_text_from_mem_by_pages(bytes)
    }))
    .map_err(|_| ExtractError::Corrupt {
        format: "PDF",
        detail: "the parser could not read its structure".into(),
    })?
    .map_err(|e| ExtractError::Corrupt {
        format: "PDF",
        detail: e.to_string(),
    })?;
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
    use lopdf::content::{Content, Operation};
    use lopdf::{dictionary, Document, Object, Stream};

    /// A PDF with one page per entry, each page's lines drawn as text.
    pub fn make_pdf(pages: &[&[&str]]) -> Vec<u8> {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font_id = doc.add_object(
            dictionary! {"Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica"},
        );
        let resources_id = doc.add_object(dictionary! {"Font" => dictionary! {"F1" => font_id}});
        let mut kids = Vec::new();
        for lines in pages {
            let mut ops = vec![
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["F1".into(), 12.into()]),
            ];
            let mut y = 750;
            for line in *lines {
                ops.push(Operation::new(
                    "Tm",
                    vec![1.into(), 0.into(), 0.into(), 1.into(), 72.into(), y.into()],
                ));
                ops.push(Operation::new("Tj", vec![Object::string_literal(*line)]));
                y -= 40;
            }
            ops.push(Operation::new("ET", vec![]));
            let content = Content { operations: ops };
            let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
            let page_id = doc.add_object(
                dictionary! {"Type" => "Page", "Parent" => pages_id, "Contents" => content_id},
            );
            kids.push(page_id.into());
        }
        let count = kids.len() as i64;
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => kids, "Count" => count, "Resources" => resources_id,
                "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            }),
        );
        let catalog_id = doc.add_object(dictionary! {"Type" => "Catalog", "Pages" => pages_id});
        doc.trailer.set("Root", catalog_id);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
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

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
    use crate::fixtures::make_pdf;

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

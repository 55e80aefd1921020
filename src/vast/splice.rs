//! Splicing text into a document at offsets the scanner reported: how [`super::inject`] adds
//! to a partner's VAST without re-serialising (and so without changing) any of it.

/// Text to put at an offset of the original.
pub(super) struct Edit {
    pub(super) at: usize,
    /// Bytes of the original replaced (2 for the `/>` of an element we open up).
    pub(super) cut: usize,
    pub(super) text: String,
}

/// Turns an element's parts into edits. `opened` names a self-closing `<X/>`, which is
/// opened up into `<X>…</X>` with all parts inside.
pub(super) fn place(
    edits: &mut Vec<Edit>,
    opened: Option<&str>,
    inner_end: usize,
    parts: Vec<(usize, String)>,
) {
    if parts.is_empty() {
        return;
    }
    if let Some(name) = opened {
        let mut text = String::from(">");
        for (_, part) in parts {
            text.push_str(&part);
        }
        text.push_str(&format!("</{name}>"));
        edits.push(Edit {
            at: inner_end,
            cut: 2,
            text,
        });
    } else {
        edits.extend(
            parts
                .into_iter()
                .map(|(at, text)| Edit { at, cut: 0, text }),
        );
    }
}

/// The partner's text with our edits in. Edits at one offset keep the order they were made.
pub(super) fn splice(body: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| e.at);
    let added: usize = edits.iter().map(|e| e.text.len()).sum();
    let mut out = String::with_capacity(body.len() + added);
    let mut from = 0;
    for edit in edits {
        // Offsets come from the parser, at tag boundaries: always in order, on char
        // boundaries and within the body. `get` keeps a broken assumption from panicking.
        if edit.at < from {
            continue;
        }
        out.push_str(body.get(from..edit.at).unwrap_or_default());
        out.push_str(&edit.text);
        from = edit.at + edit.cut;
    }
    out.push_str(body.get(from..).unwrap_or_default());
    out
}

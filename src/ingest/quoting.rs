//! Quoting input in messages: every reader quotes (some of) a line through
//! [`quote`] or [`clip`], so no error or diagnostic holds more than
//! [`QUOTE_MAX`] bytes of input (cut at a character boundary, the length said).

/// The most bytes of an input line an error or diagnostic quotes.
pub const QUOTE_MAX: usize = 200;

/// `text` (some of an input line) as an error quotes it: in double quotes with
/// Rust's escapes, at most [`QUOTE_MAX`] bytes of it, cut at a character
/// boundary; a longer text ends with `…` and says its length. Invalid UTF-8
/// shows as U+FFFD. Every reader quotes input through this (or [`clip`]), so
/// no error holds more than a few hundred bytes of a line however long it is.
pub fn quote(text: &[u8]) -> String {
    quote_head(text, text.len())
}

/// [`quote`] of a text of `len` bytes of which `head` holds the first (at
/// least `QUOTE_MAX + 3` of them when it is longer), for texts not kept whole.
pub fn quote_head(head: &[u8], len: usize) -> String {
    let cut = clip_at(head).min(len);
    let shown = String::from_utf8_lossy(&head[..cut]);
    if cut == len {
        format!("{shown:?}")
    } else {
        format!("{:?} ({len} bytes)", format!("{shown}…"))
    }
}

/// `text` (a message that may carry input, such as a parser's error) cut to
/// at most [`QUOTE_MAX`] bytes at a character boundary, with `…` and its
/// length when cut.
pub fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    let cut = clip_at(text.as_bytes());
    if cut == text.len() {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(format!("{}… ({} bytes)", &text[..cut], text.len()))
    }
}

/// A JSON value as an error shows it: its JSON text, cut like [`clip`],
/// without writing out more of a huge value than is shown.
pub fn clip_json(value: &serde_json::Value) -> String {
    /// Keeps the first bytes written and counts the rest.
    struct Head {
        kept: Vec<u8>,
        len: usize,
    }
    impl std::io::Write for Head {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let room = (QUOTE_MAX + 3).saturating_sub(self.kept.len());
            self.kept.extend_from_slice(&buf[..buf.len().min(room)]);
            self.len += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut head = Head {
        kept: Vec::new(),
        len: 0,
    };
    if serde_json::to_writer(&mut head, value).is_err() {
        return "(a JSON value)".into();
    }
    let cut = clip_at(&head.kept).min(head.len);
    let shown = String::from_utf8_lossy(&head.kept[..cut]);
    if cut == head.len {
        shown.into_owned()
    } else {
        format!("{shown}… ({} bytes)", head.len)
    }
}

/// Where to cut `text` for [`quote`]: its length when short enough, else the
/// last UTF-8 character boundary at or before [`QUOTE_MAX`].
fn clip_at(text: &[u8]) -> usize {
    if text.len() <= QUOTE_MAX {
        return text.len();
    }
    let mut cut = QUOTE_MAX;
    // Back over continuation bytes (10xxxxxx) to a character's first byte.
    while cut > QUOTE_MAX - 3 && text[cut] & 0xc0 == 0x80 {
        cut -= 1;
    }
    cut
}

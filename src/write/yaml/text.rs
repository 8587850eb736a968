//! The text of a scalar: where exactly it stands in the file (saphyr-parser
//! markers count characters; a quoted scalar's span runs past its quote), how a
//! new value is written in the old style, and splicing the new texts in.

use std::ops::Range;

use saphyr_parser::{Marker, ScalarStyle};
use serde_yaml::Value as Yaml;

use super::locate::ScalarAt;
use super::{Value, YamlError, failed};

/// The byte offset of a saphyr-parser marker, whose index counts characters.
fn byte_offset(text: &str, marker: Marker) -> Option<usize> {
    text.char_indices()
        .map(|(byte, _)| byte)
        .chain([text.len()])
        .nth(marker.index())
}

pub(super) fn byte_range(text: &str, start: Marker, end: Marker) -> Option<Range<usize>> {
    let range = byte_offset(text, start)?..byte_offset(text, end)?;
    (range.start <= range.end).then_some(range)
}

/// The bytes of a scalar's own text (quotes included, anchor and tag
/// excluded), or `None` if they cannot be found exactly.
pub(super) fn locate_scalar(text: &str, scalar: &ScalarAt<'_>) -> Option<Range<usize>> {
    let span = byte_range(text, scalar.start, scalar.end)?;
    let start = skip_properties(text, span.clone())?;
    let end = match scalar.style {
        ScalarStyle::Plain => span.end,
        ScalarStyle::SingleQuoted => closing_quote(text, start, b'\'')?,
        ScalarStyle::DoubleQuoted => closing_quote(text, start, b'"')?,
        ScalarStyle::Literal | ScalarStyle::Folded => return None,
    };
    let found = text.get(start..end)?;
    let exact = end <= span.end
        && !found.is_empty()
        && !found.starts_with(char::is_whitespace)
        && !found.ends_with(char::is_whitespace);
    exact.then_some(start..end)
}

/// Skips a node's properties (`&anchor`, `!tag`) and the blanks, line breaks
/// and comments after them; returns where the node's content starts.
pub(in crate::write) fn skip_properties(text: &str, span: Range<usize>) -> Option<usize> {
    let mut pos = span.start;
    while pos < span.end {
        let rest = text.get(pos..span.end)?;
        pos += match rest.as_bytes()[0] {
            b'&' | b'!' => rest.find([' ', '\t', '\r', '\n']).unwrap_or(rest.len()),
            b'#' => rest.find(['\r', '\n']).unwrap_or(rest.len()),
            b' ' | b'\t' | b'\r' | b'\n' => 1,
            _ => return Some(pos),
        };
    }
    None
}

/// The end (exclusive) of the quoted scalar whose opening quote is at `open`.
pub(in crate::write) fn closing_quote(text: &str, open: usize, quote: u8) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.get(open) != Some(&quote) {
        return None;
    }
    let mut pos = open + 1;
    while let Some(&byte) = bytes.get(pos) {
        if quote == b'"' && byte == b'\\' {
            pos += 2; // an escape: `\"`, `\\`, …
        } else if quote == b'\'' && byte == b'\'' && bytes.get(pos + 1) == Some(&b'\'') {
            pos += 2; // `''` is an escaped single quote
        } else if byte == quote {
            return Some(pos + 1);
        } else {
            pos += 1;
        }
    }
    None
}

/// The text of a scalar with `new_text` as content, in the old scalar's style.
pub(super) fn write_scalar(style: ScalarStyle, new_text: &str) -> String {
    match style {
        ScalarStyle::DoubleQuoted => format!("\"{new_text}\""),
        ScalarStyle::SingleQuoted => format!("'{new_text}'"),
        ScalarStyle::Plain | ScalarStyle::Literal | ScalarStyle::Folded => new_text.to_owned(),
    }
}

/// What the new scalar must mean: a string when quoted, else the typed value.
pub(super) fn expected_value(style: ScalarStyle, value: Value) -> Yaml {
    match (style, value) {
        (ScalarStyle::DoubleQuoted | ScalarStyle::SingleQuoted, _) => Yaml::String(value.to_string()),
        (_, Value::Int(int)) => Yaml::Number(int.into()),
        (_, Value::Bool(bool)) => Yaml::Bool(bool),
    }
}

pub(super) fn replace_ranges(text: &str, mut replacements: Vec<(Range<usize>, String)>) -> Result<String, YamlError> {
    replacements.sort_by_key(|(range, _)| range.start);
    if replacements.windows(2).any(|pair| pair[0].0.end > pair[1].0.start) {
        return Err(failed("two of the values to change overlap in the text".to_owned()));
    }
    let mut edited = String::with_capacity(text.len());
    let mut copied = 0;
    for (range, new_text) in replacements {
        edited.push_str(
            text.get(copied..range.start)
                .ok_or_else(|| failed("a value ends mid-character".to_owned()))?,
        );
        edited.push_str(&new_text);
        copied = range.end;
    }
    edited.push_str(
        text.get(copied..)
            .ok_or_else(|| failed("a value ends mid-character".to_owned()))?,
    );
    Ok(edited)
}

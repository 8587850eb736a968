//! What a dry run may show of a target file: the values of the keys poolcap
//! manages, and no other value.
//!
//! The rule is the same for every format. Keys, comments, blank lines and the
//! punctuation of the structure stay visible, so that a diff still shows where
//! a change is; every value whose key poolcap does not manage is replaced by
//! `********`. Values are found from the parser's spans, never by matching
//! lines:
//!
//! - env ([`env`]): the value of every assignment of an unmanaged key (quoted
//!   values may span lines; anything after a closing quote other than a
//!   comment goes with it), and every line that is not an assignment, a
//!   comment or blank — it may be the rest of a value the parser did not
//!   recognise.
//! - TOML ([`toml`], spans of `toml_edit::Document`): every string, number,
//!   boolean and date, at any depth of arrays and inline tables, except the
//!   value at `prefix + [managed key]`.
//! - YAML ([`yaml`], spans of saphyr-parser's events): every scalar that is not
//!   a mapping key, in every document, flow collections and block scalars
//!   included, except the value at `prefix + [managed key]` in the first
//!   document (the only one poolcap edits). Anchors, tags, aliases and a
//!   block scalar's `|` or `>` may stay.
//!
//! A value that spans lines is masked on each of its lines, their indentation
//! kept, so that the masked text has the same lines as the file and a diff of
//! it the file's line numbers. Text that does not parse is masked whole: every
//! line that is not blank.

use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use toml_edit::{Item, Table};

use super::yaml::{closing_quote, skip_properties};

/// What a masked value is shown as.
pub const MASK: &str = "********";

const BOM: &str = "\u{feff}";

/// A `pgbouncer.ini` with every value masked but those of the `managed`
/// keys: `[pgbouncer]` settings by name, and a `[databases]` entry's
/// connection-string parameters by name (its `password=` always masked);
/// the entry and parameter names stay. A file that does not read as
/// PgBouncer reads it is masked whole.
pub fn ini(text: &str, managed: &[&str]) -> String {
    use crate::config::pgbouncer_ini::{IniLine, lines, pair_spans};
    let Ok(parsed) = lines(text) else {
        return everything(text);
    };
    let mut section = String::new();
    let mut ranges = Vec::new();
    for line in parsed {
        match line.line {
            IniLine::Section(name) => section = name,
            IniLine::Entry {
                key,
                value,
                value_range,
                ..
            } => match section.as_str() {
                "pgbouncer" if managed.contains(&key.as_str()) => {}
                "databases" => match pair_spans(&value) {
                    Ok(pairs) => ranges.extend(
                        pairs
                            .into_iter()
                            .filter(|p| !managed.contains(&p.key.as_str()) || p.key == "password")
                            .map(|p| value_range.start + p.range.start..value_range.start + p.range.end),
                    ),
                    Err(_) => ranges.push(value_range),
                },
                _ => ranges.push(value_range),
            },
            IniLine::Blank | IniLine::Include(_) => {}
        }
    }
    replace(text, ranges)
}

/// An env file with the value of every key not in `managed` masked.
pub fn env(text: &str, managed: &[&str]) -> String {
    let file = super::env::parse(text);
    let mut ranges: Vec<Range<usize>> = file.unparsed.iter().map(|&(start, end)| start..end).collect();
    for a in &file.assignments {
        if !managed.contains(&a.key.as_str()) {
            let (start, end) = a.value_span;
            ranges.push(start..end_with_trailing_junk(text, end));
        }
    }
    replace(text, ranges)
}

/// `end`, or the end of its line when what follows the value there is neither
/// blank nor a comment (`KEY="a"b` is one value to a shell).
fn end_with_trailing_junk(text: &str, end: usize) -> usize {
    let line_end = text[end..].find('\n').map_or(text.len(), |at| end + at);
    let rest = text[end..line_end].trim_start_matches([' ', '\t', '\r']);
    if rest.is_empty() || rest.starts_with('#') {
        end
    } else {
        line_end
    }
}

/// A TOML file with every value not at `prefix + [managed key]` masked.
pub fn toml(text: &str, prefix: &[&str], managed: &[&str]) -> String {
    let bom = if text.starts_with(BOM) { BOM.len() } else { 0 };
    let Ok(doc) = toml_edit::Document::parse(&text[bom..]) else {
        return everything(text);
    };
    let mut walk = TomlWalk {
        prefix,
        managed,
        ranges: Vec::new(),
        complete: true,
    };
    walk.table(doc.as_table(), &mut Vec::new(), false);
    if !walk.complete {
        return everything(text);
    }
    replace(text, walk.ranges.into_iter().map(|r| r.start + bom..r.end + bom))
}

struct TomlWalk<'a> {
    prefix: &'a [&'a str],
    managed: &'a [&'a str],
    ranges: Vec<Range<usize>>,
    /// False when a value had no span (then nothing of the file is shown).
    complete: bool,
}

impl<'a> TomlWalk<'a> {
    fn is_managed(&self, path: &[&str]) -> bool {
        path.split_last()
            .is_some_and(|(key, parent)| parent == self.prefix && self.managed.contains(key))
    }

    /// Walks a table at `path`; `in_array`: inside an array (of tables),
    /// where no value is managed.
    fn table<'t>(&mut self, table: &'t Table, path: &mut Vec<&'t str>, in_array: bool) {
        for (key, item) in table.iter() {
            path.push(key);
            match item {
                Item::None => {}
                Item::Value(value) => self.value(value, path, in_array),
                Item::Table(table) => self.table(table, path, in_array),
                Item::ArrayOfTables(array) => {
                    for table in array.iter() {
                        self.table(table, path, true);
                    }
                }
            }
            path.pop();
        }
    }

    fn value<'t>(&mut self, value: &'t toml_edit::Value, path: &mut Vec<&'t str>, in_array: bool) {
        match value {
            toml_edit::Value::Array(array) => {
                for item in array.iter() {
                    self.value(item, path, true);
                }
            }
            toml_edit::Value::InlineTable(table) => {
                for (key, item) in table.iter() {
                    path.push(key);
                    self.value(item, path, in_array);
                    path.pop();
                }
            }
            _ if !in_array && self.is_managed(path) => {}
            scalar => match scalar.span() {
                Some(span) => self.ranges.push(span),
                None => self.complete = false,
            },
        }
    }
}

/// A YAML stream with every scalar that is neither a mapping key nor the
/// value at `prefix + [managed key]` of the first document masked.
pub fn yaml(text: &str, prefix: &[&str], managed: &[&str]) -> String {
    let mut walk = YamlWalk {
        text,
        offsets: text.char_indices().map(|(at, _)| at).chain([text.len()]).collect(),
        prefix,
        managed,
        document: 0,
        open: Vec::new(),
        ranges: Vec::new(),
    };
    for item in Parser::new_from_str(text) {
        let Ok((event, span)) = item else {
            return everything(text);
        };
        walk.on_event(event, span);
    }
    replace(text, walk.ranges)
}

/// An open mapping or sequence.
struct Collection {
    mapping: bool,
    /// Its path of mapping keys from the first document's root; `None` when it
    /// cannot hold a managed value (a later document, a sequence, a complex key).
    path: Option<Vec<String>>,
    /// In a mapping: `None` when a key comes next, else the key whose value
    /// comes next (itself `None` when that key is not a scalar).
    key: Option<Option<String>>,
}

/// Where a node stands in its parent.
enum Role {
    Key,
    Value(Option<Vec<String>>),
}

struct YamlWalk<'a> {
    text: &'a str,
    /// Byte offset of each character (saphyr-parser's markers count characters).
    offsets: Vec<usize>,
    prefix: &'a [&'a str],
    managed: &'a [&'a str],
    document: usize,
    open: Vec<Collection>,
    ranges: Vec<Range<usize>>,
}

impl YamlWalk<'_> {
    fn on_event(&mut self, event: Event<'_>, span: Span) {
        match event {
            Event::DocumentStart(_) => {
                self.document += 1;
                self.open.clear();
            }
            Event::Scalar(value, style, _, _) => {
                if let Role::Value(path) = self.next_node(Some(&value))
                    && !self.is_managed(path.as_deref())
                {
                    self.mask_scalar(style, span);
                }
            }
            Event::Alias(_) => {
                self.next_node(None);
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let path = match self.next_node(None) {
                    Role::Key => None,
                    Role::Value(path) => path,
                };
                self.open.push(Collection {
                    mapping: matches!(event, Event::MappingStart(..)),
                    path,
                    key: None,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.open.pop();
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }

    /// The role of the node starting now (`key`: its text when it is a scalar).
    fn next_node(&mut self, key: Option<&str>) -> Role {
        let root = if self.document == 1 { Some(Vec::new()) } else { None };
        let Some(parent) = self.open.last_mut() else {
            return Role::Value(root);
        };
        if !parent.mapping {
            return Role::Value(None);
        }
        match parent.key.take() {
            None => {
                parent.key = Some(key.map(str::to_owned));
                Role::Key
            }
            Some(key) => Role::Value(parent.path.clone().zip(key).map(|(mut path, key)| {
                path.push(key);
                path
            })),
        }
    }

    fn is_managed(&self, path: Option<&[String]>) -> bool {
        path.and_then(<[String]>::split_last).is_some_and(|(key, parent)| {
            parent.iter().map(String::as_str).eq(self.prefix.iter().copied()) && self.managed.contains(&key.as_str())
        })
    }

    /// Masks a scalar's content: after its anchor and tag, up to its closing
    /// quote (a quoted scalar's span runs on over blanks and a comment).
    fn mask_scalar(&mut self, style: ScalarStyle, span: Span) {
        let (Some(&start), Some(&end)) = (self.offsets.get(span.start.index()), self.offsets.get(span.end.index()))
        else {
            self.ranges.push(0..self.text.len());
            return;
        };
        if start >= end {
            return;
        }
        let Some(content) = skip_properties(self.text, start..end) else {
            return; // no content: an empty value
        };
        let close = match style {
            ScalarStyle::SingleQuoted => closing_quote(self.text, content, b'\''),
            ScalarStyle::DoubleQuoted => closing_quote(self.text, content, b'"'),
            ScalarStyle::Plain | ScalarStyle::Literal | ScalarStyle::Folded => None,
        };
        self.ranges.push(content..close.unwrap_or(end).max(content));
    }
}

/// Every line of `text` that is not blank masked.
fn everything(text: &str) -> String {
    replace(text, std::iter::once(0..text.len()))
}

/// `text` with each of `ranges` masked, line by line: on each line a range
/// touches, its part (after the line's indentation, before a `\r`) becomes
/// [`MASK`], unless that part is blank.
fn replace(text: &str, ranges: impl IntoIterator<Item = Range<usize>>) -> String {
    let mut ranges: Vec<Range<usize>> = ranges.into_iter().collect();
    ranges.retain(|r| r.start < r.end);
    ranges.sort_by_key(|r| r.start);
    if ranges
        .iter()
        .any(|r| r.end > text.len() || !text.is_char_boundary(r.start) || !text.is_char_boundary(r.end))
    {
        ranges.clear();
        ranges.push(0..text.len());
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for range in ranges {
        let start = range.start.max(copied);
        if start >= range.end {
            continue;
        }
        out.push_str(&text[copied..start]);
        for (i, part) in text[start..range.end].split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let body = part.trim_start_matches([' ', '\t']);
            out.push_str(&part[..part.len() - body.len()]);
            let cr = if body.ends_with('\r') { "\r" } else { "" };
            let body = &body[..body.len() - cr.len()];
            if !body.trim().is_empty() {
                out.push_str(MASK);
            } else {
                out.push_str(body);
            }
            out.push_str(cr);
        }
        copied = range.end;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests;

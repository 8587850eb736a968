//! Where a key path was written: the span-keeping parse of the config text
//! that turns a key path into `file:line:column` for value errors, and the
//! dotted key a serde type error's offset falls in.

use std::path::Path;

use crate::config::{ConfigError, line_column};

/// Finds where a key path was written, for error messages.
pub(super) struct Locator<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
    pub(super) doc: Option<toml_edit::Document<&'a str>>,
}

/// One step of a key path: a table key or an array index.
#[derive(Clone, Copy)]
pub(super) enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

impl<'a> Locator<'a> {
    pub(super) fn invalid(&self, segs: &[Seg<'_>], message: impl Into<String>) -> ConfigError {
        let key = segs
            .iter()
            .map(|s| match s {
                Seg::Key(k) => format!(".{k}"),
                Seg::Index(i) => format!("[{i}]"),
            })
            .collect::<String>()
            .trim_start_matches('.')
            .to_string();
        let (line, column) = match self.span(segs) {
            Some(offset) => {
                let (l, c) = line_column(self.text, offset);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line,
            column,
            key,
            message: message.into(),
        }
    }

    /// Byte offset of the deepest part of `segs` that exists in the file.
    pub(super) fn span(&self, segs: &[Seg<'_>]) -> Option<usize> {
        let doc = self.doc.as_ref()?;
        let mut item = doc.as_item();
        let mut best = None;
        for seg in segs {
            let next = match seg {
                Seg::Key(k) => item.get(k),
                Seg::Index(i) => item.get(*i),
            };
            match next {
                Some(found) => {
                    item = found;
                    if let Some(span) = found.span() {
                        best = Some(span.start);
                    }
                }
                None => break,
            }
        }
        best
    }
}

/// The dotted key (with array indices) whose value holds byte `offset`.
pub(super) fn key_at(table: &toml_edit::Table, offset: usize, prefix: &str) -> Option<String> {
    for (key, item) in table.iter() {
        let path = if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        };
        match item {
            toml_edit::Item::Table(t) => {
                if let Some(found) = key_at(t, offset, &path) {
                    return Some(found);
                }
            }
            toml_edit::Item::ArrayOfTables(array) => {
                for (i, t) in array.iter().enumerate() {
                    if let Some(found) = key_at(t, offset, &format!("{path}[{i}]")) {
                        return Some(found);
                    }
                }
            }
            toml_edit::Item::Value(toml_edit::Value::InlineTable(t)) => {
                if t.span().is_some_and(|s| s.contains(&offset)) {
                    return key_at(&t.clone().into_table(), offset, &path).or(Some(path));
                }
            }
            toml_edit::Item::Value(v) => {
                if v.span().is_some_and(|s| s.contains(&offset)) {
                    return Some(path);
                }
            }
            toml_edit::Item::None => {}
        }
    }
    None
}

//! The YAML editor: reads and rewrites pool settings in Kubernetes ConfigMaps
//! and Helm values files.
//!
//! This module owns finding the scalar at a path `prefix + [key]` (mapping keys
//! only, e.g. `backend.env.DB_POOL_SIZE`), reading it, and replacing its text.
//!
//! # Invariants
//!
//! - [`edit`] changes only the text of the target scalars and keeps their
//!   style: `"20"` → `"25"`, `'20'` → `'25'`, `20` → `25`, `&size 20` →
//!   `&size 25`. Every other byte — comments, key order, blank lines,
//!   indentation, flow maps, anchors, line endings, a missing final newline —
//!   is kept. A value that already has the new text is left untouched.
//! - [`edit`] never returns text it has not verified. The result is read back
//!   to check the new values, and both texts are parsed with a second,
//!   independent parser (`serde_yaml`): they must differ only at the target
//!   paths, each of which must hold exactly the intended value (a string
//!   `"25"` for a quoted scalar, the integer `25` or a boolean for a plain
//!   one). This refuses, for example, an anchored value that is aliased
//!   elsewhere, since changing it would change the alias too.
//! - Errors name the dotted path and a 1-based line wherever possible.
//!
//! # Limits
//!
//! - Only the first document of a multi-document stream (`---`) is searched
//!   and edited. The whole stream must still be valid YAML; later documents
//!   are kept byte for byte.
//! - Keys are never inserted: a missing key is an error telling the user to
//!   add it first.
//! - Block scalars (`|`, `>`), tagged values (`!!str 20`) and empty values are
//!   refused.
//! - Only values written in place are read or edited: an alias (`*name`) on
//!   the path, or a key inherited through a `<<` merge, is an error that says
//!   where to make the change instead.
//!
//! # Locating the text of a scalar
//!
//! `saphyr-parser` reports each event with a span of [`Marker`]s. Verified
//! against saphyr-parser 0.3.4 (and pinned by a test below):
//!
//! - `Marker::index` counts characters, not bytes (a `\r\n` is two, a byte
//!   order mark one); it is converted to a byte offset before slicing.
//! - A scalar's span starts at its properties: `&size 20` and `!!str 7` are
//!   covered from the `&` or `!`, possibly across a line break and comments.
//! - A plain scalar's span ends right after its last character, but a quoted
//!   scalar's span runs past the closing quote over trailing blanks and, in
//!   block context, a trailing comment (`"20"  # note`). So the end of a quoted
//!   scalar is found by scanning from its opening quote.

mod locate;
mod scan;
mod text;
mod verify;

use saphyr_parser::ScalarStyle;

use super::Value;
use scan::Document;
pub(super) use text::{closing_quote, skip_properties};
use text::{expected_value, locate_scalar, replace_ranges, write_scalar};
use verify::{Target, verify};

/// What went wrong reading or editing a YAML file (lines are 1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    /// The text is not valid YAML.
    #[error("YAML syntax error at line {line}, column {column}: {message}")]
    Syntax {
        /// Line of the error.
        line: usize,
        /// Column of the error (1-based, in characters).
        column: usize,
        /// The parser's description.
        message: String,
    },
    /// The first document has no content at all.
    #[error("the YAML document is empty (it holds nothing but comments, if anything)")]
    EmptyDocument,
    /// A part of the prefix path does not exist.
    #[error("cannot find `{path}`: there is no key `{missing}` in {}", place(parent, *line))]
    PathNotFound {
        /// The dotted path up to and including the missing part.
        path: String,
        /// The missing key.
        missing: String,
        /// The dotted path of the deepest existing part (empty for the top level).
        parent: String,
        /// Line of the deepest existing part.
        line: usize,
    },
    /// A part of the prefix path holds a single value or a sequence, not a mapping.
    #[error(
        "{} at line {line} is {found}, not a mapping, so it has no keys to look in",
        name(path)
    )]
    NotAMapping {
        /// The dotted path of that part (empty for the whole document).
        path: String,
        /// Line of the part's key (or of the document's first key).
        line: usize,
        /// What it is instead ("a sequence", "a single value", …).
        found: &'static str,
    },
    /// The target holds a mapping or a sequence, not a single value.
    #[error("`{path}` at line {line} is {found}, not a single value")]
    NotAScalar {
        /// The dotted path of the target.
        path: String,
        /// Line of the target's key.
        line: usize,
        /// What it is instead ("a mapping" or "a sequence").
        found: &'static str,
    },
    /// The target, or a part of the prefix, is an alias of a value defined elsewhere.
    #[error(
        "`{path}` at line {line} is an alias (`*{anchor}`) of the value anchored as `&{anchor}` at line {anchor_line}; \
         edit that value instead, or give `{path}` its own value"
    )]
    Alias {
        /// The dotted path of the alias.
        path: String,
        /// Line of the key whose value is the alias.
        line: usize,
        /// The anchor's name.
        anchor: String,
        /// Line of the anchored value.
        anchor_line: usize,
    },
    /// The key is not written in its mapping but inherited through a `<<` merge.
    #[error(
        "`{path}` is not written in place but inherited through the `<<` merge key at line {merge_line}; \
         add `{key}` next to that `<<` to give it its own value"
    )]
    Inherited {
        /// The dotted path of the inherited key.
        path: String,
        /// The inherited key.
        key: String,
        /// Line of the `<<` key.
        merge_line: usize,
    },
    /// [`edit`] was asked to change a key that does not exist under the prefix.
    #[error(
        "`{path}` does not exist: add `{key}` to {} first (poolcap changes values but never adds keys to YAML files)",
        place(parent, *line)
    )]
    KeyMissing {
        /// The dotted path of the missing key.
        path: String,
        /// The missing key.
        key: String,
        /// The dotted prefix (empty for the top level).
        parent: String,
        /// Line of the prefix.
        line: usize,
    },
    /// A key on the path appears twice in the same mapping.
    #[error("`{path}` appears more than once in the same mapping (lines {first_line} and {second_line})")]
    DuplicateKey {
        /// The dotted path of the repeated key.
        path: String,
        /// Line of the first occurrence.
        first_line: usize,
        /// Line of the second occurrence.
        second_line: usize,
    },
    /// The target is a block scalar (`|` or `>`).
    #[error(
        "`{path}` at line {line} is a block scalar (`|` or `>`); poolcap only edits plain or quoted values, \
         so write it on one line first"
    )]
    BlockScalar {
        /// The dotted path of the target.
        path: String,
        /// Line of the target's key.
        line: usize,
    },
    /// The target is a kind of scalar poolcap does not edit (tagged or empty).
    #[error(
        "`{path}` at line {line} {problem}; poolcap does not edit such values, so write a plain or quoted value first"
    )]
    UnsupportedValue {
        /// The dotted path of the target.
        path: String,
        /// Line of the target's key.
        line: usize,
        /// What is wrong with it ("has an explicit tag", …).
        problem: &'static str,
    },
    /// The same key was given twice in one call to [`edit`].
    #[error("`{path}` is given more than once in the changes")]
    DuplicateChange {
        /// The dotted path of the repeated key.
        path: String,
    },
    /// Verification found that the edit would change more than the targets.
    #[error(
        "refusing to edit: changing `{targets}` would also change `{other}`; the value is probably shared through \
         an anchor (`&`) and an alias (`*`) or a `<<` merge, so give it its own value first"
    )]
    SharedValue {
        /// The dotted paths of the targets, joined by "`, `".
        targets: String,
        /// Where else the meaning of the file would change.
        other: String,
    },
    /// Verification of the edited text failed for another reason.
    #[error("refusing to edit: {reason}")]
    Verification {
        /// What the verification found.
        reason: String,
    },
}

fn place(parent: &str, line: usize) -> String {
    if parent.is_empty() {
        format!("the top level of the document (line {line})")
    } else {
        format!("`{parent}` (line {line})")
    }
}

fn name(path: &str) -> String {
    if path.is_empty() {
        "the document".to_owned()
    } else {
        format!("`{path}`")
    }
}

/// Reads the scalar at `prefix + [key]` for each key: `Some` with the scalar's
/// text content (unquoted, escapes resolved) or `None` when the key is missing
/// under the existing `prefix` mapping.
///
/// # Errors
///
/// A syntax error; a `prefix` part that does not exist or is not a mapping; a
/// target that is a mapping or a sequence; an alias on the path; a key
/// inherited through a `<<` merge; a key repeated in its mapping.
pub fn read(text: &str, prefix: &[&str], keys: &[&str]) -> Result<Vec<Option<String>>, YamlError> {
    let doc = Document::parse(text)?;
    let mapping = doc.find_mapping(prefix)?;
    keys.iter()
        .map(|key| Ok(doc.find_scalar(&mapping, key)?.map(|found| found.value.to_owned())))
        .collect()
}

/// Sets `prefix + [key]` to each value, keeping every other byte.
///
/// # Errors
///
/// The errors of [`read`], plus: a key missing under the prefix (keys are never
/// inserted), a block scalar, tagged or empty target, a key given twice, and a
/// failed verification (see the module documentation).
pub fn edit(text: &str, prefix: &[&str], changes: &[(&str, Value)]) -> Result<String, YamlError> {
    for (i, (key, _)) in changes.iter().enumerate() {
        if changes[..i].iter().any(|(earlier, _)| earlier == key) {
            return Err(YamlError::DuplicateChange {
                path: dotted(prefix, key),
            });
        }
    }
    let doc = Document::parse(text)?;
    let mapping = doc.find_mapping(prefix)?;
    let mut targets = Vec::new();
    let mut replacements = Vec::new();
    for &(key, value) in changes {
        let path = dotted(prefix, key);
        let found = doc.find_scalar(&mapping, key)?.ok_or_else(|| YamlError::KeyMissing {
            path: path.clone(),
            key: key.to_owned(),
            parent: prefix.join("."),
            line: mapping.line,
        })?;
        let line = found.line;
        let unsupported = |problem| YamlError::UnsupportedValue {
            path: path.clone(),
            line,
            problem,
        };
        match found.style {
            ScalarStyle::Literal | ScalarStyle::Folded => return Err(YamlError::BlockScalar { path, line }),
            _ if found.tagged => return Err(unsupported("has an explicit tag")),
            ScalarStyle::Plain if found.value.is_empty() => return Err(unsupported("has no value (it is empty)")),
            _ => {}
        }
        let new_text = value.to_string();
        if found.value != new_text {
            let range = locate_scalar(text, &found)
                .ok_or_else(|| failed(format!("could not locate the exact text of `{path}` at line {line}")))?;
            replacements.push((range, write_scalar(found.style, &new_text)));
        }
        targets.push(Target {
            path,
            key,
            new_text,
            expected: expected_value(found.style, value),
        });
    }
    let edited = replace_ranges(text, replacements)?;
    verify(text, &edited, prefix, &targets)?;
    Ok(edited)
}

/// A [`YamlError::Verification`] for `reason`.
fn failed(reason: String) -> YamlError {
    YamlError::Verification { reason }
}

fn dotted(prefix: &[&str], key: &str) -> String {
    child_path(&prefix.join("."), key)
}

fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

#[cfg(test)]
mod tests;

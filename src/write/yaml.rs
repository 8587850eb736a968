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

use std::collections::HashMap;
use std::ops::Range;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Span};
use serde::Deserialize as _;
use serde_yaml::Value as Yaml;

use super::Value;

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

// ---------------------------------------------------------------------------
// The first document as a tree of nodes, built from saphyr-parser's events.
// ---------------------------------------------------------------------------

type NodeId = usize;

struct Node {
    kind: NodeKind,
    span: Span,
}

enum NodeKind {
    Scalar {
        value: String,
        style: ScalarStyle,
        tagged: bool,
    },
    Alias {
        anchor_id: usize,
    },
    Mapping(Vec<(NodeId, NodeId)>),
    Sequence(Vec<NodeId>),
}

struct Document<'t> {
    text: &'t str,
    nodes: Vec<Node>,
    root: NodeId,
    /// Anchor id (as numbered by saphyr-parser) → the anchored node.
    anchors: HashMap<usize, NodeId>,
}

/// A mapping found at the prefix path.
struct MappingAt {
    id: NodeId,
    /// The dotted prefix.
    path: String,
    /// Line of the prefix's last key (or of the document's first key).
    line: usize,
}

/// A scalar found at a target path.
struct ScalarAt<'a> {
    /// Line of the key.
    line: usize,
    value: &'a str,
    style: ScalarStyle,
    tagged: bool,
    start: Marker,
    end: Marker,
}

enum Lookup {
    Found { key: NodeId, value: NodeId },
    Inherited { merge_line: usize },
    Missing,
}

/// How deep `<<` merges are followed (they can be cyclic through aliases).
const MAX_MERGE_DEPTH: usize = 32;

#[derive(Default)]
struct Builder {
    nodes: Vec<Node>,
    /// Open mappings and sequences, innermost last, each with a mapping's key
    /// waiting for its value.
    open: Vec<(NodeId, Option<NodeId>)>,
    root: Option<NodeId>,
    anchors: HashMap<usize, NodeId>,
}

impl Builder {
    fn add(&mut self, kind: NodeKind, span: Span, anchor_id: usize) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(Node { kind, span });
        if anchor_id > 0 {
            self.anchors.insert(anchor_id, id);
        }
        match self.open.last_mut() {
            None => {
                self.root.get_or_insert(id);
            }
            Some((parent, pending_key)) => match &mut self.nodes[*parent].kind {
                NodeKind::Mapping(entries) => match pending_key.take() {
                    Some(key) => entries.push((key, id)),
                    None => *pending_key = Some(id),
                },
                NodeKind::Sequence(items) => items.push(id),
                NodeKind::Scalar { .. } | NodeKind::Alias { .. } => {}
            },
        }
        id
    }

    fn on_event(&mut self, event: Event<'_>, span: Span) {
        match event {
            Event::Scalar(value, style, anchor_id, tag) => {
                let kind = NodeKind::Scalar {
                    value: value.into_owned(),
                    style,
                    tagged: tag.is_some(),
                };
                self.add(kind, span, anchor_id);
            }
            Event::Alias(anchor_id) => {
                self.add(NodeKind::Alias { anchor_id }, span, 0);
            }
            Event::MappingStart(anchor_id, _) => {
                let id = self.add(NodeKind::Mapping(Vec::new()), span, anchor_id);
                self.open.push((id, None));
            }
            Event::SequenceStart(anchor_id, _) => {
                let id = self.add(NodeKind::Sequence(Vec::new()), span, anchor_id);
                self.open.push((id, None));
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.open.pop();
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::DocumentEnd => {}
        }
    }
}

impl<'t> Document<'t> {
    /// Parses the whole stream (so that a syntax error anywhere is reported)
    /// and keeps the first document.
    fn parse(text: &'t str) -> Result<Self, YamlError> {
        let mut builder = Builder::default();
        let mut documents = 0;
        for item in Parser::new_from_str(text) {
            let (event, span) = item.map_err(|err| YamlError::Syntax {
                line: err.marker().line(),
                column: err.marker().col() + 1,
                message: err.info().to_owned(),
            })?;
            match event {
                Event::DocumentStart(_) => documents += 1,
                _ if documents == 1 => builder.on_event(event, span),
                _ => {}
            }
        }
        let root = builder.root.ok_or(YamlError::EmptyDocument)?;
        let doc = Document {
            text,
            nodes: builder.nodes,
            root,
            anchors: builder.anchors,
        };
        if matches!(&doc.nodes[root].kind, NodeKind::Scalar { value, style: ScalarStyle::Plain, .. } if value.is_empty())
        {
            return Err(YamlError::EmptyDocument);
        }
        Ok(doc)
    }

    fn line(&self, id: NodeId) -> usize {
        self.nodes[id].span.start.line()
    }

    fn scalar_value(&self, id: NodeId) -> Option<&str> {
        match &self.nodes[id].kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    fn is_merge_key(&self, id: NodeId) -> bool {
        matches!(
            &self.nodes[id].kind,
            NodeKind::Scalar { value, style: ScalarStyle::Plain, tagged: false } if value == "<<"
        )
    }

    fn entries(&self, mapping: NodeId) -> &[(NodeId, NodeId)] {
        match &self.nodes[mapping].kind {
            NodeKind::Mapping(entries) => entries,
            _ => &[],
        }
    }

    /// The entries of `mapping` written with `key` (merge keys excluded).
    fn explicit(&self, mapping: NodeId, key: &str) -> impl Iterator<Item = (NodeId, NodeId)> {
        self.entries(mapping)
            .iter()
            .copied()
            .filter(move |&(k, _)| self.scalar_value(k) == Some(key) && !self.is_merge_key(k))
    }

    fn lookup(&self, mapping: NodeId, key: &str, path: &str) -> Result<Lookup, YamlError> {
        let mut found = self.explicit(mapping, key);
        if let Some((first, value)) = found.next() {
            if let Some((second, _)) = found.next() {
                return Err(YamlError::DuplicateKey {
                    path: path.to_owned(),
                    first_line: self.line(first),
                    second_line: self.line(second),
                });
            }
            return Ok(Lookup::Found { key: first, value });
        }
        Ok(match self.merge_providing(mapping, key, 0) {
            Some(merge_line) => Lookup::Inherited { merge_line },
            None => Lookup::Missing,
        })
    }

    /// The line of the `<<` key through which `mapping` inherits `key`, if any.
    fn merge_providing(&self, mapping: NodeId, key: &str, depth: usize) -> Option<usize> {
        if depth > MAX_MERGE_DEPTH {
            return None;
        }
        self.entries(mapping).iter().find_map(|&(merge_key, sources)| {
            let provides = self.is_merge_key(merge_key)
                && self.merge_sources(sources).into_iter().any(|source| {
                    self.explicit(source, key).next().is_some()
                        || self.merge_providing(source, key, depth + 1).is_some()
                });
            provides.then(|| self.line(merge_key))
        })
    }

    /// The mappings a `<<` value merges: an alias, a mapping, or a sequence of them.
    fn merge_sources(&self, value: NodeId) -> Vec<NodeId> {
        let resolve = |id: NodeId| match &self.nodes[id].kind {
            NodeKind::Alias { anchor_id } => self.anchors.get(anchor_id).copied(),
            _ => Some(id),
        };
        match &self.nodes[value].kind {
            NodeKind::Sequence(items) => items.iter().filter_map(|&item| resolve(item)).collect(),
            _ => resolve(value).into_iter().collect(),
        }
    }

    fn alias_error(&self, id: NodeId, anchor_id: usize, path: &str, line: usize) -> YamlError {
        let span = &self.nodes[id].span;
        let alias = byte_range(self.text, span.start, span.end).and_then(|range| self.text.get(range));
        YamlError::Alias {
            path: path.to_owned(),
            line,
            anchor: alias.unwrap_or_default().trim_start_matches('*').to_owned(),
            anchor_line: self
                .anchors
                .get(&anchor_id)
                .map_or(self.line(id), |&anchor| self.line(anchor)),
        }
    }

    /// Walks `prefix` from the root; every part must be a mapping written in place.
    fn find_mapping(&self, prefix: &[&str]) -> Result<MappingAt, YamlError> {
        let mut current = MappingAt {
            id: self.root,
            path: String::new(),
            line: self.line(self.root),
        };
        self.ensure_mapping(&current)?;
        for part in prefix {
            let path = child_path(&current.path, part);
            current = match self.lookup(current.id, part, &path)? {
                Lookup::Found { key, value } => MappingAt {
                    id: value,
                    path,
                    line: self.line(key),
                },
                Lookup::Inherited { merge_line } => {
                    return Err(YamlError::Inherited {
                        path,
                        key: (*part).to_owned(),
                        merge_line,
                    });
                }
                Lookup::Missing => {
                    return Err(YamlError::PathNotFound {
                        path,
                        missing: (*part).to_owned(),
                        parent: current.path,
                        line: current.line,
                    });
                }
            };
            self.ensure_mapping(&current)?;
        }
        Ok(current)
    }

    fn ensure_mapping(&self, at: &MappingAt) -> Result<(), YamlError> {
        let found = match &self.nodes[at.id].kind {
            NodeKind::Mapping(_) => return Ok(()),
            NodeKind::Alias { anchor_id } => return Err(self.alias_error(at.id, *anchor_id, &at.path, at.line)),
            NodeKind::Sequence(_) => "a sequence",
            NodeKind::Scalar {
                value,
                style: ScalarStyle::Plain,
                ..
            } if value.is_empty() => "empty",
            NodeKind::Scalar { .. } => "a single value",
        };
        Err(YamlError::NotAMapping {
            path: at.path.clone(),
            line: at.line,
            found,
        })
    }

    /// The scalar at `mapping.key`, or `None` when the key is missing.
    fn find_scalar(&self, mapping: &MappingAt, key: &str) -> Result<Option<ScalarAt<'_>>, YamlError> {
        let path = child_path(&mapping.path, key);
        let (line, value) = match self.lookup(mapping.id, key, &path)? {
            Lookup::Found { key, value } => (self.line(key), value),
            Lookup::Inherited { merge_line } => {
                return Err(YamlError::Inherited {
                    path,
                    key: key.to_owned(),
                    merge_line,
                });
            }
            Lookup::Missing => return Ok(None),
        };
        let node = &self.nodes[value];
        match &node.kind {
            NodeKind::Scalar { value, style, tagged } => Ok(Some(ScalarAt {
                line,
                value,
                style: *style,
                tagged: *tagged,
                start: node.span.start,
                end: node.span.end,
            })),
            NodeKind::Alias { anchor_id } => Err(self.alias_error(value, *anchor_id, &path, line)),
            NodeKind::Mapping(_) => Err(YamlError::NotAScalar {
                path,
                line,
                found: "a mapping",
            }),
            NodeKind::Sequence(_) => Err(YamlError::NotAScalar {
                path,
                line,
                found: "a sequence",
            }),
        }
    }
}

// ---------------------------------------------------------------------------
// Locating and replacing the text of a scalar.
// ---------------------------------------------------------------------------

/// The byte offset of a saphyr-parser marker, whose index counts characters.
fn byte_offset(text: &str, marker: Marker) -> Option<usize> {
    text.char_indices()
        .map(|(byte, _)| byte)
        .chain([text.len()])
        .nth(marker.index())
}

fn byte_range(text: &str, start: Marker, end: Marker) -> Option<Range<usize>> {
    let range = byte_offset(text, start)?..byte_offset(text, end)?;
    (range.start <= range.end).then_some(range)
}

/// The bytes of a scalar's own text (quotes included, anchor and tag
/// excluded), or `None` if they cannot be found exactly.
fn locate_scalar(text: &str, scalar: &ScalarAt<'_>) -> Option<Range<usize>> {
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
pub(super) fn skip_properties(text: &str, span: Range<usize>) -> Option<usize> {
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
pub(super) fn closing_quote(text: &str, open: usize, quote: u8) -> Option<usize> {
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
fn write_scalar(style: ScalarStyle, new_text: &str) -> String {
    match style {
        ScalarStyle::DoubleQuoted => format!("\"{new_text}\""),
        ScalarStyle::SingleQuoted => format!("'{new_text}'"),
        ScalarStyle::Plain | ScalarStyle::Literal | ScalarStyle::Folded => new_text.to_owned(),
    }
}

/// What the new scalar must mean: a string when quoted, else the typed value.
fn expected_value(style: ScalarStyle, value: Value) -> Yaml {
    match (style, value) {
        (ScalarStyle::DoubleQuoted | ScalarStyle::SingleQuoted, _) => Yaml::String(value.to_string()),
        (_, Value::Int(int)) => Yaml::Number(int.into()),
        (_, Value::Bool(bool)) => Yaml::Bool(bool),
    }
}

fn replace_ranges(text: &str, mut replacements: Vec<(Range<usize>, String)>) -> Result<String, YamlError> {
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

// ---------------------------------------------------------------------------
// Verification.
// ---------------------------------------------------------------------------

/// One value [`edit`] changes.
struct Target<'a> {
    /// The dotted path.
    path: String,
    key: &'a str,
    /// The scalar's new text content.
    new_text: String,
    /// What `serde_yaml` must read there after the edit.
    expected: Yaml,
}

fn failed(reason: String) -> YamlError {
    YamlError::Verification { reason }
}

/// Checks that `after` differs from `before` exactly by the targets' new values.
///
/// `serde_yaml` expands aliases but keeps `<<` as an ordinary key whose value is
/// the expanded merge source, and the trees are compared that way, without
/// applying merges. That is stricter than comparing merged trees (the merged
/// tree is a function of the unmerged one) and sees every copy an alias or a
/// merge makes of a changed value.
fn verify(before: &str, after: &str, prefix: &[&str], targets: &[Target<'_>]) -> Result<(), YamlError> {
    let keys: Vec<&str> = targets.iter().map(|target| target.key).collect();
    let read_back = read(after, prefix, &keys).map_err(|err| failed(format!("the edited text reads wrong: {err}")))?;
    for (target, value) in targets.iter().zip(read_back) {
        if value.as_deref() != Some(target.new_text.as_str()) {
            return Err(failed(format!(
                "after the edit `{}` would read {value:?} instead of {:?}",
                target.path, target.new_text
            )));
        }
    }

    let mut old = all_documents(before).map_err(|err| {
        failed(format!(
            "the file could not be checked with a second YAML parser: {err}"
        ))
    })?;
    let mut new = all_documents(after).map_err(|err| failed(format!("the edited text does not parse: {err}")))?;
    if old.is_empty() || old.len() != new.len() {
        return Err(failed("the edited text has a different number of documents".to_owned()));
    }
    for target in targets {
        let not_found = || failed(format!("could not find `{}` with the second YAML parser", target.path));
        let new_value = value_at_mut(&mut new[0], prefix, target.key).ok_or_else(not_found)?;
        if *new_value != target.expected {
            return Err(failed(format!(
                "after the edit `{}` would mean {} instead of {}",
                target.path,
                describe(new_value),
                describe(&target.expected)
            )));
        }
        *new_value = Yaml::Null;
        *value_at_mut(&mut old[0], prefix, target.key).ok_or_else(not_found)? = Yaml::Null;
    }
    for (index, (old, new)) in old.iter().zip(&new).enumerate() {
        if let Some(path) = difference(old, new, String::new()) {
            let path = if path.is_empty() {
                "the whole document".to_owned()
            } else {
                path
            };
            let other = if index == 0 {
                path
            } else {
                format!("{path} (document {})", index + 1)
            };
            let targets = targets
                .iter()
                .map(|target| target.path.as_str())
                .collect::<Vec<_>>()
                .join("`, `");
            return Err(YamlError::SharedValue { targets, other });
        }
    }
    Ok(())
}

fn all_documents(text: &str) -> Result<Vec<Yaml>, serde_yaml::Error> {
    serde_yaml::Deserializer::from_str(text)
        .map(Yaml::deserialize)
        .collect()
}

fn value_at_mut<'v>(document: &'v mut Yaml, prefix: &[&str], key: &str) -> Option<&'v mut Yaml> {
    let mut current = document;
    for part in prefix.iter().chain([&key]) {
        current = child_mut(current, part)?;
    }
    Some(current)
}

/// The value under `key`, written as a string or as a plain number, boolean or null.
fn child_mut<'v>(value: &'v mut Yaml, key: &str) -> Option<&'v mut Yaml> {
    match value {
        Yaml::Mapping(mapping) => {
            let as_string = Yaml::String(key.to_owned());
            if mapping.contains_key(&as_string) {
                return mapping.get_mut(&as_string);
            }
            match serde_yaml::from_str::<Yaml>(key).ok()? {
                plain @ (Yaml::Number(_) | Yaml::Bool(_) | Yaml::Null) => mapping.get_mut(&plain),
                _ => None,
            }
        }
        Yaml::Tagged(tagged) => child_mut(&mut tagged.value, key),
        _ => None,
    }
}

/// The dotted path of the first place where `old` and `new` differ, if any.
fn difference(old: &Yaml, new: &Yaml, path: String) -> Option<String> {
    if old == new {
        return None;
    }
    let inner = match (old, new) {
        (Yaml::Mapping(old), Yaml::Mapping(new)) => old
            .iter()
            .find_map(|(key, old_value)| {
                let path = child_path(&path, &key_text(key));
                match new.get(key) {
                    Some(new_value) => difference(old_value, new_value, path),
                    None => Some(path),
                }
            })
            .or_else(|| {
                new.keys()
                    .find(|key| !old.contains_key(*key))
                    .map(|key| child_path(&path, &key_text(key)))
            }),
        (Yaml::Sequence(old), Yaml::Sequence(new)) if old.len() == new.len() => old
            .iter()
            .zip(new)
            .enumerate()
            .find_map(|(index, (old, new))| difference(old, new, format!("{path}[{index}]"))),
        (Yaml::Tagged(old), Yaml::Tagged(new)) if old.tag == new.tag => {
            difference(&old.value, &new.value, path.clone())
        }
        _ => None,
    };
    Some(inner.unwrap_or(path))
}

fn key_text(key: &Yaml) -> String {
    match key {
        Yaml::String(text) => text.clone(),
        other => serde_yaml::to_string(other).map_or_else(|_| "?".to_owned(), |text| text.trim_end().to_owned()),
    }
}

fn describe(value: &Yaml) -> String {
    match value {
        Yaml::Null => "null".to_owned(),
        Yaml::Bool(bool) => format!("the boolean {bool}"),
        Yaml::Number(number) => format!("the number {number}"),
        Yaml::String(text) => format!("the string {text:?}"),
        Yaml::Sequence(_) => "a sequence".to_owned(),
        Yaml::Mapping(_) => "a mapping".to_owned(),
        Yaml::Tagged(tagged) => format!("a value tagged {}", tagged.tag),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::PathBuf;

    use proptest::prelude::*;

    use super::*;
    use crate::write::Value::{Bool, Int};

    /// In/out fixtures: `tests/fixtures/yaml/<case>/in.yaml` edited with the
    /// prefix and changes below must give `out.yaml` byte for byte.
    mod fixtures {
        use super::*;

        fn fixture(case: &str, file: &str) -> String {
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/yaml")
                .join(case)
                .join(file);
            fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        }

        /// Also checks that the new values read back and that a second edit changes nothing.
        fn check(case: &str, prefix: &[&str], changes: &[(&str, Value)]) {
            let input = fixture(case, "in.yaml");
            let expected = fixture(case, "out.yaml");
            let edited = edit(&input, prefix, changes).unwrap_or_else(|err| panic!("{case}: {err}"));
            assert_eq!(edited, expected, "{case}");
            let keys: Vec<&str> = changes.iter().map(|(key, _)| *key).collect();
            let values: Vec<Option<String>> = changes.iter().map(|(_, value)| Some(value.to_string())).collect();
            assert_eq!(read(&edited, prefix, &keys), Ok(values), "{case}");
            assert_eq!(
                edit(&edited, prefix, changes),
                Ok(edited),
                "{case}: a second edit changes nothing"
            );
        }

        macro_rules! fixture_tests {
            ($($case:ident: $prefix:expr, $changes:expr;)*) => {
                $(
                    #[test]
                    fn $case() {
                        check(stringify!($case), &$prefix, &$changes);
                    }
                )*
            };
        }

        fixture_tests! {
            // Several sections, comments everywhere, `"abc#def"`, a comment after the target.
            helm_values: ["backend", "env"], [("DB_POOL_SIZE", Int(25)), ("DB_MAX_OVERFLOW", Int(13))];
            // Quoted strings in `data`, a boolean written as a string.
            configmap: ["data"], [("DB_POOL_SIZE", Int(25)), ("DB_MAX_OVERFLOW", Int(12)), ("DB_POOL_PRE_PING", Bool(true))];
            // Anchors, aliases and `<<` merges elsewhere; anchored targets no alias uses.
            anchors_and_merge: ["backend", "env"], [("DB_POOL_SIZE", Int(25)), ("DB_MAX_OVERFLOW", Int(14))];
            flow_map: ["backend", "env"], [("DB_POOL_SIZE", Int(25)), ("DB_MAX_OVERFLOW", Int(15)), ("DB_ECHO", Bool(true))];
            // A flow map over several lines, with a quoted key, blanks before commas and a comment.
            flow_map_multiline: ["worker", "env"], [("DB_POOL_SIZE", Int(9)), ("DB_MAX_OVERFLOW", Int(3))];
            // Quoted keys; single-quoted, double-quoted, plain number and plain boolean values.
            quoting_styles: ["app", "settings"], [
                ("DB_POOL_SIZE", Int(25)),
                ("DB_MAX_OVERFLOW", Int(11)),
                ("DB_POOL_TIMEOUT", Int(-1)),
                ("DB_POOL_PRE_PING", Bool(false)),
            ];
            crlf: ["backend", "env"], [("DB_POOL_SIZE", Int(25)), ("DB_MAX_OVERFLOW", Int(12))];
            no_trailing_newline: ["backend", "env"], [("DB_POOL_SIZE", Int(25)), ("DB_MAX_OVERFLOW", Int(11))];
            // Multi-byte characters before the targets, on earlier lines and on the same line.
            non_ascii: ["backend", "env"], [("DB_POOL_SIZE", Int(25)), ("DB_MAX_OVERFLOW", Int(12))];
            // Only the first document is edited.
            multi_document: ["backend", "env"], [("DB_POOL_SIZE", Int(25))];
            byte_order_mark: ["backend", "env"], [("DB_POOL_SIZE", Int(25))];
            top_level_keys: [], [("DB_POOL_SIZE", Int(30))];
            // New values equal to the old ones leave the text untouched (out.yaml = in.yaml).
            unchanged_values: ["backend", "env"], [("DB_POOL_SIZE", Int(25)), ("DB_MAX_OVERFLOW", Int(10)), ("DB_POOL_PRE_PING", Bool(true))];
        }
    }

    const HELM: &str = "\
backend:
  image: shop/backend
  env:
    DB_POOL_SIZE: \"20\"
";

    #[test]
    fn saphyr_markers_count_characters_and_quoted_spans_run_past_the_quote() {
        // Pins what the module relies on (see the module documentation).
        let text = "# Überwachung ✓\nkey: &a \"20\"   # note\nplain: 7 # n\n";
        let scalars: Vec<(usize, usize)> = Parser::new_from_str(text)
            .map(Result::unwrap)
            .filter(|(event, _)| matches!(event, Event::Scalar(..)))
            .map(|(_, span)| (span.start.index(), span.end.index()))
            .collect();
        // Line 2 starts at character 16 (byte 19): indices count characters.
        assert_eq!(scalars[0], (16, 19));
        // The quoted value's span starts at its anchor and ends after the comment.
        assert_eq!(scalars[1], (21, 37));
        // A plain value's span is exact.
        assert_eq!(scalars[3], (45, 46));
        let doc = Document::parse(text).unwrap();
        let mapping = doc.find_mapping(&[]).unwrap();
        let quoted = doc.find_scalar(&mapping, "key").unwrap().unwrap();
        assert_eq!(locate_scalar(text, &quoted).map(|range| &text[range]), Some("\"20\""));
        let plain = doc.find_scalar(&mapping, "plain").unwrap().unwrap();
        assert_eq!(locate_scalar(text, &plain).map(|range| &text[range]), Some("7"));
    }

    #[test]
    fn read_gives_the_unquoted_text_and_none_for_a_missing_key() {
        let text = "env:\n  A: \"2\\u0030\"\n  B: 'it''s'\n  C: true\n  D: |\n    x\n";
        let values = read(text, &["env"], &["A", "B", "C", "D", "E"]).unwrap();
        let expected = [Some("20"), Some("it's"), Some("true"), Some("x\n"), None];
        assert_eq!(values, expected.map(|value| value.map(str::to_owned)));
    }

    #[test]
    fn a_missing_prefix_part_is_named_with_the_line_of_the_deepest_existing_part() {
        let err = edit(HELM, &["backend", "envs"], &[("DB_POOL_SIZE", Int(25))]).unwrap_err();
        assert_eq!(
            err,
            YamlError::PathNotFound {
                path: "backend.envs".into(),
                missing: "envs".into(),
                parent: "backend".into(),
                line: 1
            }
        );
        assert_eq!(
            err.to_string(),
            "cannot find `backend.envs`: there is no key `envs` in `backend` (line 1)"
        );

        let err = read(HELM, &["frontend", "env"], &["DB_POOL_SIZE"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot find `frontend`: there is no key `frontend` in the top level of the document (line 1)"
        );
    }

    #[test]
    fn edit_never_inserts_a_missing_key() {
        assert_eq!(read(HELM, &["backend", "env"], &["DB_MAX_OVERFLOW"]), Ok(vec![None]));
        let err = edit(
            HELM,
            &["backend", "env"],
            &[("DB_POOL_SIZE", Int(25)), ("DB_MAX_OVERFLOW", Int(12))],
        );
        let err = err.unwrap_err();
        assert_eq!(
            err,
            YamlError::KeyMissing {
                path: "backend.env.DB_MAX_OVERFLOW".into(),
                key: "DB_MAX_OVERFLOW".into(),
                parent: "backend.env".into(),
                line: 3
            }
        );
        assert_eq!(
            err.to_string(),
            "`backend.env.DB_MAX_OVERFLOW` does not exist: add `DB_MAX_OVERFLOW` to `backend.env` (line 3) first \
             (poolcap changes values but never adds keys to YAML files)"
        );
    }

    #[test]
    fn a_mapping_or_sequence_target_is_refused() {
        let expected = YamlError::NotAScalar {
            path: "backend.env".into(),
            line: 3,
            found: "a mapping",
        };
        assert_eq!(read(HELM, &["backend"], &["env"]), Err(expected.clone()));
        assert_eq!(edit(HELM, &["backend"], &[("env", Int(1))]), Err(expected));
        let text = "backend:\n  ports: [80, 443]\n";
        let err = edit(text, &["backend"], &[("ports", Int(1))]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`backend.ports` at line 2 is a sequence, not a single value"
        );
    }

    #[test]
    fn a_prefix_part_that_is_not_a_mapping_is_refused() {
        let err = read("backend: 3\n", &["backend", "env"], &["DB_POOL_SIZE"]).unwrap_err();
        assert_eq!(
            err,
            YamlError::NotAMapping {
                path: "backend".into(),
                line: 1,
                found: "a single value"
            }
        );
        let err = read("backend:\n", &["backend", "env"], &["DB_POOL_SIZE"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`backend` at line 1 is empty, not a mapping, so it has no keys to look in"
        );
        let err = read("- a\n- b\n", &[], &["DB_POOL_SIZE"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the document at line 1 is a sequence, not a mapping, so it has no keys to look in"
        );
    }

    #[test]
    fn an_alias_target_is_refused_with_the_anchor_to_edit() {
        let text = "sizes:\n  default: &size 20\nbackend:\n  env:\n    DB_POOL_SIZE: *size\n";
        let expected = YamlError::Alias {
            path: "backend.env.DB_POOL_SIZE".into(),
            line: 5,
            anchor: "size".into(),
            anchor_line: 2,
        };
        assert_eq!(
            read(text, &["backend", "env"], &["DB_POOL_SIZE"]),
            Err(expected.clone())
        );
        let err = edit(text, &["backend", "env"], &[("DB_POOL_SIZE", Int(25))]).unwrap_err();
        assert_eq!(err, expected);
        assert_eq!(
            err.to_string(),
            "`backend.env.DB_POOL_SIZE` at line 5 is an alias (`*size`) of the value anchored as `&size` at line 2; \
             edit that value instead, or give `backend.env.DB_POOL_SIZE` its own value"
        );
    }

    #[test]
    fn an_alias_on_the_prefix_is_refused() {
        let text = "base: &env\n  DB_POOL_SIZE: 20\nbackend:\n  env: *env\n";
        let err = edit(text, &["backend", "env"], &[("DB_POOL_SIZE", Int(25))]).unwrap_err();
        assert_eq!(
            err,
            YamlError::Alias {
                path: "backend.env".into(),
                line: 4,
                anchor: "env".into(),
                anchor_line: 1
            }
        );
    }

    #[test]
    fn an_anchored_target_aliased_elsewhere_is_refused_by_verification() {
        let text = "backend:\n  env:\n    DB_POOL_SIZE: &size 20\nworker:\n  env:\n    DB_POOL_SIZE: *size\n";
        let err = edit(text, &["backend", "env"], &[("DB_POOL_SIZE", Int(25))]).unwrap_err();
        assert_eq!(
            err,
            YamlError::SharedValue {
                targets: "backend.env.DB_POOL_SIZE".into(),
                other: "worker.env.DB_POOL_SIZE".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "refusing to edit: changing `backend.env.DB_POOL_SIZE` would also change `worker.env.DB_POOL_SIZE`; \
             the value is probably shared through an anchor (`&`) and an alias (`*`) or a `<<` merge, \
             so give it its own value first"
        );
        // The same value unchanged is fine.
        assert_eq!(
            edit(text, &["backend", "env"], &[("DB_POOL_SIZE", Int(20))]),
            Ok(text.to_owned())
        );
    }

    #[test]
    fn a_target_in_a_merged_mapping_is_refused_by_verification() {
        let text = "base: &base\n  DB_POOL_SIZE: 20\nbackend:\n  env:\n    <<: *base\n    DB_MAX_OVERFLOW: 10\n";
        let err = edit(text, &["base"], &[("DB_POOL_SIZE", Int(25))]).unwrap_err();
        assert_eq!(
            err,
            YamlError::SharedValue {
                targets: "base.DB_POOL_SIZE".into(),
                other: "backend.env.<<.DB_POOL_SIZE".into()
            }
        );
    }

    #[test]
    fn a_key_inherited_through_a_merge_is_refused() {
        let text = "base: &base\n  DB_POOL_SIZE: 20\nbackend:\n  env:\n    <<: [*base]\n    DB_MAX_OVERFLOW: 10\n";
        let expected = YamlError::Inherited {
            path: "backend.env.DB_POOL_SIZE".into(),
            key: "DB_POOL_SIZE".into(),
            merge_line: 5,
        };
        assert_eq!(
            read(text, &["backend", "env"], &["DB_POOL_SIZE"]),
            Err(expected.clone())
        );
        assert_eq!(
            edit(text, &["backend", "env"], &[("DB_POOL_SIZE", Int(25))]),
            Err(expected)
        );
        assert_eq!(
            read(text, &["backend", "env"], &["DB_MAX_OVERFLOW", "OTHER"]),
            Ok(vec![Some("10".into()), None])
        );
    }

    #[test]
    fn a_block_scalar_target_is_refused() {
        let text = "env:\n  DB_POOL_SIZE: |\n    20\n";
        let err = edit(text, &["env"], &[("DB_POOL_SIZE", Int(25))]).unwrap_err();
        assert_eq!(
            err,
            YamlError::BlockScalar {
                path: "env.DB_POOL_SIZE".into(),
                line: 2
            }
        );
        let err = edit(
            "env:\n  DB_POOL_SIZE: >-\n    20\n",
            &["env"],
            &[("DB_POOL_SIZE", Int(25))],
        )
        .unwrap_err();
        assert!(matches!(err, YamlError::BlockScalar { line: 2, .. }), "{err:?}");
    }

    #[test]
    fn tagged_and_empty_targets_are_refused() {
        let text = "env:\n  A: !!str 20\n  B:\n  C: ~\n";
        let err = edit(text, &["env"], &[("A", Int(25))]).unwrap_err();
        assert_eq!(
            err,
            YamlError::UnsupportedValue {
                path: "env.A".into(),
                line: 2,
                problem: "has an explicit tag"
            }
        );
        let err = edit(text, &["env"], &[("B", Int(25))]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`env.B` at line 3 has no value (it is empty); poolcap does not edit such values, \
             so write a plain or quoted value first"
        );
        // `~` is written, so it can be replaced.
        assert_eq!(
            edit(text, &["env"], &[("C", Int(25))]),
            Ok("env:\n  A: !!str 20\n  B:\n  C: 25\n".to_owned())
        );
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let err = read("backend:\n  env: {DB_POOL_SIZE: 20\n", &["backend"], &["env"]).unwrap_err();
        assert!(matches!(err, YamlError::Syntax { line: 3, .. }), "{err:?}");
        assert!(
            err.to_string().starts_with("YAML syntax error at line 3, column 1: "),
            "{err}"
        );
        // Also in a later document, which is otherwise ignored.
        let err = edit("a: 1\n---\nb: [\n", &[], &[("a", Int(2))]).unwrap_err();
        assert!(matches!(err, YamlError::Syntax { line: 4, .. }), "{err:?}");
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let text = "env:\n  A: 1\n  A: 2\n";
        let err = read(text, &["env"], &["A"]).unwrap_err();
        assert_eq!(
            err,
            YamlError::DuplicateKey {
                path: "env.A".into(),
                first_line: 2,
                second_line: 3
            }
        );
        let err = edit(
            HELM,
            &["backend", "env"],
            &[("DB_POOL_SIZE", Int(25)), ("DB_POOL_SIZE", Int(26))],
        );
        assert_eq!(
            err,
            Err(YamlError::DuplicateChange {
                path: "backend.env.DB_POOL_SIZE".into()
            })
        );
    }

    #[test]
    fn an_empty_document_is_refused() {
        for text in ["", "# only a comment\n", "---\n"] {
            assert_eq!(read(text, &[], &["A"]), Err(YamlError::EmptyDocument), "{text:?}");
        }
    }

    #[test]
    fn verification_refuses_any_other_change() {
        let target = |expected| Target {
            path: "a".into(),
            key: "a",
            new_text: "5".into(),
            expected,
        };
        let err = verify("a: 1\nb: 2\n", "a: 5\nb: 3\n", &[], &[target(Yaml::Number(5.into()))]).unwrap_err();
        assert_eq!(
            err,
            YamlError::SharedValue {
                targets: "a".into(),
                other: "b".into()
            }
        );
        let err = verify("a: 1\n", "a: \"5\"\n", &[], &[target(Yaml::Number(5.into()))]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "refusing to edit: after the edit `a` would mean the string \"5\" instead of the number 5"
        );
        let err = verify("a: 1\n", "a: 6\n", &[], &[target(Yaml::Number(5.into()))]).unwrap_err();
        assert!(matches!(err, YamlError::Verification { .. }), "{err:?}");
        assert_eq!(
            verify("a: 1\n", "a: 5\n", &[], &[target(Yaml::Number(5.into()))]),
            Ok(())
        );
    }

    /// YAML-like text around a mapping `a` with keys `b` and `c`, so that edits
    /// sometimes succeed.
    fn yamlish() -> impl Strategy<Value = String> {
        let value = prop::sample::select(vec![
            "20",
            "\"20\"",
            "'20'",
            "&x 20",
            "*x",
            "|\n    20",
            "{d: 1}",
            "true",
            "",
            "~",
            "!!str 2",
            "'a''b'",
        ]);
        let shape = (
            value.clone(),
            value,
            "[ #a-c:\"'\n{}\\[\\],&*-]{0,12}",
            "[ -~\n\r\tüÜ✓]{0,20}",
        );
        prop_oneof![
            any::<String>(),
            "[ a-c:\"'#&*!|>{}\\[\\],\\-\n\r\t0-9ü✓]{0,60}",
            shape.prop_map(|(b, c, middle, tail)| format!("x: &x 1\na:\n  b: {b}{middle}\n  c: {c}\n{tail}")),
            shape_flow(),
        ]
    }

    fn shape_flow() -> impl Strategy<Value = String> {
        ("[ \n]{0,3}", "[ #\n,]{0,4}").prop_map(|(before, after)| format!("a: {{{before}b: \"1\",{after} c: 2}}\n"))
    }

    proptest! {
        #[test]
        fn edit_never_panics_and_what_it_writes_reads_back(
            text in yamlish(),
            top_level in any::<bool>(),
            size in -100i64..1000,
            flag in any::<bool>(),
        ) {
            let prefix: &[&str] = if top_level { &[] } else { &["a"] };
            let changes = [("b", Int(size)), ("c", Bool(flag))];
            if let Ok(edited) = edit(&text, prefix, &changes) {
                let values = read(&edited, prefix, &["b", "c"]);
                prop_assert_eq!(values, Ok(vec![Some(size.to_string()), Some(flag.to_string())]));
            }
        }
    }
}

//! Locating keys in the parsed document: the mapping at a prefix path and the
//! scalar at a key under it, refusing aliases, `<<`-inherited keys and
//! repeated keys on the way (errors name the dotted path and line).

use saphyr_parser::{Marker, ScalarStyle};

use super::scan::{Document, NodeId, NodeKind};
use super::text::byte_range;
use super::{YamlError, child_path};

/// A mapping found at the prefix path.
pub(super) struct MappingAt {
    pub(super) id: NodeId,
    /// The dotted prefix.
    pub(super) path: String,
    /// Line of the prefix's last key (or of the document's first key).
    pub(super) line: usize,
}

/// A scalar found at a target path.
pub(super) struct ScalarAt<'a> {
    /// Line of the key.
    pub(super) line: usize,
    pub(super) value: &'a str,
    pub(super) style: ScalarStyle,
    pub(super) tagged: bool,
    pub(super) start: Marker,
    pub(super) end: Marker,
}

enum Lookup {
    Found { key: NodeId, value: NodeId },
    Inherited { merge_line: usize },
    Missing,
}

/// How deep `<<` merges are followed (they can be cyclic through aliases).
const MAX_MERGE_DEPTH: usize = 32;

impl Document<'_> {
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
    pub(super) fn find_mapping(&self, prefix: &[&str]) -> Result<MappingAt, YamlError> {
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
    pub(super) fn find_scalar(&self, mapping: &MappingAt, key: &str) -> Result<Option<ScalarAt<'_>>, YamlError> {
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

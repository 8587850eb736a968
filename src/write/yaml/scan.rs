//! Scanning: the first document of a YAML stream as a tree of nodes, built from
//! saphyr-parser's events (the whole stream is parsed, so a syntax error in a
//! later document is still reported).

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::YamlError;

pub(super) type NodeId = usize;

pub(super) struct Node {
    pub(super) kind: NodeKind,
    pub(super) span: Span,
}

pub(super) enum NodeKind {
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

pub(super) struct Document<'t> {
    pub(super) text: &'t str,
    pub(super) nodes: Vec<Node>,
    pub(super) root: NodeId,
    /// Anchor id (as numbered by saphyr-parser) → the anchored node.
    pub(super) anchors: HashMap<usize, NodeId>,
}

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
    pub(super) fn parse(text: &'t str) -> Result<Self, YamlError> {
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
}

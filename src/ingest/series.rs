//! The table of series: service/instance pairs interned to small ids, each
//! remembered with whether a name holds a control character, and the limit
//! on how many pairs a run may hold.

use std::collections::HashMap;

use super::SeriesId;
use crate::support::hash::FxBuild;

/// A service/instance pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    /// The deployable.
    pub service: String,
    /// The process or pod owning the pool.
    pub instance: String,
}

/// Interns service/instance pairs to small ids, so per-row work is a lookup.
///
/// It also remembers, per pair, whether a name holds a control character
/// (such rows are rejected as `bad-name`), and how many pairs a run may hold
/// ([`SeriesTable::limit`]): each pair costs the analysis about 2.3 KB, so the
/// run stops with [`IngestError::TooManySeries`](super::IngestError::TooManySeries) before memory runs out.
#[derive(Debug)]
pub struct SeriesTable {
    keys: Vec<SeriesKey>,
    pub(super) bad_name: Vec<bool>,
    index: HashMap<Box<[u8]>, SeriesId, FxBuild>,
    scratch: Vec<u8>,
    pub(super) limit: usize,
}

impl Default for SeriesTable {
    fn default() -> Self {
        SeriesTable::with_limit(DEFAULT_MAX_SERIES)
    }
}

/// Distinct service/instance pairs a run reads by default (`--max-series`):
/// about 230 MB of analysis state (measured: benches/series_memory.py).
pub const DEFAULT_MAX_SERIES: usize = 100_000;

impl SeriesTable {
    /// An empty table that accepts at most `limit` pairs.
    pub fn with_limit(limit: usize) -> Self {
        SeriesTable {
            keys: Vec::new(),
            bad_name: Vec::new(),
            index: HashMap::default(),
            scratch: Vec::new(),
            limit,
        }
    }

    /// The most pairs a run may hold.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Id of the pair, adding it when new.
    pub fn intern(&mut self, service: &[u8], instance: &[u8]) -> SeriesId {
        self.scratch.clear();
        self.scratch.extend_from_slice(service);
        self.scratch.push(0);
        self.scratch.extend_from_slice(instance);
        if let Some(&id) = self.index.get(self.scratch.as_slice()) {
            return id;
        }
        let id = self.keys.len() as SeriesId;
        let control = |b: &[u8]| String::from_utf8_lossy(b).chars().any(char::is_control);
        self.bad_name.push(control(service) || control(instance));
        self.keys.push(SeriesKey {
            service: String::from_utf8_lossy(service).into_owned(),
            instance: String::from_utf8_lossy(instance).into_owned(),
        });
        self.index.insert(self.scratch.clone().into_boxed_slice(), id);
        id
    }

    /// The pair behind an id.
    pub fn key(&self, id: SeriesId) -> &SeriesKey {
        &self.keys[id as usize]
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no series was seen.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// All pairs, indexed by id.
    pub fn keys(&self) -> &[SeriesKey] {
        &self.keys
    }
}

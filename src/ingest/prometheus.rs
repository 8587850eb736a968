//! PLACEHOLDER — being written (issue 7).

use std::io::Read;
use std::path::Path;

use super::{Diagnostics, FileSummary, IngestError, ReadOptions, Sample, SeriesTable};

/// Streams one file, calling `sink` with every valid sample.
pub fn read(
    path: &Path,
    _input: impl Read,
    _file: u32,
    _opts: &ReadOptions,
    _series: &mut SeriesTable,
    _diags: &mut Diagnostics,
    _sink: &mut dyn FnMut(&SeriesTable, Sample),
) -> Result<FileSummary, IngestError> {
    Err(IngestError::Header {
        path: path.to_path_buf(),
        line: 1,
        message: "this input format is not read yet".into(),
    })
}

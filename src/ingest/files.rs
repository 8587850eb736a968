//! Opening inputs: plain or gzip (told by its magic bytes), a UTF-8 byte order
//! mark dropped, bytes counted for progress bars; folders named on the command
//! line expanded to the files in them.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use super::IngestError;
use crate::support::digest::Tally;

/// A reader that counts the bytes read from the file (before decompression),
/// for progress bars.
struct Counting<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens an input like [`open`], counting the bytes read from the file into
/// `count` and digesting them into `tally` (the file's SHA-256 for provenance).
pub fn open_counted(
    path: &Path,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
    tally: &Tally,
) -> Result<Box<dyn Read + Send>, IngestError> {
    open_with(path, Some(count), Some(tally))
}

/// Opens an input like [`open`], digesting the file's bytes into `tally`.
pub fn open_digested(path: &Path, tally: &Tally) -> Result<Box<dyn Read + Send>, IngestError> {
    open_with(path, None, Some(tally))
}

/// The inputs named on the command line, with each folder replaced by the
/// files in it (not hidden ones, not sub-folders), in name order. A folder
/// without a file is an error naming it.
pub fn expand_folders(paths: &[PathBuf]) -> Result<Vec<PathBuf>, IngestError> {
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        if !path.is_dir() {
            out.push(path.clone());
            continue;
        }
        let io = |source| IngestError::Io {
            path: path.clone(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(Result::ok)
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        if files.is_empty() {
            return Err(io(std::io::Error::other("the folder holds no file to read")));
        }
        files.sort();
        out.extend(files);
    }
    Ok(out)
}

/// Opens an input, decompressing gzip (detected by its magic bytes, whatever the name).
pub fn open(path: &Path) -> Result<Box<dyn Read + Send>, IngestError> {
    open_with(path, None, None)
}

fn open_with(
    path: &Path,
    count: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    tally: Option<&Tally>,
) -> Result<Box<dyn Read + Send>, IngestError> {
    let io = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match file.read(&mut magic[got..]).map_err(io)? {
            0 => break,
            n => got += n,
        }
    }
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let file: Box<dyn Read + Send> = match tally {
        Some(tally) => Box::new(tally.wrap(file)),
        None => Box::new(file),
    };
    let raw: Box<dyn Read + Send> = match count {
        Some(count) => Box::new(Counting { inner: file, count }),
        None => file,
    };
    if got == 2 && magic == [0x1f, 0x8b] {
        let decoder = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, raw));
        Ok(Box::new(SkipBom::new(decoder)))
    } else {
        Ok(Box::new(SkipBom::new(raw)))
    }
}

/// The UTF-8 byte order mark some Windows tools write at the start of a file.
pub(super) const BOM: [u8; 3] = [0xef, 0xbb, 0xbf];

/// A reader that drops a UTF-8 byte order mark at the start of its input, so
/// that every reader (and format detection) sees a BOM-prefixed file exactly
/// as the same file without it.
pub(super) struct SkipBom<R> {
    inner: R,
    /// The first bytes read, when they were not a BOM, still to hand out.
    head: [u8; 3],
    head_len: usize,
    head_pos: usize,
    started: bool,
}

impl<R: Read> SkipBom<R> {
    pub(super) fn new(inner: R) -> Self {
        SkipBom {
            inner,
            head: [0; 3],
            head_len: 0,
            head_pos: 0,
            started: false,
        }
    }
}

impl<R: Read> Read for SkipBom<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.started {
            while self.head_len < 3 {
                match self.inner.read(&mut self.head[self.head_len..]) {
                    Ok(0) => break,
                    Ok(n) => self.head_len += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
                if self.head[..self.head_len] != BOM[..self.head_len] {
                    break;
                }
            }
            self.started = true;
            if self.head[..self.head_len] == BOM {
                self.head_len = 0;
            }
        }
        if self.head_pos < self.head_len {
            let n = (self.head_len - self.head_pos).min(buf.len());
            buf[..n].copy_from_slice(&self.head[self.head_pos..self.head_pos + n]);
            self.head_pos += n;
            if n == buf.len() {
                return Ok(n);
            }
            // Fill on in the same call: a caller that peeks at one read (a
            // `BufReader`'s `fill_buf` for format detection) sees a full buffer.
            return match self.inner.read(&mut buf[n..]) {
                Ok(more) => Ok(n + more),
                Err(_) => Ok(n),
            };
        }
        self.inner.read(buf)
    }
}

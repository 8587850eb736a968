//! SHA-256 of files and texts, for provenance: a digest taken from the bytes
//! of a file as a reader passes them (no second read of a large input), and
//! the hex form every output uses.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

use sha2::{Digest as _, Sha256};

/// SHA-256 of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A file's identity: the SHA-256 of its bytes (as stored, before any
/// decompression) and their count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    /// Lower-case hex SHA-256.
    pub sha256: String,
    /// Bytes on disk.
    pub bytes: u64,
}

impl FileDigest {
    /// Reads `path` whole (streaming, in 64 KiB blocks) and digests it.
    pub fn of_file(path: &Path) -> std::io::Result<FileDigest> {
        let mut file = std::fs::File::open(path)?;
        let tally = Tally::default();
        let mut reader = tally.wrap(&mut file);
        std::io::copy(&mut reader, &mut std::io::sink())?;
        Ok(tally.finish())
    }
}

/// The running digest of a reader's bytes, shared with the [`Digesting`]
/// reader that feeds it.
#[derive(Clone, Default)]
pub struct Tally(Arc<Mutex<(Sha256, u64)>>);

impl Tally {
    /// A reader that passes `inner`'s bytes through, digesting them.
    pub fn wrap<R: Read>(&self, inner: R) -> Digesting<R> {
        Digesting {
            inner,
            tally: self.clone(),
        }
    }

    /// Bytes digested so far.
    pub fn bytes(&self) -> u64 {
        self.0.lock().map_or(0, |t| t.1)
    }

    /// Feeds `bytes` (the rest of a file a parser did not read).
    pub fn update(&self, bytes: &[u8]) {
        if let Ok(mut t) = self.0.lock() {
            t.0.update(bytes);
            t.1 += bytes.len() as u64;
        }
    }

    /// The digest of every byte fed so far.
    pub fn finish(&self) -> FileDigest {
        let (sha, bytes) = match self.0.lock() {
            Ok(t) => (t.0.clone(), t.1),
            Err(p) => {
                let t = p.into_inner();
                (t.0.clone(), t.1)
            }
        };
        FileDigest {
            sha256: hex(&sha.finalize()),
            bytes,
        }
    }

    /// The digest of the whole of `path`, of which the first [`Tally::bytes`]
    /// were digested as they were read: a parser that stopped before the end
    /// (its format needs no more) still gives the file's digest.
    pub fn finish_file(&self, path: &Path) -> std::io::Result<FileDigest> {
        use std::io::{Seek, SeekFrom};
        let read = self.bytes();
        let mut file = std::fs::File::open(path)?;
        if file.metadata()?.len() > read {
            file.seek(SeekFrom::Start(read))?;
            let mut buf = vec![0u8; 1 << 16];
            loop {
                match file.read(&mut buf)? {
                    0 => break,
                    n => self.update(&buf[..n]),
                }
            }
        }
        Ok(self.finish())
    }
}

/// An order-independent digest of a set of records (rows read back from a
/// store, whose order a query does not promise): the sum, modulo 2²⁵⁶, of
/// each record's SHA-256 read as a big-endian number. The same records in
/// any order give the same digest; a changed, added or removed record
/// changes it; a record counted twice counts twice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetDigest {
    /// The sum's four 64-bit limbs, most significant first.
    limbs: [u64; 4],
    /// Records added.
    pub count: u64,
}

impl SetDigest {
    /// Adds one record's canonical bytes.
    pub fn add(&mut self, record: &[u8]) {
        let h = Sha256::digest(record);
        let mut carry = 0u64;
        for i in (0..4).rev() {
            let mut word = [0u8; 8];
            word.copy_from_slice(&h[i * 8..i * 8 + 8]);
            let (sum, c1) = self.limbs[i].overflowing_add(u64::from_be_bytes(word));
            let (sum, c2) = sum.overflowing_add(carry);
            self.limbs[i] = sum;
            carry = u64::from(c1) + u64::from(c2);
        }
        self.count += 1;
    }

    /// The sum in lower-case hex (64 digits).
    pub fn hex(&self) -> String {
        self.limbs.iter().map(|l| format!("{l:016x}")).collect()
    }
}

/// A reader digesting the bytes it passes on (see [`Tally`]).
pub struct Digesting<R> {
    inner: R,
    tally: Tally,
}

impl<R: Read> Read for Digesting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.tally.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_read_in_part_still_gives_the_whole_files_digest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let whole = FileDigest::of_file(&path).unwrap();
        assert_eq!(whole.sha256, sha256_hex(&bytes));
        assert_eq!(whole.bytes, 200_000);

        let tally = Tally::default();
        let mut reader = tally.wrap(std::fs::File::open(&path).unwrap());
        let mut head = vec![0u8; 70_000];
        reader.read_exact(&mut head).unwrap();
        assert_eq!(tally.finish_file(&path).unwrap(), whole);
    }

    #[test]
    fn a_set_digest_ignores_order_and_sees_every_record() {
        let rows: Vec<String> = (0..1000)
            .map(|i| format!("backend\tweb-{i}\t{}\t3\t20", 1_790_000_000 + i))
            .collect();
        let mut forward = SetDigest::default();
        rows.iter().for_each(|r| forward.add(r.as_bytes()));
        let mut backward = SetDigest::default();
        rows.iter().rev().for_each(|r| backward.add(r.as_bytes()));
        assert_eq!(forward, backward);
        assert_eq!(forward.count, 1000);
        let mut changed = SetDigest::default();
        rows.iter().enumerate().for_each(|(i, r)| {
            changed.add(if i == 500 {
                b"backend\tweb-500\t0\t4\t20"
            } else {
                r.as_bytes()
            })
        });
        assert_ne!(forward.hex(), changed.hex());
        let mut twice = forward;
        twice.add(rows[0].as_bytes());
        assert_ne!(forward.hex(), twice.hex());
        assert_eq!(SetDigest::default().hex(), "0".repeat(64));
    }

    #[test]
    fn the_empty_input_has_the_known_digest() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}

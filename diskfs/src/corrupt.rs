//! File corruption for a node that is down: flip seeded random bits in a
//! file, or truncate it. These work on the backing directory directly (no
//! mount needed) and say exactly what they did.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::Error;

/// One flipped bit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BitFlip {
    /// The corrupted file.
    pub file: PathBuf,
    /// Byte offset in it.
    pub offset: u64,
    /// Bit in that byte (0 = least significant).
    pub bit: u8,
}

/// A truncation done by [`truncate_at`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Truncation {
    /// The truncated file.
    pub file: PathBuf,
    /// Its size before.
    pub from: u64,
    /// Its size after.
    pub to: u64,
}

/// Flips `count` bits at offsets drawn uniformly (from `seed`, with no OS
/// randomness) in the written part of the file at `path`: up to its last
/// non-zero byte, since the zeros a file was grown or preallocated with hold
/// no data (a file of zeros only is drawn over whole). The same seed and
/// contents always flip the same bits. An empty file is left alone (no
/// flips returned).
pub fn flip_bits(path: &Path, count: usize, seed: u64) -> Result<Vec<BitFlip>, Error> {
    let io = |source| Error::Io {
        what: "corrupting",
        path: path.to_path_buf(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io)?;
    let mut data = Vec::new();
    std::io::Read::read_to_end(&mut &file, &mut data).map_err(io)?;
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let len = match data.iter().rposition(|&b| b != 0) {
        Some(last) => last as u64 + 1,
        None => data.len() as u64,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut flips = Vec::with_capacity(count);
    for _ in 0..count {
        let offset = rng.gen_range(0..len);
        let bit = rng.gen_range(0..8u8);
        let mut b = [0u8; 1];
        file.read_exact_at(&mut b, offset).map_err(io)?;
        b[0] ^= 1 << bit;
        file.write_all_at(&b, offset).map_err(io)?;
        flips.push(BitFlip {
            file: path.to_path_buf(),
            offset,
            bit,
        });
    }
    file.sync_all().map_err(io)?;
    tracing::info!(file = %path.display(), ?flips, "flipped bits");
    Ok(flips)
}

/// Truncates the file at `path` to `offset` bytes (no-op growth is refused:
/// an offset past the end leaves the file as it is and reports `to == from`).
pub fn truncate_at(path: &Path, offset: u64) -> Result<Truncation, Error> {
    let io = |source| Error::Io {
        what: "truncating",
        path: path.to_path_buf(),
        source,
    };
    let file = OpenOptions::new().write(true).open(path).map_err(io)?;
    let from = file.metadata().map_err(io)?.len();
    let to = offset.min(from);
    file.set_len(to).map_err(io)?;
    file.sync_all().map_err(io)?;
    tracing::info!(file = %path.display(), from, to, "truncated");
    Ok(Truncation {
        file: path.to_path_buf(),
        from,
        to,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_are_seeded_and_reported() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("wal");
        std::fs::write(&p, vec![0u8; 100]).unwrap();
        let flips = flip_bits(&p, 3, 42).unwrap();
        let data = std::fs::read(&p).unwrap();
        let mut expect = vec![0u8; 100];
        for f in &flips {
            expect[f.offset as usize] ^= 1 << f.bit;
        }
        assert_eq!(data, expect);
        std::fs::write(&p, vec![0u8; 100]).unwrap();
        assert_eq!(flip_bits(&p, 3, 42).unwrap(), flips);
    }

    #[test]
    fn flips_land_in_the_written_part_not_in_preallocated_zeros() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("wal");
        let mut data = vec![0xffu8; 10];
        data.resize(100_000, 0);
        for seed in 0..20 {
            std::fs::write(&p, &data).unwrap();
            for f in flip_bits(&p, 2, seed).unwrap() {
                assert!(f.offset < 10, "seed {seed}: flip at {}", f.offset);
            }
        }
    }

    #[test]
    fn truncate_reports_sizes() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("snap");
        std::fs::write(&p, b"0123456789").unwrap();
        let r = truncate_at(&p, 4).unwrap();
        assert_eq!((r.from, r.to), (10, 4));
        assert_eq!(std::fs::read(&p).unwrap(), b"0123");
    }
}

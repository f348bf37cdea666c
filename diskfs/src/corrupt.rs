//! File corruption for a node that is down: flip seeded random bits in a
//! file, or truncate it, drawn in its written part or only in the last
//! bytes of it. These work on the backing directory directly (no
//! mount needed) and say exactly what they did.

use std::fs::OpenOptions;
use std::ops::Range;
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

/// The length of the written part of `data`: up to its last non-zero byte,
/// since the zeros a file was grown or preallocated with hold no data (a
/// file of zeros only counts whole).
pub fn written_len(data: &[u8]) -> u64 {
    match data.iter().rposition(|&b| b != 0) {
        Some(last) => last as u64 + 1,
        None => data.len() as u64,
    }
}

/// Where damage is drawn in a file whose written part is `written` bytes
/// long: its last `last` bytes (at least one), or all of it when `last` is
/// `None` or longer.
pub fn damage_window(written: u64, last: Option<u64>) -> Range<u64> {
    let from = last.map_or(0, |n| written.saturating_sub(n.max(1)));
    from..written
}

/// Flips `count` bits at offsets drawn uniformly (from `seed`, with no OS
/// randomness) in the written part of the file at `path` (see
/// [`written_len`]), or only in its last `last` bytes (see
/// [`damage_window`]). The same seed and contents always flip the same
/// bits. An empty file is left alone (no flips returned).
pub fn flip_bits(
    path: &Path,
    count: usize,
    last: Option<u64>,
    seed: u64,
) -> Result<Vec<BitFlip>, Error> {
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
    let window = damage_window(written_len(&data), last);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut flips = Vec::with_capacity(count);
    for _ in 0..count {
        let offset = rng.gen_range(window.clone());
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

/// Truncates the file at `path` at an offset drawn uniformly (from `seed`)
/// in its written part (see [`written_len`]), or only in its last `last`
/// bytes (see [`damage_window`]): at least one written byte is always cut
/// off, and a cut never lands in the zeros a file was preallocated with
/// (which would change nothing a reader sees). An empty file is left as it
/// is (`to == from`).
pub fn truncate_within(path: &Path, last: Option<u64>, seed: u64) -> Result<Truncation, Error> {
    let data = std::fs::read(path).map_err(|source| Error::Io {
        what: "truncating",
        path: path.to_path_buf(),
        source,
    })?;
    if data.is_empty() {
        return truncate_at(path, 0);
    }
    let window = damage_window(written_len(&data), last);
    let offset = ChaCha8Rng::seed_from_u64(seed).gen_range(window);
    truncate_at(path, offset)
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
        let flips = flip_bits(&p, 3, None, 42).unwrap();
        let data = std::fs::read(&p).unwrap();
        let mut expect = vec![0u8; 100];
        for f in &flips {
            expect[f.offset as usize] ^= 1 << f.bit;
        }
        assert_eq!(data, expect);
        std::fs::write(&p, vec![0u8; 100]).unwrap();
        assert_eq!(flip_bits(&p, 3, None, 42).unwrap(), flips);
    }

    #[test]
    fn flips_land_in_the_written_part_not_in_preallocated_zeros() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("wal");
        let mut data = vec![0xffu8; 10];
        data.resize(100_000, 0);
        for seed in 0..20 {
            std::fs::write(&p, &data).unwrap();
            for f in flip_bits(&p, 2, None, seed).unwrap() {
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

    #[test]
    fn last_keeps_flips_in_the_last_bytes_of_the_written_part() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("wal");
        let mut data = vec![0xffu8; 1000];
        data.resize(100_000, 0);
        for seed in 0..50 {
            std::fs::write(&p, &data).unwrap();
            for f in flip_bits(&p, 4, Some(16), seed).unwrap() {
                assert!(
                    (984..1000).contains(&f.offset),
                    "seed {seed}: flip at {}",
                    f.offset
                );
            }
        }
        // A window longer than the written part is the written part.
        std::fs::write(&p, &data).unwrap();
        for f in flip_bits(&p, 8, Some(1 << 20), 3).unwrap() {
            assert!(f.offset < 1000, "flip at {}", f.offset);
        }
    }

    #[test]
    fn truncation_cuts_written_bytes_never_the_zeros_after_them() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("wal");
        let mut data = vec![0xffu8; 1000];
        data.resize(100_000, 0);
        let mut cuts = Vec::new();
        for seed in 0..50 {
            std::fs::write(&p, &data).unwrap();
            let r = truncate_within(&p, None, seed).unwrap();
            assert_eq!(r.from, 100_000);
            assert!(r.to < 1000, "seed {seed}: cut at {}", r.to);
            assert_eq!(std::fs::metadata(&p).unwrap().len(), r.to);
            cuts.push(r.to);
        }
        assert!(cuts.iter().any(|&c| c < 500), "{cuts:?}");
        for seed in 0..50 {
            std::fs::write(&p, &data).unwrap();
            let r = truncate_within(&p, Some(100), seed).unwrap();
            assert!((900..1000).contains(&r.to), "seed {seed}: cut at {}", r.to);
        }
        std::fs::write(&p, &data).unwrap();
        let a = truncate_within(&p, Some(100), 7).unwrap();
        std::fs::write(&p, &data).unwrap();
        assert_eq!(truncate_within(&p, Some(100), 7).unwrap(), a, "seeded");
        std::fs::write(&p, b"").unwrap();
        let r = truncate_within(&p, Some(100), 7).unwrap();
        assert_eq!((r.from, r.to), (0, 0));
    }

    #[test]
    fn the_window_is_the_written_tail() {
        assert_eq!(written_len(&[1, 0, 2, 0, 0]), 3);
        assert_eq!(written_len(&[0, 0]), 2);
        assert_eq!(damage_window(100, None), 0..100);
        assert_eq!(damage_window(100, Some(10)), 90..100);
        assert_eq!(damage_window(100, Some(0)), 99..100);
        assert_eq!(damage_window(5, Some(10)), 0..5);
    }
}

//! Per-file durability bookkeeping, independent of FUSE.
//!
//! A [`FileDurability`] remembers, for one file that has been modified since
//! its last sync, the size that is durable and the original bytes of every
//! range below that size that was overwritten (the undo log). Writes go
//! straight to the real file; only the bytes needed to go back are kept.
//! [`FileDurability::power_loss`] puts a file back into its durable state,
//! optionally keeping some un-synced writes (survival) or a prefix of the
//! last one (a torn write).

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use rand::Rng;
use serde::Serialize;

/// Where a file's bytes live: the real backing file, or a `Vec<u8>` in tests.
pub trait Storage {
    /// Current length in bytes.
    fn size(&self) -> io::Result<u64>;
    /// Reads `len` bytes at `offset`; bytes past the end read as zeros.
    fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>>;
    /// Writes `data` at `offset`, extending the file when needed.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Truncates or extends (with zeros) to `len` bytes.
    fn set_size(&mut self, len: u64) -> io::Result<()>;
}

impl Storage for Vec<u8> {
    fn size(&self) -> io::Result<u64> {
        Ok(self.len() as u64)
    }
    fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut out = vec![0; len];
        let start = (offset as usize).min(self.len());
        let end = (offset as usize + len).min(self.len());
        out[..end - start].copy_from_slice(&self[start..end]);
        Ok(out)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let end = offset as usize + data.len();
        if self.len() < end {
            self.resize(end, 0);
        }
        self[offset as usize..end].copy_from_slice(data);
        Ok(())
    }
    fn set_size(&mut self, len: u64) -> io::Result<()> {
        self.resize(len as usize, 0);
        Ok(())
    }
}

impl Storage for &File {
    fn size(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
    fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut out = vec![0; len];
        let mut done = 0;
        while done < len {
            let n = FileExt::read_at(*self, &mut out[done..], offset + done as u64)?;
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(out)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.write_all_at(data, offset)
    }
    fn set_size(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }
}

/// A half-open byte range `[start, end)` in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// The write that was torn at a power loss: only `kept` bytes of it survived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TornWrite {
    /// Where the write started.
    pub offset: u64,
    /// How long the write was.
    pub len: u64,
    /// How many of its first bytes were kept (always less than `len`).
    pub kept: u64,
}

/// What a power loss did to one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct FileLoss {
    /// The file's path (in the backing directory) when it was last modified.
    pub path: std::path::PathBuf,
    /// Size just before the power loss.
    pub size_before: u64,
    /// Size made durable by the last sync.
    pub durable_size: u64,
    /// Size after the power loss.
    pub size_after: u64,
    /// Un-synced writes tracked (contiguous appends before the last write
    /// count as one).
    pub unsynced_writes: usize,
    /// Ranges given back their durable bytes from the undo log.
    pub restored: Vec<ByteRange>,
    /// Ranges past the durable size zeroed because the write that put them
    /// there was lost while a later surviving write kept the file longer.
    pub zeroed: Vec<ByteRange>,
    /// Un-synced bytes that survived (survival probability or torn write).
    pub kept: Vec<ByteRange>,
    /// The torn last write, when tearing was asked for.
    pub torn: Option<TornWrite>,
}

/// How un-synced data behaves at a power loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LossModel {
    /// Keep a random prefix (possibly empty, never whole) of each file's
    /// last un-synced write.
    pub tear: bool,
    /// Probability that each un-synced write survives (0.0: all lost).
    pub survival: f64,
    /// The unit a torn write is cut at, in bytes of the file: 512 keeps
    /// whole sectors, as disks that write a sector atomically do (a write
    /// inside one sector is then kept whole or lost); 0 or 1 cuts at any
    /// byte.
    pub sector: u64,
}

/// Where a torn write `(off, len)` may end, relative to `off`: 0 and every
/// multiple of `sector` (in file offsets) strictly inside the write.
fn tear_points(off: u64, len: u64, sector: u64) -> Vec<u64> {
    let unit = sector.max(1);
    let first = off.div_ceil(unit) * unit;
    std::iter::once(0)
        .chain(
            (first..off + len)
                .step_by(unit as usize)
                .filter(|&b| b > off)
                .map(|b| b - off),
        )
        .collect()
}

/// Durability state of one file modified since its last sync.
#[derive(Debug, Clone, Default)]
pub struct FileDurability {
    durable_size: u64,
    /// Original bytes of overwritten ranges below `durable_size`; disjoint.
    undo: BTreeMap<u64, Vec<u8>>,
    /// Un-synced writes `(offset, len)` in the order they happened.
    writes: Vec<(u64, u64)>,
}

impl FileDurability {
    /// Starts tracking a file whose first `durable_size` bytes are durable
    /// (its size before the first un-synced change).
    pub fn new(durable_size: u64) -> Self {
        FileDurability {
            durable_size,
            ..Default::default()
        }
    }

    /// The size a power loss goes back to.
    pub fn durable_size(&self) -> u64 {
        self.durable_size
    }

    /// Bytes held by the undo log.
    pub fn undo_bytes(&self) -> usize {
        self.undo.values().map(Vec::len).sum()
    }

    /// Must be called before writing `len` bytes at `offset` to `storage`:
    /// saves the original bytes the write overwrites below the durable size
    /// and records the write.
    pub fn before_write<S: Storage>(
        &mut self,
        storage: &S,
        offset: u64,
        len: u64,
    ) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        self.save_original(storage, offset, offset + len)?;
        let n = self.writes.len();
        if n >= 2 && self.writes[n - 2].0 + self.writes[n - 2].1 == self.writes[n - 1].0 {
            let last = self.writes.pop().unwrap_or_default();
            self.writes[n - 2].1 += last.1;
        }
        self.writes.push((offset, len));
        Ok(())
    }

    /// Must be called before truncating `storage` to `new_size`: saves the
    /// durable bytes the truncation cuts off.
    pub fn before_truncate<S: Storage>(&mut self, storage: &S, new_size: u64) -> io::Result<()> {
        let current = storage.size()?;
        self.save_original(storage, new_size, current.min(self.durable_size))
    }

    fn save_original<S: Storage>(&mut self, storage: &S, start: u64, end: u64) -> io::Result<()> {
        let end = end.min(self.durable_size);
        if start >= end {
            return Ok(());
        }
        let mut gaps = Vec::new();
        let mut cur = start;
        if let Some((&s, v)) = self.undo.range(..=start).next_back() {
            cur = cur.max(s + v.len() as u64);
        }
        for (&s, v) in self.undo.range(start..end) {
            if s > cur {
                gaps.push((cur, s));
            }
            cur = cur.max(s + v.len() as u64);
        }
        if cur < end {
            gaps.push((cur, end));
        }
        for (a, b) in gaps {
            let data = storage.read_at(a, (b - a) as usize)?;
            self.undo.insert(a, data);
        }
        Ok(())
    }

    /// Returns `storage` to its durable state, keeping un-synced writes
    /// as `model` says, drawing from `rng`. `size_before` etc. are filled
    /// in; `path` is left for the caller.
    pub fn power_loss<S: Storage, R: Rng>(
        &self,
        storage: &mut S,
        model: LossModel,
        rng: &mut R,
    ) -> io::Result<FileLoss> {
        let size_before = storage.size()?;
        // Who wrote each byte last, and whether that write survives.
        let mut painted: BTreeMap<u64, (u64, bool)> = BTreeMap::new();
        let mut torn = None;
        let last = self.writes.len().wrapping_sub(1);
        for (i, &(off, len)) in self.writes.iter().enumerate() {
            if i == last && model.tear {
                let points = tear_points(off, len, model.sector);
                let kept = points[rng.gen_range(0..points.len())];
                torn = Some(TornWrite {
                    offset: off,
                    len,
                    kept,
                });
                paint(&mut painted, off, off + kept, true);
                paint(&mut painted, off + kept, off + len, false);
            } else {
                let survives = model.survival > 0.0 && rng.gen_bool(model.survival.min(1.0));
                paint(&mut painted, off, off + len, survives);
            }
        }
        let kept: Vec<ByteRange> = merge(
            painted
                .iter()
                .filter(|(_, &(_, keep))| keep)
                .map(|(&s, &(e, _))| (s, e.min(size_before)))
                .filter(|(s, e)| s < e),
        );
        let size_after = kept
            .iter()
            .map(|r| r.end)
            .max()
            .unwrap_or(0)
            .max(self.durable_size);
        storage.set_size(size_after)?;
        let mut restored = Vec::new();
        for (&s, orig) in &self.undo {
            for (a, b) in subtract(s, s + orig.len() as u64, &kept) {
                storage.write_at(a, &orig[(a - s) as usize..(b - s) as usize])?;
                restored.push((a, b));
            }
        }
        let mut zeroed = Vec::new();
        if size_after > self.durable_size {
            for (a, b) in subtract(self.durable_size, size_after, &kept) {
                storage.write_at(a, &vec![0; (b - a) as usize])?;
                zeroed.push((a, b));
            }
        }
        Ok(FileLoss {
            path: Default::default(),
            size_before,
            durable_size: self.durable_size,
            size_after,
            unsynced_writes: self.writes.len(),
            restored: merge(restored.into_iter()),
            zeroed: merge(zeroed.into_iter()),
            kept,
            torn,
        })
    }
}

/// Marks `[a, b)` in an interval map as written by a write that `keep`s or not.
fn paint(map: &mut BTreeMap<u64, (u64, bool)>, a: u64, b: u64, keep: bool) {
    if a >= b {
        return;
    }
    // Split an interval that starts before `a` and reaches into it.
    if let Some((&s, &(e, k))) = map.range(..a).next_back() {
        if e > a {
            map.insert(s, (a, k));
            map.insert(a, (e, k));
        }
    }
    let inside: Vec<u64> = map.range(a..b).map(|(&s, _)| s).collect();
    for s in inside {
        let (e, k) = map.remove(&s).unwrap_or((s, false));
        if e > b {
            map.insert(b, (e, k));
        }
    }
    map.insert(a, (b, keep));
}

/// `[a, b)` minus the sorted disjoint `holes`.
fn subtract(a: u64, b: u64, holes: &[ByteRange]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut cur = a;
    for h in holes {
        if h.end <= cur || h.start >= b {
            continue;
        }
        if h.start > cur {
            out.push((cur, h.start));
        }
        cur = cur.max(h.end);
    }
    if cur < b {
        out.push((cur, b));
    }
    out
}

/// Sorted `(start, end)` pairs merged into disjoint ranges.
fn merge(ranges: impl Iterator<Item = (u64, u64)>) -> Vec<ByteRange> {
    let mut v: Vec<(u64, u64)> = ranges.collect();
    v.sort_unstable();
    let mut out: Vec<ByteRange> = Vec::new();
    for (s, e) in v {
        match out.last_mut() {
            Some(last) if s <= last.end => last.end = last.end.max(e),
            _ => out.push(ByteRange { start: s, end: e }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const LOSE_ALL: LossModel = LossModel {
        tear: false,
        survival: 0.0,
        sector: 1,
    };

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(7)
    }

    fn write(d: &mut FileDurability, f: &mut Vec<u8>, off: u64, data: &[u8]) {
        d.before_write(f, off, data.len() as u64).unwrap();
        f.write_at(off, data).unwrap();
    }

    fn truncate(d: &mut FileDurability, f: &mut Vec<u8>, len: u64) {
        d.before_truncate(f, len).unwrap();
        f.set_size(len).unwrap();
    }

    #[test]
    fn append_is_lost_and_needs_no_undo() {
        let mut f = b"rec1".to_vec();
        let mut d = FileDurability::new(4);
        write(&mut d, &mut f, 4, b"rec2");
        assert_eq!(d.undo_bytes(), 0);
        let r = d.power_loss(&mut f, LOSE_ALL, &mut rng()).unwrap();
        assert_eq!(f, b"rec1");
        assert_eq!((r.size_before, r.size_after), (8, 4));
        assert!(r.restored.is_empty());
    }

    #[test]
    fn overwrite_inside_durable_region_is_undone() {
        let mut f = b"hello world".to_vec();
        let mut d = FileDurability::new(11);
        write(&mut d, &mut f, 6, b"WORLD!!");
        write(&mut d, &mut f, 4, b"OO");
        assert_eq!(f, b"hellOOWORLD!!");
        assert_eq!(d.undo_bytes(), 7);
        let r = d.power_loss(&mut f, LOSE_ALL, &mut rng()).unwrap();
        assert_eq!(f, b"hello world");
        assert_eq!(r.restored, vec![ByteRange { start: 4, end: 11 }]);
    }

    #[test]
    fn truncate_below_durable_size_is_undone() {
        let mut f = b"0123456789".to_vec();
        let mut d = FileDurability::new(10);
        truncate(&mut d, &mut f, 3);
        write(&mut d, &mut f, 3, b"abcdefghijklmn");
        d.power_loss(&mut f, LOSE_ALL, &mut rng()).unwrap();
        assert_eq!(f, b"0123456789");
    }

    #[test]
    fn survival_one_keeps_everything() {
        let mut f = b"aaaa".to_vec();
        let mut d = FileDurability::new(4);
        write(&mut d, &mut f, 2, b"bbbb");
        let model = LossModel {
            tear: false,
            survival: 1.0,
            sector: 1,
        };
        let r = d.power_loss(&mut f, model, &mut rng()).unwrap();
        assert_eq!(f, b"aabbbb");
        assert_eq!(r.kept, vec![ByteRange { start: 2, end: 6 }]);
    }

    #[test]
    fn lost_write_below_a_surviving_one_is_zeroed() {
        let mut f = Vec::new();
        let mut d = FileDurability::new(0);
        write(&mut d, &mut f, 0, b"xxxx");
        write(&mut d, &mut f, 8, b"yy");
        // Find a seed where the first write is lost and the second survives.
        let model = LossModel {
            tear: false,
            survival: 0.5,
            sector: 1,
        };
        for seed in 0..64 {
            let mut g = f.clone();
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            let rep = d.power_loss(&mut g, model, &mut r).unwrap();
            if rep.kept == vec![ByteRange { start: 8, end: 10 }] {
                assert_eq!(g, b"\0\0\0\0\0\0\0\0yy");
                assert_eq!(rep.zeroed, vec![ByteRange { start: 0, end: 8 }]);
                return;
            }
        }
        panic!("no seed gave lost+survived");
    }

    #[test]
    fn tear_keeps_a_strict_prefix_of_the_last_write() {
        let mut f = b"rec1".to_vec();
        let mut d = FileDurability::new(4);
        write(&mut d, &mut f, 4, b"record-two");
        let model = LossModel {
            tear: true,
            survival: 0.0,
            sector: 1,
        };
        let r = d.power_loss(&mut f, model, &mut rng()).unwrap();
        let torn = r.torn.unwrap();
        assert!(torn.kept < 10);
        assert_eq!(f.len() as u64, 4 + torn.kept);
        assert_eq!(&f[4..], &b"record-two"[..torn.kept as usize]);
        // Same seed, same tear.
        let mut g = b"rec1record-two".to_vec();
        let again = d.power_loss(&mut g, model, &mut rng()).unwrap();
        assert_eq!(again.torn, r.torn);
    }

    #[test]
    fn a_torn_write_keeps_whole_sectors_and_one_inside_a_sector_is_kept_whole_or_lost() {
        assert_eq!(tear_points(500, 1100, 512), vec![0, 12, 524, 1036]);
        assert_eq!(tear_points(1024, 600, 512), vec![0, 512]);
        assert_eq!(tear_points(10, 17, 512), vec![0]);
        assert_eq!(tear_points(10, 4, 0), vec![0, 1, 2, 3]);
        let mut f = vec![0u8; 600];
        let mut d = FileDurability::new(600);
        write(&mut d, &mut f, 500, &[7u8; 100]);
        let model = LossModel {
            tear: true,
            survival: 0.0,
            sector: 512,
        };
        for seed in 0..20 {
            let mut g = f.clone();
            let r = d
                .power_loss(&mut g, model, &mut ChaCha8Rng::seed_from_u64(seed))
                .unwrap();
            let kept = r.torn.unwrap().kept;
            assert!(kept == 0 || kept == 12, "kept {kept}");
            assert!(g[500..500 + kept as usize].iter().all(|&b| b == 7));
            assert!(g[500 + kept as usize..].iter().all(|&b| b == 0));
        }
    }

    /// One step of the property test's workload.
    #[derive(Debug, Clone)]
    enum Op {
        Write(u64, Vec<u8>),
        Truncate(u64),
        Sync,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u64..64, proptest::collection::vec(any::<u8>(), 1..24)).prop_map(|(o, d)| Op::Write(o, d)),
            1 => (0u64..80).prop_map(Op::Truncate),
            1 => Just(Op::Sync),
        ]
    }

    proptest! {
        /// After a power loss, the file is exactly its content at the last sync.
        #[test]
        fn power_loss_returns_the_content_at_the_last_sync(
            initial in proptest::collection::vec(any::<u8>(), 0..48),
            ops in proptest::collection::vec(op(), 0..40),
        ) {
            let mut file = initial.clone();
            let mut model = initial;
            let mut d: Option<FileDurability> = None;
            for op in ops {
                match op {
                    Op::Write(o, data) => {
                        let t = d.get_or_insert_with(|| FileDurability::new(file.len() as u64));
                        write(t, &mut file, o, &data);
                    }
                    Op::Truncate(n) => {
                        let t = d.get_or_insert_with(|| FileDurability::new(file.len() as u64));
                        truncate(t, &mut file, n);
                    }
                    Op::Sync => {
                        model = file.clone();
                        d = None;
                    }
                }
            }
            if let Some(t) = d {
                t.power_loss(&mut file, LOSE_ALL, &mut rng()).unwrap();
            }
            prop_assert_eq!(file, model);
        }

        /// Whatever the tear and survival draws, every byte after a power
        /// loss is its durable value, its un-synced value, or (past the
        /// durable size) zero, and the size lies between the two sizes.
        #[test]
        fn partial_survival_mixes_only_durable_and_current_bytes(
            initial in proptest::collection::vec(any::<u8>(), 0..48),
            ops in proptest::collection::vec(op(), 0..40),
            seed in any::<u64>(),
            tear in any::<bool>(),
            survival in 0.0f64..1.0,
        ) {
            let mut file = initial.clone();
            let mut durable = initial;
            let mut d = FileDurability::new(file.len() as u64);
            for op in ops {
                match op {
                    Op::Write(o, data) => write(&mut d, &mut file, o, &data),
                    Op::Truncate(n) => truncate(&mut d, &mut file, n),
                    Op::Sync => {
                        durable = file.clone();
                        d = FileDurability::new(file.len() as u64);
                    }
                }
            }
            let current = file.clone();
            let model = LossModel { tear, survival, sector: 1 };
            d.power_loss(&mut file, model, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
            prop_assert!(file.len() >= durable.len());
            prop_assert!(file.len() <= durable.len().max(current.len()));
            for (i, &b) in file.iter().enumerate() {
                let ok = durable.get(i) == Some(&b)
                    || current.get(i) == Some(&b)
                    || (i >= durable.len() && b == 0);
                prop_assert!(ok, "byte {} = {} (durable {:?}, current {:?})", i, b, durable.get(i), current.get(i));
            }
        }

        /// With survival 1 nothing un-synced is lost (the file is unchanged
        /// by the power loss) when no truncation happened.
        #[test]
        fn survival_one_changes_nothing(
            initial in proptest::collection::vec(any::<u8>(), 0..48),
            writes in proptest::collection::vec((0u64..64, proptest::collection::vec(any::<u8>(), 1..24)), 0..20),
        ) {
            let mut file = initial.clone();
            let mut d = FileDurability::new(file.len() as u64);
            for (o, data) in writes {
                write(&mut d, &mut file, o, &data);
            }
            let before = file.clone();
            d.power_loss(&mut file, LossModel { tear: false, survival: 1.0, sector: 1 }, &mut rng()).unwrap();
            prop_assert_eq!(file, before);
        }
    }
}

//! The write-ahead log: segment files `wal/<first record's sequence>.log`.
//!
//! A segment is a run of framed records (see `record.rs`) and always starts
//! with a header record holding the hard state (and snapshot) at the moment it
//! was started, so that older segments can be deleted without losing anything.
//! Sequence numbers count records across segments: a segment's name is the
//! sequence of its first record, so a missing segment in the middle shows.
//!
//! Recovery reads every segment in order. Damage in the last segment with no
//! intact record after it looks like a write torn by a crash: it is cut off
//! (with a warning), and the storage then checks against the
//! acknowledgement record (`acked.rs`) whether it held entries the node had
//! acknowledged. Damage anywhere else ends the log before it: the damaged
//! segment is kept aside whole and the storage reports it, so that the node
//! recovers the lost entries from its peers before it votes again.
//!
//! The active segment grows ahead of its records in steps of [`GROW`] bytes
//! of zeros (written, not just reserved), so that an append overwrites
//! blocks the file already has: its fdatasync then flushes the data alone,
//! without a journal commit for a new file size (about a third less CPU
//! and latency per sync on ext4 in a VM). The zeros past the last record are
//! cut off when the segment is closed, on drop, and by recovery after a crash
//! (a zero-filled tail was never written).

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::acked::{self, Acked, Found, SLOTS};
use super::dir::{damaged_name, sync_dir};
use super::record::{decode, frame_at, Frame, Record, HEADER_LEN};
use super::replay::Replay;
use super::StorageError;
use crate::raft::Index;

/// How far ahead of its records the active segment is filled with zeros.
pub(crate) const GROW: u64 = 512 << 10;

/// A block of zeros to grow segments with.
static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

/// What the log knows about one segment file.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    /// The sequence number of its first record (its name).
    pub(crate) seq: u64,
    /// Its file: [`segment_name`] of `seq` in the WAL directory.
    pub(crate) path: PathBuf,
    /// How many records it holds.
    pub(crate) records: u64,
    /// Its length in bytes.
    pub(crate) bytes: u64,
    /// The highest log index its records mention (entries and snapshot markers).
    pub(crate) max_index: Index,
    /// Whether it holds a snapshot marker (which makes every older segment obsolete).
    pub(crate) has_marker: bool,
    /// Where its first record starts: after the acknowledgement slots
    /// ([`SLOTS`]), or 0 in a segment written before they existed.
    pub(crate) base: u64,
}

/// A segment's file name.
pub(crate) fn segment_name(seq: u64) -> String {
    format!("{seq:020}.log")
}

fn parse_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".log")?;
    if stem.len() != 20 {
        return None;
    }
    stem.parse().ok()
}

fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StorageError> {
    let mut found = Vec::new();
    let read = fs::read_dir(dir).map_err(|e| StorageError::io("list", dir, e))?;
    for item in read {
        let item = item.map_err(|e| StorageError::io("list", dir, e))?;
        if let Some(seq) = item.file_name().to_str().and_then(parse_name) {
            found.push((seq, item.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// A write torn by a crash at the end of the WAL, cut off by recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cut {
    /// The segment it was cut from.
    pub(crate) file: PathBuf,
    /// Where the torn record started (the segment's new length).
    pub(crate) offset: u64,
    /// How many bytes were cut.
    pub(crate) bytes: u64,
}

/// Damage recovery found before the end of the WAL (an intact record
/// follows it): the log ends before it, and the damaged bytes were set aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Damaged {
    /// The damaged segment.
    pub(crate) file: PathBuf,
    /// Where the damaged record starts.
    pub(crate) offset: u64,
    /// What is wrong with it.
    pub(crate) reason: String,
    /// Where the damaged segment and every later one were moved or copied
    /// (`<name>.damaged`), whole, for an operator.
    pub(crate) kept: Vec<PathBuf>,
}

/// What recovery found in the WAL.
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    /// The segments in use, oldest first.
    pub(crate) segments: Vec<Segment>,
    /// A torn tail it cut (zeros a segment was grown with are not counted).
    pub(crate) cut: Option<Cut>,
    /// Damage with intact records after it.
    pub(crate) damaged: Option<Damaged>,
    /// The acknowledgement record of the newest segment that has one.
    pub(crate) acked: Option<Found>,
}

/// The acknowledgement record in the newest of `files` that has slots:
/// its newer intact slot, or damage when neither is intact; `Missing` when
/// no segment has slots (a new directory, or one from before them). A
/// segment whose creation was torn (slots damaged, no intact record after
/// them) is passed over for the one before it.
fn newest_acked(files: &[(u64, PathBuf)]) -> Result<Found, StorageError> {
    for (_, path) in files.iter().rev() {
        let mut head = vec![0u8; SLOTS + 4096];
        let n = File::open(path)
            .and_then(|f| f.read_at(&mut head, 0))
            .map_err(|e| StorageError::io("read", path, e))?;
        head.truncate(n);
        if !acked::has_slots(&head) {
            continue;
        }
        match acked::found(&head) {
            Some(found) => return Ok(found),
            None if head.len() <= SLOTS
                || !matches!(frame_at(&head, SLOTS), Frame::Record { .. }) =>
            {
                continue
            }
            None => {
                return Ok(Found::Damaged(format!(
                    "both acknowledgement slots of {} are damaged",
                    path.display()
                )))
            }
        }
    }
    Ok(Found::Missing)
}

/// Replays every segment of `dir` into `replay`, cutting a torn tail off
/// the last one. Damage anywhere else ends the log before the damaged
/// record: the damaged segment is copied aside and cut there, later
/// segments are moved aside (nothing is deleted), and the damage is
/// reported for protocol-aware recovery to repair from the peers.
pub(crate) fn recover(
    dir: &Path,
    replay: &mut Replay,
    fsync: bool,
) -> Result<Recovered, StorageError> {
    let files = list(dir)?;
    let mut found = Recovered {
        acked: Some(newest_acked(&files)?),
        ..Recovered::default()
    };
    let count = files.len();
    for (i, (seq, path)) in files.iter().cloned().enumerate() {
        let damage = match found.segments.last() {
            Some(prev) if seq != prev.seq + prev.records => Some((
                0,
                format!(
                    "the segment starts at record {seq} but {} ends at record {}: \
                     a segment is missing",
                    prev.path.display(),
                    prev.seq + prev.records - 1
                ),
            )),
            _ => None,
        };
        let damage = match damage {
            Some(d) => Some(d),
            None => {
                let scanned = scan(seq, path.clone(), replay, i + 1 == count, fsync)?;
                found.cut = scanned.cut;
                if scanned.damage.is_none() || scanned.segment.records > 0 {
                    found.segments.push(scanned.segment);
                }
                scanned.damage
            }
        };
        if let Some((offset, reason)) = damage {
            let later: Vec<PathBuf> = files[i + 1..].iter().map(|f| f.1.clone()).collect();
            let whole = match found.segments.iter().find(|s| s.path == path) {
                Some(s) => offset as u64 <= s.base,
                None => true,
            };
            let kept = set_aside(&path, offset, whole, &later, fsync)?;
            if whole {
                found.segments.retain(|s| s.path != path);
            }
            tracing::error!(
                file = %path.display(),
                offset,
                reason = %reason,
                kept = ?kept,
                "damaged WAL record with intact records after it: the log ends before it"
            );
            found.damaged = Some(Damaged {
                file: path,
                offset: offset as u64,
                reason,
                kept,
            });
            break;
        }
    }
    Ok(found)
}

/// Moves every segment in `segments` aside (`<name>.damaged`), when the
/// snapshot they build on is gone. Returns how many moved.
pub(crate) fn set_aside_all(
    dir: &Path,
    segments: &[Segment],
    fsync: bool,
) -> Result<usize, StorageError> {
    for seg in segments {
        fs::rename(&seg.path, damaged_name(&seg.path))
            .map_err(|e| StorageError::io("rename", &seg.path, e))?;
    }
    sync_dir(dir, fsync)?;
    Ok(segments.len())
}

/// Keeps the damaged segment `path` (copied to `<name>.damaged`) and cuts it
/// at `offset` (moves it aside `whole` when no record precedes the damage);
/// moves every `later` segment aside too.
fn set_aside(
    path: &Path,
    offset: usize,
    whole: bool,
    later: &[PathBuf],
    fsync: bool,
) -> Result<Vec<PathBuf>, StorageError> {
    let mut kept = vec![damaged_name(path)];
    if whole {
        fs::rename(path, &kept[0]).map_err(|e| StorageError::io("rename", path, e))?;
    } else {
        fs::copy(path, &kept[0]).map_err(|e| StorageError::io("copy", path, e))?;
        if fsync {
            File::open(&kept[0])
                .and_then(|f| f.sync_all())
                .map_err(|e| StorageError::io("fsync", &kept[0], e))?;
        }
        cut_at(path, offset, fsync)?;
    }
    for p in later {
        let to = damaged_name(p);
        fs::rename(p, &to).map_err(|e| StorageError::io("rename", p, e))?;
        kept.push(to);
    }
    if let Some(dir) = path.parent() {
        sync_dir(dir, fsync)?;
    }
    Ok(kept)
}

/// One segment as replayed.
struct Scanned {
    segment: Segment,
    /// The damage that ends it early: offset and reason.
    damage: Option<(usize, String)>,
    /// The torn tail cut off it (the last segment only).
    cut: Option<Cut>,
}

/// Replays one segment.
fn scan(
    seq: u64,
    path: PathBuf,
    replay: &mut Replay,
    last: bool,
    fsync: bool,
) -> Result<Scanned, StorageError> {
    let data = fs::read(&path).map_err(|e| StorageError::io("read", &path, e))?;
    let base = records_start(&data);
    let mut seg = Segment {
        seq,
        path,
        records: 0,
        bytes: 0,
        max_index: 0,
        has_marker: false,
        base: base as u64,
    };
    let mut damage = None;
    let mut cut = None;
    let mut offset = base;
    while offset < data.len() {
        let frame = frame_at(&data, offset);
        let Frame::Record { body, next } = frame else {
            if last && is_torn(&data, offset) {
                let zeros = data[offset..].iter().all(|&b| b == 0);
                let dropped = data.len() - offset;
                truncate(&seg.path, offset, dropped, zeros, fsync)?;
                let written = data[offset..]
                    .iter()
                    .rposition(|&b| b != 0)
                    .map_or(0, |p| p + 1);
                if !zeros {
                    cut = Some(Cut {
                        file: seg.path.clone(),
                        offset: offset as u64,
                        bytes: written as u64,
                    });
                }
                break;
            }
            damage = Some((offset, damage_of(&frame, data.len())));
            break;
        };
        let record = match decode(body) {
            Ok(r) => r,
            Err(e) => {
                damage = Some((offset, format!("undecodable body: {e}")));
                break;
            }
        };
        let is_header = matches!(record, Record::Header { .. });
        if is_header != (offset == base) {
            let reason = if is_header {
                "a segment header in the middle of a segment"
            } else {
                "the segment does not start with a header"
            };
            damage = Some((offset, reason.to_string()));
            break;
        }
        let max_index = match &record {
            Record::Entries(batch) => batch.last().map_or(0, |e| e.index),
            Record::Snapshot(meta) => meta.index,
            Record::Header { .. } | Record::HardState(_) => 0,
        };
        let marker = matches!(record, Record::Snapshot(_));
        if let Err(reason) = replay.apply(record) {
            damage = Some((offset, reason));
            break;
        }
        seg.max_index = seg.max_index.max(max_index);
        seg.has_marker |= marker;
        seg.records += 1;
        offset = next;
    }
    if damage.is_none() && seg.records == 0 && !last {
        damage = Some((base, "an empty segment before the last one".into()));
    }
    seg.bytes = offset as u64;
    Ok(Scanned {
        segment: seg,
        damage,
        cut,
    })
}

/// Where a segment's records start: after the acknowledgement slots when it
/// has them (or when its slots were never written but its header record
/// stands after them), else at 0 (a segment from before the slots).
fn records_start(data: &[u8]) -> usize {
    if acked::has_slots(data) {
        return SLOTS;
    }
    let zeros = data.len() >= SLOTS && data[..SLOTS].iter().all(|&b| b == 0);
    if zeros && matches!(frame_at(data, SLOTS), Frame::Record { .. }) {
        SLOTS
    } else {
        0
    }
}

/// Whether damage at `offset` of the last segment is a write torn by a
/// crash: no intact record follows it. A torn write leaves a prefix of its
/// bytes, or pieces of them (un-synced writes reach the disk in any order),
/// then the zeros the segment was grown with or the end of the file. It is
/// never followed by an intact record: fsyncing that record would have
/// made the torn bytes durable too. An intact record after the damage means
/// durable data was damaged, and recovery refuses to start.
fn is_torn(data: &[u8], offset: usize) -> bool {
    let last_start = data.len().saturating_sub(HEADER_LEN - 1);
    !(offset + 1..last_start)
        .filter(|&at| data[at..at + HEADER_LEN].iter().any(|&b| b != 0))
        .any(|at| matches!(frame_at(data, at), Frame::Record { .. }))
}

fn damage_of(frame: &Frame<'_>, len: usize) -> String {
    match frame {
        Frame::ShortHeader => format!("a partial record header ({len} bytes in the file)"),
        Frame::BadHeader => "record header checksum mismatch".to_string(),
        Frame::PastEnd { len: body } => {
            format!("the record's {body}-byte body runs past the end of the segment")
        }
        Frame::BadBody { .. } => "crc mismatch".to_string(),
        Frame::Record { .. } => "a valid record".to_string(),
    }
}

fn truncate(
    path: &Path,
    offset: usize,
    dropped: usize,
    zeros: bool,
    fsync: bool,
) -> Result<(), StorageError> {
    if zeros {
        tracing::info!(
            file = %path.display(),
            offset,
            dropped,
            "cutting the {dropped} zero bytes the segment was grown with past its last record"
        );
    } else {
        tracing::warn!(
            file = %path.display(),
            offset,
            dropped,
            "torn write at the end of the WAL: cutting {dropped} bytes off {} at offset {offset}",
            path.display()
        );
    }
    cut_at(path, offset, fsync)
}

/// Truncates the file at `path` to `offset` bytes, durably when `fsync`.
fn cut_at(path: &Path, offset: usize, fsync: bool) -> Result<(), StorageError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| StorageError::io("open", path, e))?;
    file.set_len(offset as u64)
        .map_err(|e| StorageError::io("truncate", path, e))?;
    if fsync {
        file.sync_data()
            .map_err(|e| StorageError::io("fdatasync", path, e))?;
    }
    Ok(())
}

/// Bytes ready to be appended: whole framed records.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batch<'a> {
    /// Whole framed records (see `record`), written as they are.
    pub(crate) bytes: &'a [u8],
    /// How many records `bytes` holds; added to the segment's count.
    pub(crate) records: u64,
    /// The highest log index they mention.
    pub(crate) max_index: Index,
    /// Whether they hold a snapshot marker.
    pub(crate) has_marker: bool,
    /// Whether they start with a segment header (to go into a new segment).
    pub(crate) new_segment: bool,
    /// Whether they must be durable before `append` returns (false: only a
    /// new commit index, which Raft can always learn again from the leader).
    pub(crate) sync: bool,
}

/// The open log: the segments on disk and the last one open for appending.
#[derive(Debug)]
pub(crate) struct Wal {
    dir: PathBuf,
    segments: Vec<Segment>,
    active: File,
    /// The length of the active file: its records, then zeros.
    allocated: u64,
    fsync: bool,
    segment_bytes: u64,
    /// fdatasyncs of appends so far.
    syncs: u64,
    /// The sequence number of the last acknowledgement record written.
    acked_seq: u64,
    /// The last acknowledgement record written (a new segment starts with it).
    last_acked: Acked,
    /// The next record also rewrites the one before it with `last_acked`
    /// (see [`Wal::reset_previous`]).
    rewrite_previous: bool,
}

impl Wal {
    /// Opens the log after recovery. `header` is a framed header record with
    /// the recovered state, written if the last segment is empty (or there is
    /// none).
    pub(crate) fn open(
        dir: &Path,
        mut segments: Vec<Segment>,
        header: &[u8],
        acked: (u64, Acked, Acked),
        fsync: bool,
        segment_bytes: u64,
    ) -> Result<Wal, StorageError> {
        let (mut acked_seq, before, now) = acked;
        let start = Batch {
            bytes: header,
            records: 1,
            max_index: 0,
            has_marker: false,
            new_segment: true,
            sync: true,
        };
        let active = match segments.last().map(|s| (s.seq, s.records)) {
            Some((_, records)) if records > 0 => {
                let path = &segments[segments.len() - 1].path;
                OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| StorageError::io("open", path, e))?
            }
            Some((seq, _)) => {
                // Recovery left the last segment empty: give it its header.
                segments.pop();
                acked_seq += 1;
                let (active, seg) =
                    create(dir, seq, start, (acked_seq, &before, &now), fsync, false)?;
                segments.push(seg);
                active
            }
            None => {
                acked_seq += 1;
                let (active, seg) = create(dir, 1, start, (acked_seq, &before, &now), fsync, true)?;
                segments.push(seg);
                active
            }
        };
        let last = segments.last().expect("the log always has a segment");
        let allocated = active
            .metadata()
            .map_err(|e| StorageError::io("stat", &last.path, e))?
            .len()
            .max(last.bytes);
        Ok(Wal {
            dir: dir.to_path_buf(),
            segments,
            active,
            allocated,
            fsync,
            segment_bytes,
            syncs: 0,
            acked_seq,
            last_acked: now,
            rewrite_previous: false,
        })
    }

    /// What was certainly durable is now `a` (the node recovered what it
    /// had lost): the next record written also rewrites the record before it
    /// with `a`, so that the older slot again tells what was durable before
    /// that record's own sync.
    pub(crate) fn reset_previous(&mut self, a: Acked) {
        self.last_acked = a;
        self.rewrite_previous = true;
    }

    /// Whether the next append must start a new segment (with a header).
    pub(crate) fn needs_rotation(&self) -> bool {
        let seg = self.active_segment();
        seg.bytes - seg.base >= self.segment_bytes
    }

    fn active_segment(&self) -> &Segment {
        self.segments.last().expect("the log always has a segment")
    }

    /// Appends `batch` with one write and one fdatasync (plus a directory
    /// fsync when it starts a new segment). `acked`, the acknowledgement
    /// record of a synced batch, goes into a slot of the same segment and is
    /// made durable by the same fdatasync.
    pub(crate) fn append(
        &mut self,
        batch: Batch<'_>,
        acked: Option<&Acked>,
    ) -> Result<(), StorageError> {
        if batch.new_segment {
            self.trim(true)?;
            let last = self.active_segment();
            let seq = last.seq + last.records;
            let before = self.last_acked;
            let now = acked.copied().unwrap_or(before);
            self.acked_seq += 1;
            let (active, seg) = create(
                &self.dir,
                seq,
                batch,
                (self.acked_seq, &before, &now),
                self.fsync,
                true,
            )?;
            self.last_acked = now;
            self.rewrite_previous = false;
            self.allocated = seg.bytes;
            self.active = active;
            self.segments.push(seg);
            return Ok(());
        }
        let seg = self
            .segments
            .last_mut()
            .expect("the log always has a segment");
        let end = seg.bytes + batch.bytes.len() as u64;
        self.active
            .write_all_at(batch.bytes, seg.bytes)
            .map_err(|e| StorageError::io("write", &seg.path, e))?;
        if end > self.allocated {
            // Zeros ahead of the records, made durable by the same fdatasync.
            let mut at = end;
            while at < end + GROW {
                self.active
                    .write_all_at(&ZEROS, at)
                    .map_err(|e| StorageError::io("write", &seg.path, e))?;
                at += ZEROS.len() as u64;
            }
            self.allocated = at;
        }
        if let Some(a) = acked {
            if self.rewrite_previous {
                let (at, bytes) = acked::slot(self.acked_seq, &self.last_acked);
                self.active
                    .write_all_at(&bytes, at)
                    .map_err(|e| StorageError::io("write", &seg.path, e))?;
                self.rewrite_previous = false;
            }
            self.acked_seq += 1;
            let (at, bytes) = acked::slot(self.acked_seq, a);
            self.active
                .write_all_at(&bytes, at)
                .map_err(|e| StorageError::io("write", &seg.path, e))?;
            self.last_acked = *a;
        }
        if self.fsync && batch.sync {
            self.active
                .sync_data()
                .map_err(|e| StorageError::io("fdatasync", &seg.path, e))?;
            self.syncs += 1;
        }
        seg.records += batch.records;
        seg.bytes += batch.bytes.len() as u64;
        seg.max_index = seg.max_index.max(batch.max_index);
        seg.has_marker |= batch.has_marker;
        Ok(())
    }

    /// Cuts the zeros past the active segment's last record (made durable
    /// when `sync`: before a newer segment exists, the active one must end
    /// at its last record).
    fn trim(&mut self, sync: bool) -> Result<(), StorageError> {
        let seg = self.active_segment();
        if self.allocated == seg.bytes {
            return Ok(());
        }
        let (path, bytes) = (seg.path.clone(), seg.bytes);
        self.active
            .set_len(bytes)
            .map_err(|e| StorageError::io("truncate", &path, e))?;
        if sync && self.fsync {
            self.active
                .sync_data()
                .map_err(|e| StorageError::io("fdatasync", &path, e))?;
        }
        self.allocated = bytes;
        Ok(())
    }

    /// Deletes the oldest segments that nothing needs any more: those whose
    /// records all stand at or before `index` (covered by the snapshot at
    /// `index`) or that precede a snapshot marker. Never the active one.
    /// Returns how many went.
    pub(crate) fn remove_covered(&mut self, index: Index) -> Result<usize, StorageError> {
        let last_marker = self.segments.iter().rposition(|s| s.has_marker);
        let removable = self.segments[..self.segments.len() - 1]
            .iter()
            .enumerate()
            .take_while(|(i, s)| s.max_index <= index || last_marker.is_some_and(|m| *i < m))
            .count();
        for seg in &self.segments[..removable] {
            fs::remove_file(&seg.path).map_err(|e| StorageError::io("remove", &seg.path, e))?;
        }
        if removable > 0 {
            self.segments.drain(..removable);
            sync_dir(&self.dir, self.fsync)?;
        }
        Ok(removable)
    }

    /// The segments on disk, oldest first.
    pub(crate) fn syncs(&self) -> u64 {
        self.syncs
    }

    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }
}

/// Creates segment `seq` holding `batch` (which starts with its header),
/// durably: the file's data, then the directory entry.
/// Creates segment `seq`: the acknowledgement slots (record `acked.0`
/// holding `acked.2`, and the one before it, `acked.1`), then `batch`, in
/// one write and one fdatasync.
fn create(
    dir: &Path,
    seq: u64,
    batch: Batch<'_>,
    acked: (u64, &Acked, &Acked),
    fsync: bool,
    new_file: bool,
) -> Result<(File, Segment), StorageError> {
    let path = dir.join(segment_name(seq));
    let mut opts = OpenOptions::new();
    opts.write(true);
    if new_file {
        opts.create_new(true);
    }
    let file = opts
        .open(&path)
        .map_err(|e| StorageError::io("create", &path, e))?;
    file.set_len(0)
        .map_err(|e| StorageError::io("truncate", &path, e))?;
    let mut bytes = vec![0u8; SLOTS];
    let (record, before, now) = acked;
    for (seq, a) in [(record.saturating_sub(1), before), (record, now)] {
        let (at, slot) = acked::slot(seq, a);
        bytes[at as usize..at as usize + slot.len()].copy_from_slice(&slot);
    }
    bytes.extend_from_slice(batch.bytes);
    file.write_all_at(&bytes, 0)
        .map_err(|e| StorageError::io("write", &path, e))?;
    if fsync {
        file.sync_data()
            .map_err(|e| StorageError::io("fdatasync", &path, e))?;
    }
    sync_dir(dir, fsync)?;
    let seg = Segment {
        seq,
        path,
        records: batch.records,
        bytes: bytes.len() as u64,
        max_index: batch.max_index,
        has_marker: batch.has_marker,
        base: SLOTS as u64,
    };
    Ok((file, seg))
}

impl Drop for Wal {
    /// A clean close leaves no zeros past the last record (best effort: a
    /// crash leaves them, and recovery cuts them).
    fn drop(&mut self) {
        if let Err(e) = self.trim(false) {
            tracing::debug!(error = %e, "could not trim the active WAL segment");
        }
    }
}

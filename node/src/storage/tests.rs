//! Storage round trips, rotation, compaction, torn tails and corruption.

use std::fs;
use std::path::{Path, PathBuf};

use super::*;

fn ents(from: Index, to: Index, term: u64) -> Vec<Entry> {
    (from..=to)
        .map(|index| Entry {
            term,
            index,
            data: format!("cmd {index}").into_bytes(),
        })
        .collect()
}

fn hs(term: u64, vote: Option<u64>, commit: Index) -> HardState {
    HardState { term, vote, commit }
}

fn snap(index: Index, term: u64) -> Snapshot {
    Snapshot {
        meta: SnapshotMeta { index, term },
        data: format!("state at {index}").into_bytes(),
    }
}

fn small(segment_bytes: u64) -> StorageOptions {
    StorageOptions {
        fsync: true,
        segment_bytes,
    }
}

type State = (HardState, Option<Snapshot>, Vec<Entry>);

fn parts(r: Restored) -> State {
    (r.hard_state, r.snapshot, r.entries)
}

fn reopen(dir: &Path) -> Restored {
    Storage::open(dir, true).unwrap().1
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

fn only_segment(dir: &Path) -> PathBuf {
    let files = segment_files(dir);
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    for sub in ["wal", "snap"] {
        fs::create_dir_all(to.join(sub)).unwrap();
        for e in fs::read_dir(from.join(sub)).unwrap() {
            let e = e.unwrap();
            fs::copy(e.path(), to.join(sub).join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn a_new_directory_opens_empty_with_one_segment() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("n1");
    let (storage, restored) = Storage::open(&data, true).unwrap();
    assert_eq!(restored.hard_state, HardState::default());
    assert!(restored.snapshot.is_none() && restored.entries.is_empty());
    assert_eq!(storage.wal_stats().segments, 1);
    assert_eq!(
        only_segment(&data).file_name().unwrap(),
        "00000000000000000001.log"
    );
}

#[test]
fn hard_state_and_entries_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Storage::open(dir.path(), true).unwrap();
    s.save(Some(&hs(1, Some(2), 0)), None, &ents(1, 3, 1))
        .unwrap();
    s.save(Some(&hs(1, Some(2), 2)), None, &[]).unwrap();
    s.save(None, None, &ents(4, 4, 1)).unwrap();
    drop(s);
    let r = reopen(dir.path());
    assert_eq!(r.hard_state, hs(1, Some(2), 2));
    assert_eq!(r.entries, ents(1, 4, 1));
    assert!(r.snapshot.is_none());
}

#[test]
fn entries_overwrite_the_log_from_their_first_index() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Storage::open(dir.path(), true).unwrap();
    s.save(Some(&hs(1, None, 0)), None, &ents(1, 5, 1)).unwrap();
    s.save(Some(&hs(2, None, 0)), None, &ents(3, 3, 2)).unwrap();
    s.save(None, None, &ents(4, 4, 2)).unwrap();
    drop(s);
    let mut want = ents(1, 2, 1);
    want.extend(ents(3, 4, 2));
    assert_eq!(reopen(dir.path()).entries, want);
}

#[test]
fn a_received_snapshot_replaces_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Storage::open(dir.path(), true).unwrap();
    s.save(Some(&hs(1, None, 3)), None, &ents(1, 10, 1))
        .unwrap();
    s.save(Some(&hs(3, None, 20)), Some(&snap(20, 3)), &ents(21, 22, 3))
        .unwrap();
    drop(s);
    let r = reopen(dir.path());
    assert_eq!(r.snapshot, Some(snap(20, 3)));
    assert_eq!(r.entries, ents(21, 22, 3));
    assert_eq!(r.hard_state, hs(3, None, 20));

    // A snapshot inside the log replaces it too (the suffix is not kept).
    let (mut s, _) = Storage::open(dir.path(), true).unwrap();
    s.save(None, Some(&snap(21, 3)), &[]).unwrap();
    drop(s);
    let r = reopen(dir.path());
    assert_eq!(r.snapshot, Some(snap(21, 3)));
    assert!(r.entries.is_empty());
}

#[test]
fn compaction_keeps_the_entries_after_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Storage::open(dir.path(), true).unwrap();
    s.save(Some(&hs(1, None, 8)), None, &ents(1, 10, 1))
        .unwrap();
    s.compact(&snap(5, 1)).unwrap();
    // An older or equal compaction is a no-op.
    s.compact(&snap(4, 1)).unwrap();
    s.save(None, None, &ents(11, 11, 1)).unwrap();
    drop(s);
    let r = reopen(dir.path());
    assert_eq!(r.snapshot, Some(snap(5, 1)));
    assert_eq!(r.entries, ents(6, 11, 1));
    assert_eq!(r.hard_state, hs(1, None, 8));
    let names: Vec<_> = fs::read_dir(dir.path().join("snap"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["00000000000000000005-00000000000000000001.snap"]
    );
}

#[test]
fn compaction_past_the_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Storage::open(dir.path(), true).unwrap();
    s.save(None, None, &ents(1, 3, 1)).unwrap();
    let err = s.compact(&snap(4, 1)).unwrap_err().to_string();
    assert!(err.contains("the log ends at 3"), "{err}");
    // Not a write failure: the storage still works.
    s.save(None, None, &ents(4, 4, 1)).unwrap();
}

#[test]
fn entries_that_do_not_follow_the_log_are_refused_before_any_write() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Storage::open(dir.path(), true).unwrap();
    s.save(None, None, &ents(1, 3, 1)).unwrap();
    let before = s.wal_stats();
    let err = s.save(None, None, &ents(5, 5, 1)).unwrap_err().to_string();
    assert!(err.contains("do not follow the log"), "{err}");
    let mut jumpy = ents(4, 4, 1);
    jumpy.extend(ents(6, 6, 1));
    let err = s.save(None, None, &jumpy).unwrap_err().to_string();
    assert!(err.contains("jump from index 4 to 6"), "{err}");
    s.compact(&snap(2, 1)).unwrap();
    assert!(s.save(None, None, &ents(2, 2, 2)).is_err());
    assert_eq!(s.wal_stats(), before);
    s.save(None, None, &ents(3, 4, 2)).unwrap();
}

#[test]
fn a_save_with_nothing_to_persist_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Storage::open(dir.path(), true).unwrap();
    s.save(Some(&hs(1, None, 0)), None, &[]).unwrap();
    let before = s.wal_stats();
    let len = fs::metadata(only_segment(dir.path())).unwrap().len();
    s.save(None, None, &[]).unwrap();
    assert_eq!(s.wal_stats(), before);
    assert_eq!(fs::metadata(only_segment(dir.path())).unwrap().len(), len);
}

#[test]
fn segments_rotate_and_compaction_deletes_the_covered_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Storage::open_with(dir.path(), small(300)).unwrap();
    for i in 1..=60 {
        s.save(Some(&hs(1, Some(1), i - 1)), None, &ents(i, i, 1))
            .unwrap();
    }
    let grown = s.wal_stats();
    assert!(grown.segments >= 5, "{grown:?}");
    assert_eq!(segment_files(dir.path()).len(), grown.segments);
    // Closed, the active segment ends at its last record (no zeros past it).
    drop(s);
    let on_disk: u64 = segment_files(dir.path())
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(on_disk, grown.bytes);
    let r = reopen(dir.path());
    assert_eq!(r.entries, ents(1, 60, 1));
    assert_eq!(r.hard_state, hs(1, Some(1), 59));

    let (mut s, _) = Storage::open_with(dir.path(), small(300)).unwrap();
    s.compact(&snap(40, 1)).unwrap();
    let shrunk = s.wal_stats();
    assert!(shrunk.segments < grown.segments, "{shrunk:?} {grown:?}");
    assert!(shrunk.bytes < grown.bytes);
    // The first remaining segment still holds entries after 40.
    drop(s);
    let r = reopen(dir.path());
    assert_eq!(r.snapshot, Some(snap(40, 1)));
    assert_eq!(r.entries, ents(41, 60, 1));
    assert_eq!(r.hard_state, hs(1, Some(1), 59));

    // Compacting everything leaves only the active segment, whose header
    // carries the hard state.
    let (mut s, _) = Storage::open_with(dir.path(), small(300)).unwrap();
    s.save(Some(&hs(2, None, 60)), None, &ents(61, 61, 2))
        .unwrap();
    s.save(None, None, &ents(62, 62, 2)).unwrap();
    s.compact(&snap(62, 2)).unwrap();
    assert_eq!(s.wal_stats().segments, 1);
    drop(s);
    let r = reopen(dir.path());
    assert_eq!(r.snapshot, Some(snap(62, 2)));
    assert!(r.entries.is_empty());
    assert_eq!(r.hard_state, hs(2, None, 60));
}

#[test]
fn segments_before_a_received_snapshot_are_deleted_at_the_next_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Storage::open_with(dir.path(), small(200)).unwrap();
    for i in 1..=20 {
        s.save(None, None, &ents(i, i, 1)).unwrap();
    }
    // Divergent entries up to 20; the leader's snapshot is at 10.
    s.save(Some(&hs(2, None, 10)), Some(&snap(10, 2)), &ents(11, 11, 2))
        .unwrap();
    s.save(None, None, &ents(12, 12, 2)).unwrap();
    s.compact(&snap(11, 2)).unwrap();
    assert_eq!(s.wal_stats().segments, 1);
    drop(s);
    let r = reopen(dir.path());
    assert_eq!(r.snapshot, Some(snap(11, 2)));
    assert_eq!(r.entries, ents(12, 12, 2));
}

/// Builds a WAL whose last record is one entries batch; returns the
/// segment, its length before that record and the state before it.
fn wal_with_last_record(dir: &Path) -> (PathBuf, u64, State) {
    let (mut s, _) = Storage::open(dir, true).unwrap();
    s.save(Some(&hs(1, Some(1), 0)), None, &ents(1, 3, 1))
        .unwrap();
    s.save(Some(&hs(1, Some(1), 3)), None, &ents(4, 4, 1))
        .unwrap();
    let before = s.wal_stats().bytes;
    s.save(None, None, &ents(5, 6, 1)).unwrap();
    drop(s);
    let state = (hs(1, Some(1), 3), None, ents(1, 4, 1));
    (only_segment(dir), before, state)
}

#[test]
fn a_torn_last_record_is_cut_at_every_byte_offset_and_the_log_stays_appendable() {
    let src = tempfile::tempdir().unwrap();
    let (segment, before, state) = wal_with_last_record(src.path());
    let full = fs::metadata(&segment).unwrap().len();
    assert!(full > before + 12);
    for cut in before..full {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(src.path(), dir.path());
        let seg = dir.path().join("wal").join(segment.file_name().unwrap());
        let bytes = fs::read(&seg).unwrap();
        fs::write(&seg, &bytes[..cut as usize]).unwrap();

        let (mut s, r) = Storage::open(dir.path(), true).unwrap();
        assert_eq!(parts(r), state, "cut at {cut}");
        assert_eq!(fs::metadata(&seg).unwrap().len(), before, "cut at {cut}");
        s.save(None, None, &ents(5, 5, 2)).unwrap();
        drop(s);
        let mut want = ents(1, 4, 1);
        want.extend(ents(5, 5, 2));
        assert_eq!(reopen(dir.path()).entries, want, "cut at {cut}");
    }
}

#[test]
fn a_bad_checksum_on_the_record_ending_the_log_is_cut_and_reported_as_an_ambiguous_loss() {
    let dir = tempfile::tempdir().unwrap();
    let (segment, before, state) = wal_with_last_record(dir.path());
    let mut bytes = fs::read(&segment).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x10;
    fs::write(&segment, &bytes).unwrap();
    let r = reopen(dir.path());
    assert_eq!(parts(r.clone()), state);
    assert_eq!(fs::metadata(&segment).unwrap().len(), before);
    // That record had been synced and acknowledged: the node must get
    // entries 5 and 6 back before it votes.
    let (acked, damage) = recovery_of(&r);
    assert_eq!(acked, Some((6, 1)));
    assert!(
        damage.contains("were cut off (a torn write or damage)")
            && damage.contains("entries 5..=6 are missing"),
        "{damage}"
    );
    // Only the last sync's write is gone: a power loss during that sync
    // would leave the same.
    assert!(r.recovery.as_ref().unwrap().ambiguous, "{damage}");
}

#[test]
fn an_ambiguous_loss_stays_ambiguous_across_saves_and_restarts_until_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let (segment, _, _) = wal_with_last_record(dir.path());
    let mut bytes = fs::read(&segment).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x10;
    fs::write(&segment, &bytes).unwrap();
    let (mut s, r) = Storage::open(dir.path(), true).unwrap();
    assert!(r.recovery.as_ref().unwrap().ambiguous);
    // A leader's Append arrives before the node has all of it back.
    s.save(None, None, &ents(5, 5, 1)).unwrap();
    s.save(None, None, &[]).unwrap();
    drop(s);
    let (mut s, r) = Storage::open(dir.path(), true).unwrap();
    assert_eq!(r.entries, ents(1, 5, 1));
    let rec = r.recovery.as_ref().expect("still recovering");
    assert_eq!(rec.acked.map(|a| a.index), Some(6));
    assert!(rec.ambiguous, "{}", rec.damage);
    // Recovered: the record follows the log again.
    s.save(None, None, &ents(6, 6, 1)).unwrap();
    s.recovered();
    s.save(None, None, &ents(7, 7, 1)).unwrap();
    drop(s);
    let r = reopen(dir.path());
    assert_eq!(r.entries, ents(1, 7, 1));
    assert!(r.recovery.is_none(), "{:?}", r.recovery);
}

#[test]
fn a_cut_through_an_earlier_sync_is_a_certain_loss() {
    let dir = tempfile::tempdir().unwrap();
    let (segment, _, _) = wal_with_last_record(dir.path());
    let bytes = fs::read(&segment).unwrap();
    let offsets = record_offsets(&bytes);
    // header, entries 1-3, hard state, entries 4, hard state, entries 5-6:
    // cut inside entries 4, written by the sync before the last.
    fs::write(&segment, &bytes[..offsets[3] + 5]).unwrap();
    let r = reopen(dir.path());
    assert_eq!(r.entries, ents(1, 3, 1));
    let rec = r.recovery.as_ref().expect("a recovery");
    assert_eq!(rec.acked.map(|a| a.index), Some(6));
    assert!(!rec.ambiguous, "{}", rec.damage);
    assert!(
        rec.damage.contains("entries 4..=6 are missing"),
        "{}",
        rec.damage
    );
}

#[test]
fn a_zero_filled_tail_is_a_torn_write() {
    let dir = tempfile::tempdir().unwrap();
    let (segment, _, _) = wal_with_last_record(dir.path());
    let mut bytes = fs::read(&segment).unwrap();
    let len = bytes.len();
    bytes.resize(len + 4096, 0);
    fs::write(&segment, &bytes).unwrap();
    let r = reopen(dir.path());
    assert_eq!(r.entries, ents(1, 6, 1));
    assert_eq!(fs::metadata(&segment).unwrap().len(), len as u64);
}

/// The offsets at which the records of a segment start (after its
/// acknowledgement slots).
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = acked::SLOTS;
    while at < bytes.len() {
        offsets.push(at);
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += record::HEADER_LEN + len;
    }
    offsets
}

/// The recovery a reopened `dir` reports, which must exist.
fn recovery_of(r: &Restored) -> (Option<(Index, u64)>, String) {
    let rec = r.recovery.as_ref().expect("a recovery");
    (rec.acked.map(|a| (a.index, a.term)), rec.damage.clone())
}

fn damaged_copy(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".damaged");
    PathBuf::from(name)
}

#[test]
fn a_flipped_byte_in_a_middle_record_ends_the_log_there_keeping_the_bytes_aside() {
    let src = tempfile::tempdir().unwrap();
    let (segment, _, _) = wal_with_last_record(src.path());
    let clean = fs::read(&segment).unwrap();
    let offsets = record_offsets(&clean);
    // header, entries 1-3, hard state, entries 4, hard state, entries 5-6
    assert_eq!(offsets.len(), 6);
    let victim = offsets[3];

    let dir = tempfile::tempdir().unwrap();
    copy_dir(src.path(), dir.path());
    let segment = dir.path().join("wal").join(segment.file_name().unwrap());
    let mut bytes = clean.clone();
    bytes[victim + record::HEADER_LEN + 2] ^= 0x01;
    fs::write(&segment, &bytes).unwrap();
    let (s, r) = Storage::open(dir.path(), true).unwrap();
    assert_eq!(r.entries, ents(1, 3, 1), "the log ends before the damage");
    let (acked, damage) = recovery_of(&r);
    assert_eq!(acked, Some((6, 1)));
    assert!(
        damage.contains(&format!(
            "damaged WAL record at offset {victim} of {} (crc mismatch)",
            segment.display()
        )) && damage.contains("entries 4..=6 are missing"),
        "{damage}"
    );
    // The damaged segment is kept whole; the live one ends before the damage.
    assert_eq!(fs::read(damaged_copy(&segment)).unwrap(), bytes);
    assert_eq!(fs::metadata(&segment).unwrap().len(), victim as u64);
    drop(s);
    // Until the entries come back, every restart still knows they are missing.
    let r = reopen(dir.path());
    assert_eq!(recovery_of(&r).0, Some((6, 1)));
    assert!(recovery_of(&r).1.contains("the WAL ends early"));

    // A damaged length is caught by the header checksum, not taken for a torn tail.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(src.path(), dir.path());
    let mut bytes = clean.clone();
    bytes[victim + 1] ^= 0x7f;
    fs::write(segment_in(dir.path(), &segment), &bytes).unwrap();
    let damage = recovery_of(&reopen(dir.path())).1;
    assert!(
        damage.contains(&format!(
            "at offset {victim} of {} (record header checksum mismatch)",
            segment_in(dir.path(), &segment).display()
        )),
        "{damage}"
    );
}

/// The file of segment `seg` in another data directory.
fn segment_in(dir: &Path, seg: &Path) -> PathBuf {
    dir.join("wal").join(seg.file_name().unwrap())
}

#[test]
fn an_undecodable_body_is_damage() {
    let dir = tempfile::tempdir().unwrap();
    let (segment, _, _) = wal_with_last_record(dir.path());
    let mut bytes = fs::read(&segment).unwrap();
    let victim = record_offsets(&bytes)[2];
    // A valid frame around a body that is not a record.
    let body = [250u8, 250, 250, 250];
    let mut frame = Vec::new();
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    let hcrc = crc32fast::hash(&frame);
    frame.extend_from_slice(&hcrc.to_le_bytes());
    frame.extend_from_slice(&body);
    bytes.splice(victim..victim, frame);
    fs::write(&segment, &bytes).unwrap();
    let r = reopen(dir.path());
    let damage = recovery_of(&r).1;
    assert!(
        damage.contains(&format!("at offset {victim} of")) && damage.contains("undecodable body"),
        "{damage}"
    );
    assert_eq!(r.entries, ents(1, 3, 1));
}

#[test]
fn damage_in_an_earlier_segment_sets_it_and_every_later_one_aside() {
    let src = tempfile::tempdir().unwrap();
    let (mut s, _) = Storage::open_with(src.path(), small(200)).unwrap();
    for i in 1..=20 {
        s.save(Some(&hs(1, None, i)), None, &ents(i, i, 1)).unwrap();
    }
    drop(s);
    let files = segment_files(src.path());
    assert!(files.len() >= 3);
    let first = files[0].file_name().unwrap().to_owned();
    let later_kept = |dir: &Path| {
        files[1..]
            .iter()
            .all(|f| damaged_copy(&segment_in(dir, f)).exists() && !segment_in(dir, f).exists())
    };

    // A bad checksum on the record ending the first segment.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(src.path(), dir.path());
    let seg = dir.path().join("wal").join(&first);
    let mut bytes = fs::read(&seg).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&seg, &bytes).unwrap();
    let r = reopen(dir.path());
    let (acked, damage) = recovery_of(&r);
    assert_eq!(acked, Some((20, 1)));
    assert!(
        damage.contains(seg.to_str().unwrap()) && damage.contains("crc mismatch"),
        "{damage}"
    );
    assert!(later_kept(dir.path()));
    let ends = r.entries.last().unwrap().index;
    assert!(ends < 20);
    assert!(
        damage.contains(&format!("entries {}..=20 are missing", ends + 1)),
        "{damage}"
    );

    // The first segment cut short.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(src.path(), dir.path());
    let seg = dir.path().join("wal").join(&first);
    let bytes = fs::read(&seg).unwrap();
    fs::write(&seg, &bytes[..bytes.len() - 3]).unwrap();
    let damage = recovery_of(&reopen(dir.path())).1;
    assert!(
        damage.contains(seg.to_str().unwrap()) && damage.contains("runs past the end"),
        "{damage}"
    );
    assert!(later_kept(dir.path()));

    // A segment missing in the middle.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(src.path(), dir.path());
    fs::remove_file(dir.path().join("wal").join(files[1].file_name().unwrap())).unwrap();
    let damage = recovery_of(&reopen(dir.path())).1;
    assert!(damage.contains("a segment is missing"), "{damage}");
}

#[test]
fn a_torn_segment_header_is_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Storage::open_with(dir.path(), small(1)).unwrap();
    s.save(Some(&hs(4, Some(2), 0)), None, &ents(1, 4, 4))
        .unwrap();
    // Rotates: the new segment starts with a header.
    s.save(None, None, &ents(5, 5, 4)).unwrap();
    drop(s);
    // Every save starts a segment: the empty one of open, then one each.
    let files = segment_files(dir.path());
    assert_eq!(files.len(), 3);
    // The crash hit while the new segment's first write was under way.
    fs::write(&files[2], &fs::read(&files[2]).unwrap()[..5]).unwrap();
    let (mut s, r) = Storage::open_with(dir.path(), small(1)).unwrap();
    assert_eq!(r.entries, ents(1, 4, 4));
    assert_eq!(r.hard_state, hs(4, Some(2), 0));
    s.save(None, None, &ents(5, 5, 4)).unwrap();
    s.compact(&snap(4, 4)).unwrap();
    assert_eq!(s.wal_stats().segments, 1);
    drop(s);
    let r = reopen(dir.path());
    assert_eq!(r.hard_state, hs(4, Some(2), 0));
    assert_eq!(r.entries, ents(5, 5, 4));
}

#[test]
fn a_snapshot_written_without_its_wal_marker_is_reconciled_with_the_log() {
    for (term, kept) in [(1, ents(9, 10, 1)), (2, Vec::new())] {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = Storage::open(dir.path(), true).unwrap();
        s.save(Some(&hs(1, None, 2)), None, &ents(1, 10, 1))
            .unwrap();
        let before = s.wal_stats().bytes;
        s.save(None, Some(&snap(8, term)), &[]).unwrap();
        drop(s);
        // The crash came after the snapshot file but before the WAL record.
        let seg = only_segment(dir.path());
        let bytes = fs::read(&seg).unwrap();
        fs::write(&seg, &bytes[..before as usize]).unwrap();
        let r = reopen(dir.path());
        assert_eq!(r.snapshot, Some(snap(8, term)));
        assert_eq!(r.entries, kept, "snapshot term {term}");
    }
}

#[test]
fn a_missing_snapshot_file_sets_the_log_aside_and_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Storage::open(dir.path(), true).unwrap();
    s.save(Some(&hs(2, Some(3), 0)), Some(&snap(8, 2)), &ents(9, 9, 2))
        .unwrap();
    drop(s);
    for e in fs::read_dir(dir.path().join("snap")).unwrap() {
        fs::remove_file(e.unwrap().path()).unwrap();
    }
    let r = reopen(dir.path());
    assert_eq!(parts(r.clone()), (hs(2, Some(3), 0), None, Vec::new()));
    let (acked, damage) = recovery_of(&r);
    assert_eq!(acked, Some((9, 2)));
    assert!(
        damage.contains("needs the snapshot at index 8 term 2"),
        "{damage}"
    );
    assert!(damage.contains("entries 1..=9 are missing"), "{damage}");
}

#[test]
fn a_damaged_snapshot_is_set_aside_with_the_log_built_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Storage::open(dir.path(), true).unwrap();
    s.save(Some(&hs(1, None, 10)), None, &ents(1, 12, 1))
        .unwrap();
    s.compact(&snap(10, 1)).unwrap();
    drop(s);
    let snap_file = fs::read_dir(dir.path().join("snap"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = fs::read(&snap_file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x20;
    fs::write(&snap_file, &bytes).unwrap();
    let (mut s, r) = Storage::open(dir.path(), true).unwrap();
    assert_eq!(r.snapshot, None);
    assert!(r.entries.is_empty());
    let (acked, damage) = recovery_of(&r);
    assert_eq!(acked, Some((12, 1)));
    assert!(damage.contains("damaged snapshot"), "{damage}");
    assert_eq!(fs::read(damaged_copy(&snap_file)).unwrap(), bytes);
    // A snapshot from the leader repairs it; the next start needs nothing.
    s.save(None, Some(&snap(12, 1)), &[]).unwrap();
    drop(s);
    let r = reopen(dir.path());
    assert_eq!(r.snapshot, Some(snap(12, 1)));
    assert!(r.recovery.is_none(), "{:?}", r.recovery);
}

#[test]
fn a_torn_write_past_the_acknowledged_point_needs_no_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let (segment, _, _) = wal_with_last_record(dir.path());
    let mut bytes = fs::read(&segment).unwrap();
    let len = bytes.len();
    // A record that was being written when the power went: a header and
    // part of its body, never synced, never acknowledged.
    bytes.extend_from_slice(&[40, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9]);
    fs::write(&segment, &bytes).unwrap();
    let r = reopen(dir.path());
    assert_eq!(r.entries, ents(1, 6, 1));
    assert!(r.recovery.is_none(), "{:?}", r.recovery);
    assert_eq!(fs::metadata(&segment).unwrap().len(), len as u64);
}

#[test]
fn a_vote_the_wal_lost_comes_back_from_the_acknowledgement_record() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Storage::open(dir.path(), true).unwrap();
    s.save(Some(&hs(1, Some(1), 0)), None, &ents(1, 2, 1))
        .unwrap();
    let before = s.wal_stats().bytes;
    s.save(Some(&hs(2, Some(3), 0)), None, &[]).unwrap();
    drop(s);
    let seg = only_segment(dir.path());
    let bytes = fs::read(&seg).unwrap();
    fs::write(&seg, &bytes[..before as usize + 5]).unwrap();
    let r = reopen(dir.path());
    assert_eq!(r.hard_state, hs(2, Some(3), 0));
    assert!(r.recovery.is_none(), "no entry was lost: {:?}", r.recovery);
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_s, _) = Storage::open(dir.path(), true).unwrap();
    let err = Storage::open(dir.path(), true).unwrap_err();
    assert!(matches!(err, StorageError::Locked { .. }), "{err}");
}

#[test]
fn without_fsync_everything_is_still_written() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Storage::open_with(
        dir.path(),
        StorageOptions {
            fsync: false,
            segment_bytes: 200,
        },
    )
    .unwrap();
    for i in 1..=10 {
        s.save(Some(&hs(1, None, i)), None, &ents(i, i, 1)).unwrap();
    }
    s.compact(&snap(5, 1)).unwrap();
    drop(s);
    let r = reopen(dir.path());
    assert_eq!(r.snapshot, Some(snap(5, 1)));
    assert_eq!(r.entries, ents(6, 10, 1));
}

#[test]
fn a_failed_write_poisons_the_storage() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Storage::open(dir.path(), true).unwrap();
    s.save(None, None, &ents(1, 2, 1)).unwrap();
    let snap_dir = dir.path().join("snap");
    fs::remove_dir(&snap_dir).unwrap();
    fs::write(&snap_dir, b"not a directory").unwrap();
    let err = s
        .save(None, Some(&snap(5, 1)), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("snap"), "{err}");
    let err = s.save(None, None, &ents(3, 3, 1)).unwrap_err();
    assert!(matches!(err, StorageError::Poisoned { .. }), "{err}");
}

#[test]
fn a_save_that_only_moves_commit_is_not_synced_and_votes_always_are() {
    let dir = tempfile::tempdir().unwrap();
    let (mut st, _) = Storage::open(dir.path(), true).unwrap();
    st.save(Some(&hs(1, Some(1), 0)), None, &ents(1, 3, 1))
        .unwrap();
    assert_eq!(st.wal_stats().syncs, 1);
    st.save(Some(&hs(1, Some(1), 3)), None, &[]).unwrap();
    assert_eq!(
        st.wal_stats().syncs,
        1,
        "a commit-only hard state was synced"
    );
    st.save(Some(&hs(2, None, 3)), None, &[]).unwrap();
    assert_eq!(st.wal_stats().syncs, 2, "a new term must be synced");
    st.save(Some(&hs(2, Some(3), 3)), None, &[]).unwrap();
    assert_eq!(st.wal_stats().syncs, 3, "a vote must be synced");
    drop(st);
    let restored = reopen(dir.path());
    assert_eq!(restored.hard_state, hs(2, Some(3), 3));
    assert_eq!(restored.entries.len(), 3);
}

#[test]
fn the_active_segment_grows_with_zeros_that_a_crash_leaves_and_recovery_cuts() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Storage::open(dir.path(), true).unwrap();
    s.save(Some(&hs(1, Some(1), 0)), None, &ents(1, 3, 1))
        .unwrap();
    let bytes = s.wal_stats().bytes;
    let seg = only_segment(dir.path());
    let len = fs::metadata(&seg).unwrap().len();
    assert!(
        len >= bytes + wal::GROW,
        "{len} bytes for {bytes} of records"
    );
    // A crash: the zeros stay (copied while the storage is open).
    let crashed = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), crashed.path());
    drop(s);
    assert_eq!(fs::metadata(&seg).unwrap().len(), bytes, "trimmed on close");
    let (mut s, r) = Storage::open(crashed.path(), true).unwrap();
    assert_eq!(r.entries, ents(1, 3, 1));
    s.save(None, None, &ents(4, 4, 1)).unwrap();
    drop(s);
    assert_eq!(reopen(crashed.path()).entries, ents(1, 4, 1));
}

#[test]
fn a_last_write_torn_at_every_byte_inside_the_zeros_it_was_written_over_is_cut() {
    // A power loss that keeps a prefix of the last write: its first `cut`
    // bytes, then the zeros the segment was grown with (header included:
    // a prefix shorter than the header is a torn write too).
    let src = tempfile::tempdir().unwrap();
    let (segment, before, state) = wal_with_last_record(src.path());
    let full = fs::metadata(&segment).unwrap().len();
    for cut in before..full {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(src.path(), dir.path());
        let seg = dir.path().join("wal").join(segment.file_name().unwrap());
        let mut bytes = fs::read(&seg).unwrap();
        bytes[cut as usize..].fill(0);
        bytes.resize(bytes.len() + 4096, 0);
        fs::write(&seg, &bytes).unwrap();
        assert_eq!(parts(reopen(dir.path())), state, "cut at {cut}");
        assert_eq!(fs::metadata(&seg).unwrap().len(), before, "cut at {cut}");
    }
}

#[test]
fn un_synced_writes_that_reached_the_disk_in_pieces_are_cut_and_a_flip_in_the_zeros_too() {
    let src = tempfile::tempdir().unwrap();
    let (segment, before, state) = wal_with_last_record(src.path());
    let full = fs::metadata(&segment).unwrap().len() as usize;
    let check = |what: &str, damage: &dyn Fn(&mut Vec<u8>), want: State, want_len: u64| {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(src.path(), dir.path());
        let seg = dir.path().join("wal").join(segment.file_name().unwrap());
        let mut bytes = fs::read(&seg).unwrap();
        damage(&mut bytes);
        fs::write(&seg, &bytes).unwrap();
        assert_eq!(parts(reopen(dir.path())), want, "{what}");
        assert_eq!(fs::metadata(&seg).unwrap().len(), want_len, "{what}");
    };
    // The last write's first bytes lost, one byte further on kept.
    let b = before as usize;
    let hole = |bytes: &mut Vec<u8>| {
        let kept = bytes[full - 3];
        bytes[b..].fill(0);
        bytes[full - 3] = kept | 1;
    };
    check("a hole then a byte", &hole, state, before);
    // A bit flipped in the zeros the segment was grown with: cut, not refused.
    let flip = |bytes: &mut Vec<u8>| {
        bytes.resize(full + 4096, 0);
        bytes[full + 100] ^= 0x08;
    };
    let everything = (hs(1, Some(1), 3), None, ents(1, 6, 1));
    check(
        "a flip past the last record",
        &flip,
        everything,
        full as u64,
    );
}

#[test]
fn a_record_torn_inside_the_zeros_it_was_written_over_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let (segment, before, state) = wal_with_last_record(dir.path());
    let mut bytes = fs::read(&segment).unwrap();
    // The last record's second half never reached the disk: zeros, as the
    // segment was grown with, then more zeros.
    let half = (before as usize + bytes.len()) / 2;
    bytes[half..].fill(0);
    bytes.resize(bytes.len() + 4096, 0);
    fs::write(&segment, &bytes).unwrap();
    assert_eq!(parts(reopen(dir.path())), state);
    assert_eq!(fs::metadata(&segment).unwrap().len(), before);
}

//! The storage against an in-memory model: random saves, compactions, torn
//! writes and reopens; plus a throughput measurement (`--ignored`).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use faultline_node::raft::{Entry, HardState, Index, Restored, Snapshot, SnapshotMeta, Term};
use faultline_node::storage::{Storage, StorageOptions};
use proptest::prelude::*;

/// What the storage must give back: the log as Raft sees it.
#[derive(Debug, Clone, Default, PartialEq)]
struct Model {
    hard_state: HardState,
    snapshot: Option<Snapshot>,
    entries: Vec<Entry>,
}

impl Model {
    fn snap_index(&self) -> Index {
        self.snapshot.as_ref().map_or(0, |s| s.meta.index)
    }

    fn last_index(&self) -> Index {
        self.entries.last().map_or(self.snap_index(), |e| e.index)
    }

    fn term(&self, index: Index) -> Term {
        match &self.snapshot {
            Some(s) if s.meta.index == index => s.meta.term,
            _ => self.entries[(index - self.snap_index() - 1) as usize].term,
        }
    }

    fn save(&mut self, hs: Option<HardState>, snap: Option<&Snapshot>, entries: &[Entry]) {
        if let Some(s) = snap {
            self.snapshot = Some(s.clone());
            self.entries.clear();
        }
        if let Some(first) = entries.first() {
            let keep = (first.index - self.snap_index() - 1) as usize;
            self.entries.truncate(keep);
            self.entries.extend_from_slice(entries);
        }
        if let Some(hs) = hs {
            self.hard_state = hs;
        }
    }

    fn compact(&mut self, snap: &Snapshot) {
        let drop = (snap.meta.index - self.snap_index()) as usize;
        self.entries.drain(..drop);
        self.snapshot = Some(snap.clone());
    }

    fn of(r: Restored) -> Model {
        Model {
            hard_state: r.hard_state,
            snapshot: r.snapshot,
            entries: r.entries,
        }
    }
}

/// One step of a random history, in terms relative to the model's state.
#[derive(Debug, Clone)]
enum Op {
    Save {
        hard_state: Option<(Term, Option<u64>, Index)>,
        /// A received snapshot this far past the stored one.
        snapshot: Option<u8>,
        /// Entries start this far before the end of the log.
        back: u8,
        len: u8,
        term: Term,
    },
    Compact {
        at: u16,
    },
    Reopen,
    /// A save whose write is torn at `cut` (a fraction of the bytes it wrote)
    /// by a crash, then a reopen.
    TornSave {
        back: u8,
        len: u8,
        term: Term,
        cut: u16,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let hs = prop::option::of((1..5u64, prop::option::of(1..4u64), 0..50u64));
    prop_oneof![
        6 => (hs, prop::option::weighted(0.1, 0..12u8), 0..4u8, 0..6u8, 1..5u64).prop_map(
            |(hard_state, snapshot, back, len, term)| Op::Save {
                hard_state,
                snapshot,
                back,
                len,
                term
            }
        ),
        1 => any::<u16>().prop_map(|at| Op::Compact { at }),
        1 => Just(Op::Reopen),
        1 => (0..4u8, 1..6u8, 1..5u64, any::<u16>()).prop_map(|(back, len, term, cut)| {
            Op::TornSave {
                back,
                len,
                term,
                cut,
            }
        }),
    ]
}

fn entries(from: Index, len: u8, term: Term) -> Vec<Entry> {
    (from..from + Index::from(len))
        .map(|index| Entry {
            term,
            index,
            data: vec![index as u8; (index % 7) as usize],
        })
        .collect()
}

fn first_index(model_base: Index, model_last: Index, back: u8) -> Index {
    (model_last + 1)
        .saturating_sub(Index::from(back))
        .max(model_base + 1)
}

fn last_segment(dir: &Path) -> (usize, Option<PathBuf>) {
    let mut files: Vec<PathBuf> = fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    (files.len(), files.pop())
}

fn wal_bytes_on_disk(dir: &Path) -> u64 {
    fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

fn run(segment_bytes: u64, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let options = StorageOptions {
        fsync: true,
        segment_bytes,
    };
    let (storage, restored) = Storage::open_with(dir.path(), options).unwrap();
    let mut storage = Some(storage);
    prop_assert_eq!(Model::of(restored), Model::default());
    let mut model = Model::default();
    let mut torn_overwrite = false;

    for op in ops {
        let s = storage.as_mut().unwrap();
        match op {
            Op::Save {
                hard_state,
                snapshot,
                back,
                len,
                term,
            } => {
                let hs = hard_state.map(|(term, vote, commit)| HardState { term, vote, commit });
                let snap = snapshot.map(|ahead| {
                    let index = model.snap_index() + Index::from(ahead);
                    Snapshot {
                        meta: SnapshotMeta { index, term },
                        data: format!("received {index}").into_bytes(),
                    }
                });
                let (base, last) = match &snap {
                    Some(s) => (s.meta.index, s.meta.index),
                    None => (model.snap_index(), model.last_index()),
                };
                let ents = entries(first_index(base, last, back), len, term);
                s.save(hs.as_ref(), snap.as_ref(), &ents).unwrap();
                model.save(hs, snap.as_ref(), &ents);
            }
            Op::Compact { at } => {
                let (base, last) = (model.snap_index(), model.last_index());
                if last > base {
                    let index = base + 1 + Index::from(at) % (last - base);
                    let snap = Snapshot {
                        meta: SnapshotMeta {
                            index,
                            term: model.term(index),
                        },
                        data: format!("applied {index}").into_bytes(),
                    };
                    s.compact(&snap).unwrap();
                    model.compact(&snap);
                }
            }
            Op::Reopen => {
                let stats = s.wal_stats();
                prop_assert_eq!(stats.segments, last_segment(dir.path()).0);
                drop(storage.take());
                // Closed, no segment goes on past its last record.
                prop_assert_eq!(stats.bytes, wal_bytes_on_disk(dir.path()));
                let (mut s, restored) = Storage::open_with(dir.path(), options).unwrap();
                // A claim left by an earlier torn write: the node would get
                // it back from a leader, then say so.
                s.recovered();
                storage = Some(s);
                prop_assert_eq!(Model::of(restored), model.clone());
            }
            Op::TornSave {
                back,
                len,
                term,
                cut,
            } => {
                let (count_before, last_before) = last_segment(dir.path());
                // The records of the active segment (the file may go on with
                // the zeros it was grown with; closed segments end at theirs).
                let last_before = last_before.unwrap();
                let len_before = s.wal_stats().bytes
                    - (wal_bytes_on_disk(dir.path()) - fs::metadata(&last_before).unwrap().len());
                // Terms never go back and a vote is never taken back (the
                // acknowledgement record keeps the newest of both).
                let hs = if term > model.hard_state.term {
                    HardState {
                        term,
                        vote: None,
                        commit: model.hard_state.commit,
                    }
                } else {
                    model.hard_state
                };
                let ents = entries(
                    first_index(model.snap_index(), model.last_index(), back),
                    len,
                    term,
                );
                s.save(Some(&hs), None, &ents).unwrap();
                drop(storage.take());
                let (count_after, last_after) = last_segment(dir.path());
                let last_after = last_after.unwrap();
                let len_after = fs::metadata(&last_after).unwrap().len();
                let from = if count_after > count_before {
                    0
                } else {
                    len_before
                };
                let cut_at = from + u64::from(cut) % (len_after - from);
                let bytes = fs::read(&last_after).unwrap();
                fs::write(&last_after, &bytes[..cut_at as usize]).unwrap();

                let (s, restored) = Storage::open_with(dir.path(), options).unwrap();
                storage = Some(s);
                let recovery = restored.recovery.clone();
                // The crash may have kept the entries record and not the hard state.
                let mut with_entries = model.clone();
                with_entries.save(None, None, &ents);
                let got = Model::of(restored);
                // A torn write is never taken for a certain loss of
                // acknowledged entries: at most for an ambiguous one (the
                // acknowledgement record shares the torn sync), or, after a
                // torn overwrite of the log's end by entries of the same or
                // an older term (which Raft never does), for any loss.
                // The record's term and vote (from the same torn sync) may
                // have survived while the WAL's hard state did not: a newer
                // term, or a vote that will not be given twice, is safe.
                let newer = |m: &Model| {
                    let mut m = m.clone();
                    m.hard_state.term = hs.term;
                    m.hard_state.vote = hs.vote;
                    m
                };
                let got_hs = got.hard_state;
                let got = if got == newer(&model) || got == newer(&with_entries) {
                    let mut g = got.clone();
                    g.hard_state = if g.entries == with_entries.entries {
                        with_entries.hard_state
                    } else {
                        model.hard_state
                    };
                    g
                } else {
                    got
                };
                torn_overwrite |= back > 0 && got == with_entries;
                let certain_loss = recovery.as_ref().filter(|r| !r.ambiguous);
                prop_assert!(
                    certain_loss.is_none() || torn_overwrite,
                    "a torn write taken for lost acknowledged entries: {:?}",
                    recovery
                );
                prop_assert!(
                    got == model || got == with_entries,
                    "torn at {} of {}..{}: got {:?}\nbefore {:?}",
                    cut_at,
                    from,
                    len_after,
                    got,
                    model
                );
                model = got;
                model.hard_state = got_hs;
                // As a node does once a leader gave back what it lost.
                if let Some(s) = storage.as_mut() {
                    s.recovered();
                }
            }
        }
    }
    drop(storage);
    let (_s, restored) = Storage::open_with(dir.path(), options).unwrap();
    prop_assert_eq!(Model::of(restored), model);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn storage_matches_the_model_across_reopens(
        segment_bytes in prop_oneof![Just(1u64), 64..400u64, Just(64u64 << 20)],
        ops in prop::collection::vec(op(), 1..40),
    ) {
        run(segment_bytes, ops)?;
    }
}

fn measure(label: &str, fsync: bool, batch: u64, saves: u64) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (mut s, _) = Storage::open(dir.path(), fsync).unwrap();
    let mut next = 1;
    let start = Instant::now();
    for i in 0..saves {
        let ents: Vec<Entry> = (next..next + batch)
            .map(|index| Entry {
                term: 1,
                index,
                data: vec![b'x'; 100],
            })
            .collect();
        next += batch;
        let hs = HardState {
            term: 1,
            vote: Some(1),
            commit: i * batch,
        };
        s.save(Some(&hs), None, &ents).unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let stats = s.wal_stats();
    drop(s);
    let start = Instant::now();
    let (_s, restored) = Storage::open(dir.path(), fsync).unwrap();
    let reopen = start.elapsed().as_secs_f64();
    assert_eq!(restored.entries.len() as u64, batch * saves);
    println!(
        "{label:<28} {:>9.0} saves/s {:>10.0} entries/s  ({saves} saves in {elapsed:.2} s; \
         WAL {} bytes; reopen of {} entries {:.1} ms)",
        saves as f64 / elapsed,
        (saves * batch) as f64 / elapsed,
        stats.bytes,
        batch * saves,
        reopen * 1e3
    );
}

/// `cargo test -p faultline-node --release --test storage -- --ignored --nocapture`
#[test]
#[ignore = "a measurement, not a test: run with --ignored --nocapture"]
fn throughput() {
    measure("1-entry Ready, fsync", true, 1, 3000);
    measure("64-entry Ready, fsync", true, 64, 1000);
    measure("1-entry Ready, no fsync", false, 1, 20000);
    measure("64-entry Ready, no fsync", false, 64, 3000);
}

//! The acknowledgement record: what the node last made durable (and so may
//! have promised to others), kept in the first [`SLOTS`] bytes of every WAL
//! segment, apart from the records, so that damage to the WAL's last records
//! can be told from a write torn by a crash.
//!
//! Every save that syncs the WAL (new entries, a received snapshot, a new
//! term or vote) also overwrites one slot of the active segment with the
//! log's last index and term and the term and vote, made durable by the same
//! fdatasync as the records (two writes to one file, one flush: the record
//! costs no extra sync). A torn WAL tail that ends at or past the recorded
//! index was never acknowledged and is safe to cut; a log that no longer
//! reaches it lost entries the node had acknowledged. Term and vote here
//! are a second copy of the WAL's.
//!
//! While the node recovers lost entries, the record keeps the claim it
//! restarted with (or "unknown") instead of the shortened log's end, so a
//! crash in the middle of recovery still restarts it as a learner.
//!
//! ```text
//! two 64-byte slots at the start of a segment, written in turn (slot = seq % 2):
//! "FLACKED1" | seq: u64 | term: u64 | vote: u64 (0: none) | index: u64 | index_term: u64 | crc32: u32 | zeros
//! (index = u64::MAX: unknown)
//! ```
//!
//! The newer intact slot of the newest segment wins; a write torn inside
//! one slot leaves the other. The older slot tells what was certainly
//! durable before the newest sync began: a log that lacks only what the
//! newest record added may have lost a write torn by a power loss in the
//! middle of that sync (the record and the records it describe share one
//! fdatasync), which recovery reports as ambiguous; a log that lacks more
//! lost acknowledged entries for certain. A new segment starts with both
//! slots written (the previous record and the new one). Segments written before the record existed
//! start with their first record at offset 0 and have no slots.

use crate::raft::{HardState, SnapshotMeta};

/// Bytes reserved for the two slots at the start of a segment.
pub(crate) const SLOTS: usize = 2 * SLOT;
const SLOT: usize = 64;
const MAGIC: &[u8; 8] = b"FLACKED1";
const BODY: usize = MAGIC.len() + 5 * 8;
const UNKNOWN: u64 = u64::MAX;

/// One record: the durable log end and hard state at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Acked {
    /// The log's last index and its term (the snapshot's when no entry
    /// follows); `None`: unknown (the node restarted without knowing how
    /// far it had acknowledged and has not recovered yet).
    pub(crate) last: Option<SnapshotMeta>,
    /// The term and vote then (the commit index is not kept).
    pub(crate) hard_state: HardState,
}

/// What the newest segment's slots held at recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    /// No record: a new data directory, or one written before it existed.
    Missing,
    /// Both slots damaged: what was acknowledged is unknown.
    Damaged(String),
    /// The newest intact record, with its sequence number, and the record
    /// before it when its slot is intact too: that one was made durable by
    /// an earlier fdatasync, so a log that lacks its end lost data for
    /// certain, while a log lacking only the newest record's end may have
    /// lost a write torn by a crash in the middle of that record's own sync.
    Intact {
        /// The newest record's sequence number.
        seq: u64,
        /// The newest record.
        newest: Acked,
        /// The record before it (sequence `seq - 1`), if intact.
        older: Option<Acked>,
    },
}

/// Whether a segment's bytes start with the slots (a segment written with
/// the acknowledgement record) rather than with its first record.
pub(crate) fn has_slots(data: &[u8]) -> bool {
    let magic = |at: usize| data.get(at..at + MAGIC.len()) == Some(MAGIC.as_slice());
    magic(0) || magic(SLOT)
}

/// The intact records in a segment's slots, with their sequence numbers.
pub(crate) fn read(data: &[u8]) -> Vec<(u64, Acked)> {
    data.chunks(SLOT).take(2).filter_map(decode).collect()
}

/// What the slots of a segment (its first [`SLOTS`] bytes) say; `None` when
/// neither is intact.
pub(crate) fn found(data: &[u8]) -> Option<Found> {
    let records = read(data);
    let &(seq, newest) = records.iter().max_by_key(|r| r.0)?;
    let older = records.iter().find(|r| r.0 + 1 == seq).map(|r| r.1);
    Some(Found::Intact { seq, newest, older })
}

/// The slot to write record number `seq` to: its offset and bytes.
pub(crate) fn slot(seq: u64, a: &Acked) -> (u64, [u8; SLOT]) {
    let mut out = [0u8; SLOT];
    out[..MAGIC.len()].copy_from_slice(MAGIC);
    let (index, index_term) = a.last.map_or((UNKNOWN, 0), |m| (m.index, m.term));
    let fields = [
        seq,
        a.hard_state.term,
        a.hard_state.vote.unwrap_or(0),
        index,
        index_term,
    ];
    for (i, v) in fields.iter().enumerate() {
        let at = MAGIC.len() + i * 8;
        out[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
    let crc = crc32fast::hash(&out[..BODY]);
    out[BODY..BODY + 4].copy_from_slice(&crc.to_le_bytes());
    ((seq % 2) * SLOT as u64, out)
}

fn decode(slot: &[u8]) -> Option<(u64, Acked)> {
    if slot.len() < BODY + 4 || &slot[..MAGIC.len()] != MAGIC {
        return None;
    }
    let crc = u32::from_le_bytes(slot[BODY..BODY + 4].try_into().ok()?);
    if crc32fast::hash(&slot[..BODY]) != crc {
        return None;
    }
    let field = |i: usize| {
        let at = MAGIC.len() + i * 8;
        u64::from_le_bytes(slot[at..at + 8].try_into().expect("8 bytes"))
    };
    let (vote, index) = (field(2), field(3));
    Some((
        field(0),
        Acked {
            last: (index != UNKNOWN).then_some(SnapshotMeta {
                index,
                term: field(4),
            }),
            hard_state: HardState {
                term: field(1),
                vote: (vote != 0).then_some(vote),
                commit: 0,
            },
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acked(index: u64, term: u64, vote: Option<u64>) -> Acked {
        Acked {
            last: Some(SnapshotMeta { index, term }),
            hard_state: HardState {
                term,
                vote,
                commit: 0,
            },
        }
    }

    fn write(data: &mut [u8], seq: u64, a: &Acked) {
        let (at, bytes) = slot(seq, a);
        data[at as usize..at as usize + SLOT].copy_from_slice(&bytes);
    }

    fn newest(data: &[u8]) -> Option<(u64, Acked)> {
        read(data).into_iter().max_by_key(|s| s.0)
    }

    #[test]
    fn the_newer_intact_slot_wins_and_a_damaged_one_falls_back() {
        let mut data = vec![0u8; SLOTS];
        assert!(!has_slots(&data));
        write(&mut data, 1, &acked(5, 2, Some(1)));
        write(&mut data, 2, &acked(9, 3, None));
        assert!(has_slots(&data));
        assert_eq!(newest(&data), Some((2, acked(9, 3, None))));
        // Damage the newer slot (seq 2, slot 0): the older one is used.
        data[20] ^= 1;
        assert_eq!(newest(&data), Some((1, acked(5, 2, Some(1)))));
        assert!(has_slots(&data));
        data[SLOT + 20] ^= 1;
        assert_eq!(newest(&data), None);
        let unknown = Acked {
            last: None,
            ..acked(0, 4, Some(2))
        };
        write(&mut data, 3, &unknown);
        assert_eq!(newest(&data), Some((3, unknown)));
    }
}

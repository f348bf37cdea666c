//! One WAL record: its framing on disk and the kinds of bodies.
//!
//! ```text
//! +-----------+-------------+---------------+------------------+
//! | len: u32  | crc: u32    | hcrc: u32     | body: len bytes  |
//! +-----------+-------------+---------------+------------------+
//!   little endian; crc = crc32(body); hcrc = crc32(first 8 bytes)
//! ```
//!
//! The header checksum lets a reader tell a damaged length (corruption) from
//! a length that runs past the end of the file (a torn write). The body is a
//! [`Record`] in bincode (varint integers).

use bincode::Options;
use serde::{Deserialize, Serialize};

use crate::raft::{Entry, HardState, SnapshotMeta};

/// Bytes of framing before each body.
pub(crate) const HEADER_LEN: usize = 12;

/// A decoded record body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename = "Record")]
pub(crate) enum Record {
    /// The first record of every segment: the state at the moment the
    /// segment was started, so that older segments can be deleted.
    Header {
        /// The hard state then.
        hard_state: HardState,
        /// The snapshot the log started after then (the snapshot file must be
        /// at least this new).
        snapshot: SnapshotMeta,
    },
    /// Contiguous entries; they overwrite the log from their first index.
    Entries(Vec<Entry>),
    /// A new hard state.
    HardState(HardState),
    /// A snapshot received from the leader: it replaces the whole log so far.
    Snapshot(SnapshotMeta),
}

/// The same bodies as [`Record`], borrowed, for encoding without copying
/// entries. The variant order must match [`Record`].
#[derive(Debug, Serialize)]
#[serde(rename = "Record")]
pub(crate) enum RecordRef<'a> {
    /// See [`Record::Header`].
    Header {
        /// The hard state when the segment starts.
        hard_state: &'a HardState,
        /// The snapshot the log starts after.
        snapshot: &'a SnapshotMeta,
    },
    /// See [`Record::Entries`].
    Entries(&'a [Entry]),
    /// See [`Record::HardState`].
    HardState(&'a HardState),
    /// See [`Record::Snapshot`].
    Snapshot(&'a SnapshotMeta),
}

fn codec() -> impl Options {
    bincode::DefaultOptions::new()
}

/// Appends one framed record to `buf`. On error `buf` is left as it was.
pub(crate) fn encode(buf: &mut Vec<u8>, record: &RecordRef<'_>) -> Result<(), bincode::Error> {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER_LEN]);
    if let Err(e) = codec().serialize_into(&mut *buf, record) {
        buf.truncate(start);
        return Err(e);
    }
    let Ok(len) = u32::try_from(buf.len() - start - HEADER_LEN) else {
        buf.truncate(start);
        return Err(Box::new(bincode::ErrorKind::SizeLimit));
    };
    let crc = crc32fast::hash(&buf[start + HEADER_LEN..]);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    let hcrc = crc32fast::hash(&buf[start..start + 8]);
    buf[start + 8..start + 12].copy_from_slice(&hcrc.to_le_bytes());
    Ok(())
}

/// Decodes a body whose checksum matched.
pub(crate) fn decode(body: &[u8]) -> Result<Record, bincode::Error> {
    codec().deserialize(body)
}

/// What the bytes at some offset of a segment hold.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    /// A whole record whose checksums match; the next one starts at `next`.
    Record {
        /// The record's bincode body, checksums verified, for [`decode`].
        body: &'a [u8],
        /// The offset just past it.
        next: usize,
    },
    /// Fewer bytes left than a header.
    ShortHeader,
    /// The header checksum does not match.
    BadHeader,
    /// The header is fine but the body runs past the end of the data.
    PastEnd {
        /// The body length the header announces.
        len: usize,
    },
    /// The body checksum does not match; the record would end at `end`.
    BadBody {
        /// The offset just past the record.
        end: usize,
    },
}

/// Reads the frame at `offset` of `data` (`offset < data.len()`).
pub(crate) fn frame_at(data: &[u8], offset: usize) -> Frame<'_> {
    let rest = &data[offset..];
    if rest.len() < HEADER_LEN {
        return Frame::ShortHeader;
    }
    let word = |i: usize| u32::from_le_bytes([rest[i], rest[i + 1], rest[i + 2], rest[i + 3]]);
    if crc32fast::hash(&rest[..8]) != word(8) {
        return Frame::BadHeader;
    }
    let len = word(0) as usize;
    if rest.len() - HEADER_LEN < len {
        return Frame::PastEnd { len };
    }
    let body = &rest[HEADER_LEN..HEADER_LEN + len];
    let end = offset + HEADER_LEN + len;
    if crc32fast::hash(body) != word(4) {
        return Frame::BadBody { end };
    }
    Frame::Record { body, next: end }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<Entry> {
        vec![
            Entry {
                term: 3,
                index: 7,
                data: b"x=1".to_vec(),
            },
            Entry {
                term: 3,
                index: 8,
                data: Vec::new(),
            },
        ]
    }

    #[test]
    fn every_kind_round_trips_through_the_borrowed_encoding() {
        let hs = HardState {
            term: 9,
            vote: Some(2),
            commit: 5,
        };
        let meta = SnapshotMeta { index: 4, term: 2 };
        let entries = entries();
        let cases = [
            (
                RecordRef::Header {
                    hard_state: &hs,
                    snapshot: &meta,
                },
                Record::Header {
                    hard_state: hs,
                    snapshot: meta,
                },
            ),
            (
                RecordRef::Entries(&entries),
                Record::Entries(entries.clone()),
            ),
            (RecordRef::HardState(&hs), Record::HardState(hs)),
            (RecordRef::Snapshot(&meta), Record::Snapshot(meta)),
        ];
        let mut buf = Vec::new();
        for (r, _) in &cases {
            encode(&mut buf, r).unwrap();
        }
        let mut offset = 0;
        for (_, want) in cases {
            let Frame::Record { body, next } = frame_at(&buf, offset) else {
                panic!("no record at {offset}");
            };
            assert_eq!(decode(body).unwrap(), want);
            offset = next;
        }
        assert_eq!(offset, buf.len());
    }

    #[test]
    fn damage_is_classified() {
        let entries = entries();
        let mut buf = Vec::new();
        encode(&mut buf, &RecordRef::Entries(&entries)).unwrap();
        let whole = buf.len();
        assert_eq!(frame_at(&buf[..HEADER_LEN - 1], 0), Frame::ShortHeader);
        assert!(matches!(
            frame_at(&buf[..whole - 1], 0),
            Frame::PastEnd { .. }
        ));
        let mut flipped = buf.clone();
        flipped[whole - 1] ^= 0x40;
        assert_eq!(frame_at(&flipped, 0), Frame::BadBody { end: whole });
        let mut flipped = buf.clone();
        flipped[1] ^= 0x01;
        assert_eq!(frame_at(&flipped, 0), Frame::BadHeader);
    }

    #[test]
    fn a_checksummed_but_meaningless_body_does_not_decode() {
        // Frame a body with an unknown variant tag and valid checksums.
        let body = [200u8, 1, 2];
        let mut framed = Vec::new();
        framed.extend_from_slice(&(body.len() as u32).to_le_bytes());
        framed.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        let hcrc = crc32fast::hash(&framed[..8]);
        framed.extend_from_slice(&hcrc.to_le_bytes());
        framed.extend_from_slice(&body);
        let Frame::Record { body, .. } = frame_at(&framed, 0) else {
            panic!("framing rejected");
        };
        assert!(decode(body).is_err());
    }
}

//! One server's own copy of a stream, read from its message block files
//! (`<store_dir>/jetstream/$G/streams/<stream>/msgs/<n>.blk`). The client
//! API cannot ask one replica for its messages (a consumer reads through
//! the stream leader; a direct get is answered by whichever replica the
//! server picks), so after a run the harness reads each node's files to
//! say which node lacks which elements (a split stream, nats-server#7567).
//!
//! A block is a sequence of message records, each (little-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 4 | record length, the whole record; bit 31 set when it has headers |
//! | 8 | sequence; bit 63 set: erased, bit 62: a tombstone (neither is a message) |
//! | 8 | timestamp, nanoseconds |
//! | 2 | subject length |
//! | s | subject |
//! | 4 + h | when bit 31: the headers' length, then the headers |
//! | m | payload |
//! | 8 | checksum |
//!
//! Records are read by their structure: the checksum (a keyed hash whose
//! key is the server's) is not verified, so a payload damaged in place is
//! read as the bytes it now holds. Reading stops at the first record that
//! cannot be one (a length that is too short or runs past the file, as a
//! torn or zero-filled tail leaves), and says where. Compressed or
//! encrypted stores (not what the harness configures) are not read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Bit 31 of the record length: the record has headers.
const HEADERS_BIT: u32 = 1 << 31;
/// Bit 63 of the sequence: the message was erased.
const ERASED_BIT: u64 = 1 << 63;
/// Bit 62 of the sequence: the record is a tombstone.
const TOMBSTONE_BIT: u64 = 1 << 62;
/// Length, sequence, timestamp and subject length.
const HEADER_SIZE: usize = 22;
/// The checksum that ends a record.
const CHECKSUM_SIZE: usize = 8;

/// One message of a stream, as a block holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its stream sequence.
    pub seq: u64,
    /// Its subject.
    pub subject: String,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// What one server's files hold of a stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamCopy {
    /// Every message, by sequence (a later record of a sequence replaces
    /// an earlier one).
    pub messages: BTreeMap<u64, Record>,
    /// Where reading stopped before the end of a file: the file and the
    /// offset of the first record that could not be one.
    pub stopped: Vec<(PathBuf, usize)>,
}

/// The folder of `stream`'s message blocks under a server's `store_dir`
/// (global account).
pub fn msgs_dir(store_dir: &Path, stream: &str) -> PathBuf {
    store_dir
        .join("jetstream")
        .join("$G")
        .join("streams")
        .join(stream)
        .join("msgs")
}

/// Reads every block of `stream` in `store_dir`, in block order. No
/// folder (the server holds no copy): an empty copy. Err names the file
/// that could not be listed or read.
pub fn read_stream(store_dir: &Path, stream: &str) -> Result<StreamCopy, String> {
    let dir = msgs_dir(store_dir, stream);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StreamCopy::default()),
        Err(e) => return Err(format!("listing {}: {e}", dir.display())),
    };
    let mut blocks: Vec<(u64, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            let n = path
                .file_name()?
                .to_str()?
                .strip_suffix(".blk")?
                .parse()
                .ok()?;
            Some((n, path))
        })
        .collect();
    blocks.sort();
    let mut copy = StreamCopy::default();
    for (_, path) in blocks {
        let bytes = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let (records, stopped) = parse_block(&bytes);
        for r in records {
            copy.messages.insert(r.seq, r);
        }
        if let Some(offset) = stopped {
            copy.stopped.push((path, offset));
        }
    }
    Ok(copy)
}

/// The messages of one block's bytes, and the offset where reading
/// stopped if it did not reach the end.
pub fn parse_block(bytes: &[u8]) -> (Vec<Record>, Option<usize>) {
    let mut records = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match parse_record(&bytes[at..]) {
            Some((len, record)) => {
                records.extend(record);
                at += len;
            }
            None => return (records, Some(at)),
        }
    }
    (records, None)
}

/// The record at the start of `bytes`: its length, and the message (None
/// for an erased message or a tombstone). None when it cannot be a record.
fn parse_record(bytes: &[u8]) -> Option<(usize, Option<Record>)> {
    let word = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?);
    let len = (word & !HEADERS_BIT) as usize;
    if len < HEADER_SIZE + CHECKSUM_SIZE || len > bytes.len() {
        return None;
    }
    let record = &bytes[..len];
    let seq = u64::from_le_bytes(record[4..12].try_into().ok()?);
    let subject_len = u16::from_le_bytes(record[20..22].try_into().ok()?) as usize;
    let body_end = len - CHECKSUM_SIZE;
    let mut at = HEADER_SIZE + subject_len;
    if at > body_end {
        return None;
    }
    let subject = String::from_utf8_lossy(&record[HEADER_SIZE..at]).into_owned();
    if word & HEADERS_BIT != 0 {
        let headers_len = u32::from_le_bytes(record.get(at..at + 4)?.try_into().ok()?) as usize;
        at += 4 + headers_len;
        if at > body_end {
            return None;
        }
    }
    if seq & (ERASED_BIT | TOMBSTONE_BIT) != 0 || seq == 0 {
        return Some((len, None));
    }
    Some((
        len,
        Some(Record {
            seq,
            subject,
            payload: record[at..body_end].to_vec(),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as nats-server writes one (the checksum is not verified,
    /// so any 8 bytes do).
    fn record(seq: u64, subject: &str, headers: Option<&[u8]>, payload: &[u8]) -> Vec<u8> {
        let hlen = headers.map_or(0, |h| 4 + h.len());
        let len = HEADER_SIZE + subject.len() + hlen + payload.len() + CHECKSUM_SIZE;
        let word = len as u32 | if headers.is_some() { HEADERS_BIT } else { 0 };
        let mut r = word.to_le_bytes().to_vec();
        r.extend(seq.to_le_bytes());
        r.extend(1_700_000_000_000_000_000u64.to_le_bytes());
        r.extend((subject.len() as u16).to_le_bytes());
        r.extend(subject.as_bytes());
        if let Some(h) = headers {
            r.extend((h.len() as u32).to_le_bytes());
            r.extend(h);
        }
        r.extend(payload);
        r.extend([0xab; CHECKSUM_SIZE]);
        r
    }

    #[test]
    fn records_with_and_without_headers_are_read_and_erased_ones_skipped() {
        let mut block = record(1, "faultline.set.set", None, b"8");
        block.extend(record(
            2,
            "faultline.set.set",
            Some(b"NATS/1.0\r\n\r\n"),
            b"12",
        ));
        block.extend(record(3 | ERASED_BIT, "faultline.set.set", None, b"5"));
        block.extend(record(4 | TOMBSTONE_BIT, "", None, b""));
        let (records, stopped) = parse_block(&block);
        assert_eq!(stopped, None);
        let read: Vec<(u64, &str, &[u8])> = records
            .iter()
            .map(|r| (r.seq, r.subject.as_str(), r.payload.as_slice()))
            .collect();
        assert_eq!(
            read,
            vec![
                (1, "faultline.set.set", &b"8"[..]),
                (2, "faultline.set.set", &b"12"[..])
            ]
        );
    }

    #[test]
    fn reading_stops_at_a_torn_or_zero_filled_tail_and_says_where() {
        let first = record(1, "s", None, b"1");
        let second = record(2, "s", None, b"2");
        let mut torn = first.clone();
        torn.extend(&second[..second.len() - 3]);
        let (records, stopped) = parse_block(&torn);
        assert_eq!(records.len(), 1);
        assert_eq!(stopped, Some(first.len()));

        let mut zeros = first.clone();
        zeros.extend([0u8; 64]);
        let (records, stopped) = parse_block(&zeros);
        assert_eq!(records.len(), 1);
        assert_eq!(stopped, Some(first.len()));

        // A subject longer than its record cannot be one.
        let mut bad = record(3, "abc", None, b"");
        bad[20] = 200;
        assert_eq!(parse_block(&bad), (Vec::new(), Some(0)));
    }

    #[test]
    fn a_stream_is_read_across_its_blocks_in_block_order() {
        let store = tempfile::tempdir().unwrap();
        assert_eq!(
            read_stream(store.path(), "faultline-set").unwrap(),
            StreamCopy::default()
        );
        let dir = msgs_dir(store.path(), "faultline-set");
        std::fs::create_dir_all(&dir).unwrap();
        let mut b2 = record(3, "s", None, b"30");
        b2.extend([0u8; 5]);
        std::fs::write(dir.join("2.blk"), &b2).unwrap();
        let mut b10 = record(4, "s", None, b"40");
        b10.extend(record(3, "s", None, b"31"));
        std::fs::write(dir.join("10.blk"), b10).unwrap();
        let mut b1 = record(1, "s", None, b"10");
        b1.extend(record(2, "s", None, b"20"));
        std::fs::write(dir.join("1.blk"), b1).unwrap();
        std::fs::write(dir.join("index.db"), b"not a block").unwrap();
        let copy = read_stream(store.path(), "faultline-set").unwrap();
        let payloads: Vec<(u64, &[u8])> = copy
            .messages
            .values()
            .map(|r| (r.seq, r.payload.as_slice()))
            .collect();
        // Block 10 comes after block 2: its record of sequence 3 wins.
        assert_eq!(
            payloads,
            vec![
                (1, &b"10"[..]),
                (2, &b"20"[..]),
                (3, &b"31"[..]),
                (4, &b"40"[..])
            ]
        );
        assert_eq!(copy.stopped, vec![(dir.join("2.blk"), b2.len() - 5)]);
    }
}

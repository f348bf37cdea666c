//! The search's cache of configurations seen (Lowe's memoisation), and the
//! memory budget every search of a check shares.
//!
//! A configuration is its linearized set (stored as two windows, see
//! [`crate::linset`]) and the model state. Entries sit in an open-addressing
//! table keyed by a Zobrist hash of the set mixed with the state's hash; the
//! sets' words sit in fixed-size chunks beside it, so growing never copies
//! them. Full sets and states are compared on a hash match: the cache never
//! answers "seen" for a configuration it has not seen.
//!
//! Memory: every byte a search allocates (its cache table, chunks and its
//! per-operation arrays) is charged to a [`Memory`] shared by the searches
//! of a check before it is allocated. A cache that cannot grow within the
//! limit is cleared and reuses what it holds; the cache only prunes, so the
//! answer stays exact and only time can give `unknown`.

use std::sync::atomic::{AtomicUsize, Ordering};

use hashbrown::HashTable;

use crate::linset::{WindowedBits, Windows};

/// Words in the first chunk of stored sets (8 KiB); each further chunk is
/// twice the size of the one before, up to [`CHUNK_WORDS`].
const FIRST_CHUNK_WORDS: usize = 1 << 10;
/// Words in the largest chunks (512 KiB).
const CHUNK_WORDS: usize = 1 << 16;

/// A cache may always hold this much, even when the shared limit is
/// reached, so that every search keeps some memoisation.
pub(crate) const FLOOR_BYTES: usize = 64 << 10;

/// The memory limit of a check, shared by all its searches.
#[derive(Debug, Clone, Copy)]
pub struct Memory<'a> {
    /// Bytes all searches together may hold.
    pub limit: usize,
    /// Bytes they hold now (None: this search is alone).
    pub in_use: Option<&'a AtomicUsize>,
}

impl Memory<'_> {
    /// Takes `bytes` if the total stays within the limit, or unconditionally
    /// when `force`; `held` is what the caller holds when it is alone.
    fn charge(&self, bytes: usize, held: usize, force: bool) -> bool {
        match self.in_use {
            Some(in_use) => {
                let before = in_use.fetch_add(bytes, Ordering::Relaxed);
                if force || before + bytes <= self.limit {
                    return true;
                }
                in_use.fetch_sub(bytes, Ordering::Relaxed);
                false
            }
            None => force || held + bytes <= self.limit,
        }
    }

    fn refund(&self, bytes: usize) {
        if let Some(in_use) = self.in_use {
            in_use.fetch_sub(bytes, Ordering::Relaxed);
        }
    }

    /// Charges memory a search cannot do without (its per-operation arrays).
    pub(crate) fn force(&self, bytes: usize) {
        self.charge(bytes, 0, true);
    }

    /// Gives back memory charged with [`Memory::force`].
    pub(crate) fn give_back(&self, bytes: usize) {
        self.refund(bytes);
    }
}

struct Entry<S> {
    hash: u64,
    chunk: u32,
    off: u32,
    state: S,
}

/// A configuration as the cache looks it up.
pub(crate) struct Config<'a, S> {
    /// Hash of the set mixed with the state's hash.
    pub(crate) hash: u64,
    /// The model state.
    pub(crate) state: &'a S,
    /// The set's windows.
    pub(crate) windows: Windows,
    /// The required operations placed.
    pub(crate) req: &'a WindowedBits,
    /// The `info` operations placed.
    pub(crate) info: &'a WindowedBits,
}

/// One search's cache.
pub(crate) struct Cache<S> {
    table: HashTable<Entry<S>>,
    chunks: Vec<Vec<u64>>,
    /// The chunk being filled.
    current: usize,
    /// Bytes charged for the table and the chunks.
    held: usize,
    /// Times it was cleared to stay within the limit.
    pub(crate) resets: u32,
}

fn table_bytes<S>(capacity: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 8 {
        (capacity + 1).next_power_of_two()
    } else {
        (capacity * 8 / 7).next_power_of_two()
    };
    buckets * (std::mem::size_of::<Entry<S>>() + 1) + 16
}

impl<S: Clone + Eq> Cache<S> {
    /// An empty cache holding nothing.
    pub(crate) fn new() -> Self {
        Cache {
            table: HashTable::new(),
            chunks: Vec::new(),
            current: 0,
            held: 0,
            resets: 0,
        }
    }

    /// Configurations held.
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    fn words(&self, e: &Entry<S>) -> &[u64] {
        let chunk = &self.chunks[e.chunk as usize];
        let off = e.off as usize;
        let header = [chunk[off], chunk[off + 1]];
        let len = (header[0] >> 32) as usize + (header[1] >> 32) as usize;
        &chunk[off..off + 2 + len]
    }

    fn matches(&self, e: &Entry<S>, c: &Config<'_, S>, subsume: bool) -> bool {
        if e.hash != c.hash || e.state != *c.state {
            return false;
        }
        let stored = self.words(e);
        let header = c.windows.header();
        if stored[0] != header[0] || (!subsume && stored[1] != header[1]) {
            return false;
        }
        let (rlo, rhi) = c.windows.req;
        let split = 2 + (rhi - rlo);
        if stored[2..split] != *c.req.words(rlo, rhi) {
            return false;
        }
        let (ilo, ihi) = c.windows.info;
        if !subsume {
            return stored[split..] == *c.info.words(ilo, ihi);
        }
        // Every `info` operation placed in the stored configuration is
        // placed in this one.
        let slo = (stored[1] & 0xFFFF_FFFF) as usize;
        let current = c.info.words(ilo, ihi);
        stored[split..].iter().enumerate().all(|(k, &w)| {
            let at = slo + k;
            let have = if (ilo..ihi).contains(&at) {
                current[at - ilo]
            } else {
                0
            };
            w & !have == 0
        })
    }

    /// Whether the configuration was seen. With `subsume`, also whether a
    /// configuration with the same required set and state and a subset of
    /// its `info` operations placed was seen: the hash must then leave the
    /// `info` operations out.
    pub(crate) fn contains(&self, c: &Config<'_, S>, subsume: bool) -> bool {
        self.table
            .find(c.hash, |e| self.matches(e, c, subsume))
            .is_some()
    }

    /// Remembers the configuration, clearing the cache first when it could
    /// not grow within `memory`; skips it when even an empty cache has no
    /// room. Returns whether it was remembered.
    pub(crate) fn insert(&mut self, c: &Config<'_, S>, memory: &Memory<'_>) -> bool {
        let words = c.windows.record_words();
        if !self.make_room(words, memory) {
            self.clear();
            if !self.make_room(words, memory) {
                return false;
            }
        }
        let chunk = &mut self.chunks[self.current];
        let off = chunk.len();
        chunk.extend_from_slice(&c.windows.header());
        let (rlo, rhi) = c.windows.req;
        let (ilo, ihi) = c.windows.info;
        chunk.extend_from_slice(c.req.words(rlo, rhi));
        chunk.extend_from_slice(c.info.words(ilo, ihi));
        let entry = Entry {
            hash: c.hash,
            chunk: self.current as u32,
            off: off as u32,
            state: c.state.clone(),
        };
        self.table.insert_unique(c.hash, entry, |e| e.hash);
        true
    }

    /// Makes sure one more entry of `words` words fits without allocating
    /// beyond what `memory` allows.
    fn make_room(&mut self, words: usize, memory: &Memory<'_>) -> bool {
        let floor = self.held < FLOOR_BYTES;
        if self.table.len() == self.table.capacity() {
            let old = table_bytes::<S>(self.table.capacity());
            let want = (self.table.capacity() * 2).max(64);
            let new = table_bytes::<S>(want);
            // Old and new tables coexist while it grows.
            if !memory.charge(new, self.held, floor) {
                return false;
            }
            self.table.reserve(want - self.table.len(), |e| e.hash);
            let actual = table_bytes::<S>(self.table.capacity());
            memory.charge(actual.saturating_sub(new), 0, true);
            memory.refund(new.saturating_sub(actual) + old);
            self.held = self.held + actual - old;
        }
        loop {
            match self.chunks.get(self.current) {
                Some(chunk) if chunk.capacity() - chunk.len() >= words => return true,
                Some(chunk) if chunk.is_empty() => {
                    // A reused chunk too small for an outsized record.
                    let bytes = chunk.capacity() * 8;
                    memory.refund(bytes);
                    self.held -= bytes;
                    self.chunks[self.current] = Vec::new();
                    return self.add_chunk(words, memory, floor, Some(self.current));
                }
                Some(_) if self.current + 1 < self.chunks.len() => self.current += 1,
                Some(_) => {
                    self.current += 1;
                    return self.add_chunk(words, memory, floor, None);
                }
                None => return self.add_chunk(words, memory, floor, None),
            }
        }
    }

    fn add_chunk(
        &mut self,
        words: usize,
        memory: &Memory<'_>,
        floor: bool,
        at: Option<usize>,
    ) -> bool {
        let grown = FIRST_CHUNK_WORDS << self.chunks.len().min(6);
        let size = words.max(grown.min(CHUNK_WORDS));
        if !memory.charge(size * 8, self.held, floor) {
            return false;
        }
        self.held += size * 8;
        match at {
            Some(i) => self.chunks[i] = Vec::with_capacity(size),
            None => self.chunks.push(Vec::with_capacity(size)),
        }
        true
    }

    /// Forgets every configuration, keeping the memory for reuse.
    fn clear(&mut self) {
        self.table.clear();
        for chunk in &mut self.chunks {
            chunk.clear();
        }
        self.current = 0;
        self.resets += 1;
    }

    /// Frees everything and gives the bytes back.
    pub(crate) fn release(&mut self, memory: &Memory<'_>) {
        memory.refund(self.held);
        *self = Cache {
            resets: self.resets,
            ..Cache::new()
        };
    }
}

//! A node's simulated disk: what a crash keeps. Under `no-fsync` writes land in
//! a volatile copy that only reaches the durable one at periodic write-back,
//! and a crash loses whatever was not written back. Disk damage
//! ([`Storage::damage_tail`]) cuts entries off the end of the log while the
//! acknowledgement record (`acked`, as the node's `acked` file) keeps what
//! was made durable, so a restart reports the loss as the real storage does.

use faultline_node::raft::{
    Entry, HardState, Index, Ready, Recovery, Restored, Snapshot, SnapshotMeta, Term,
};

/// The persisted state of one node.
#[derive(Debug, Clone, Default)]
pub struct Disk {
    pub hard_state: HardState,
    pub snapshot: Option<Snapshot>,
    /// Entries after the snapshot.
    pub entries: Vec<Entry>,
    /// The acknowledgement record: the last index and term made durable.
    pub acked: SnapshotMeta,
    /// While the node recovers lost entries the record keeps its claim
    /// instead of following the shortened log.
    pub claim_held: bool,
}

impl Disk {
    pub fn snapshot_meta(&self) -> SnapshotMeta {
        self.snapshot.as_ref().map(|s| s.meta).unwrap_or_default()
    }

    pub fn last_index(&self) -> Index {
        self.snapshot_meta().index + self.entries.len() as Index
    }

    /// The term at `index`, if held.
    pub fn term(&self, index: Index) -> Option<Term> {
        let meta = self.snapshot_meta();
        if index == meta.index {
            return Some(meta.term);
        }
        if index < meta.index || index > self.last_index() {
            return None;
        }
        Some(self.entries[(index - meta.index - 1) as usize].term)
    }

    /// The entry at `index`, if held.
    pub fn entry(&self, index: Index) -> Option<&Entry> {
        let meta = self.snapshot_meta();
        if index <= meta.index || index > self.last_index() {
            return None;
        }
        Some(&self.entries[(index - meta.index - 1) as usize])
    }

    /// Makes a Ready durable: the snapshot replaces the log, entries truncate
    /// any conflicting suffix, then the hard state.
    pub fn persist(&mut self, rd: &Ready) {
        if let Some(s) = &rd.snapshot {
            self.snapshot = Some(s.clone());
            self.entries.clear();
        }
        if let Some(first) = rd.entries.first() {
            let meta = self.snapshot_meta();
            assert!(
                first.index > meta.index && first.index <= self.last_index() + 1,
                "Ready entries from {} do not follow the log (snapshot {}, last {})",
                first.index,
                meta.index,
                self.last_index()
            );
            self.entries
                .truncate((first.index - meta.index - 1) as usize);
            self.entries.extend(rd.entries.iter().cloned());
        }
        if let Some(hs) = rd.hard_state {
            self.hard_state = hs;
        }
        if !self.claim_held && (rd.snapshot.is_some() || !rd.entries.is_empty()) {
            let index = self.last_index();
            self.acked = SnapshotMeta {
                index,
                term: self.term(index).expect("the last entry"),
            };
        }
    }

    /// The application compacted the log up to `index` into `data`.
    pub fn compact(&mut self, index: Index, data: Vec<u8>) {
        let meta = self.snapshot_meta();
        let Some(term) = self.term(index) else {
            return;
        };
        if index <= meta.index {
            return;
        }
        self.entries.drain(..(index - meta.index) as usize);
        self.snapshot = Some(Snapshot {
            meta: SnapshotMeta { index, term },
            data,
        });
    }

    pub fn restored(&self) -> Restored {
        let acked = self.acked;
        // Entries the snapshot covers were committed: whatever this node
        // acknowledged at those indexes is either in it or was never committed.
        let lost =
            acked.index > self.snapshot_meta().index && self.term(acked.index) != Some(acked.term);
        Restored {
            hard_state: self.hard_state,
            snapshot: self.snapshot.clone(),
            entries: self.entries.clone(),
            recovery: lost.then(|| Recovery {
                acked: Some(acked),
                ambiguous: false,
                damage: format!(
                    "simulated damage: acknowledged through index {} (term {}): entries {}..={} are missing",
                    acked.index,
                    acked.term,
                    self.last_index() + 1,
                    acked.index
                ),
            }),
        }
    }
}

/// The disk as the node writes it, and what survives a crash.
#[derive(Debug, Default)]
pub struct Storage {
    /// What the node wrote (the page cache).
    pub live: Disk,
    /// What reached the platter; equals `live` unless `no_fsync`.
    durable: Option<Disk>,
}

impl Storage {
    pub fn new(no_fsync: bool) -> Self {
        Storage {
            live: Disk::default(),
            durable: no_fsync.then(Disk::default),
        }
    }

    /// Periodic write-back under `no-fsync`.
    pub fn write_back(&mut self) {
        if let Some(d) = &mut self.durable {
            *d = self.live.clone();
        }
    }

    /// Disk damage while the node is down: the last `count` entries after
    /// the snapshot are gone (a WAL tail cut off) and the hard state's
    /// commit index goes back with them. Returns how many went.
    pub fn damage_tail(&mut self, count: usize) -> usize {
        let mut cut = 0;
        for disk in std::iter::once(&mut self.live).chain(self.durable.as_mut()) {
            let n = count.min(disk.entries.len());
            disk.entries.truncate(disk.entries.len() - n);
            disk.hard_state.commit = disk.hard_state.commit.min(disk.last_index());
            cut = n;
        }
        cut
    }

    /// A damaged snapshot while the node is down: the real storage sets the
    /// snapshot and the log built on it aside and starts from an empty log
    /// (term and vote kept). Returns whether there was a snapshot to lose.
    pub fn damage_snapshot(&mut self) -> bool {
        let mut had = false;
        for disk in std::iter::once(&mut self.live).chain(self.durable.as_mut()) {
            had = disk.snapshot.take().is_some();
            disk.entries.clear();
            disk.hard_state.commit = 0;
        }
        had
    }

    /// The node restarted recovering (`held`) or left recovery: the
    /// acknowledgement record holds its claim or follows the log again.
    pub fn hold_claim(&mut self, held: bool) {
        for disk in std::iter::once(&mut self.live).chain(self.durable.as_mut()) {
            disk.claim_held = held;
        }
    }

    /// A crash: under `no-fsync` whatever was not written back is lost.
    pub fn crash(&mut self) {
        if let Some(d) = &self.durable {
            self.live = d.clone();
        }
    }
}

//! Applying committed entries and snapshots to the state machine, and what
//! that decides for the writes and reads waiting on them.

use crate::kv::{Applied, Command, KvStore};
use crate::raft::{Entry, Ready, Snapshot};

use super::requests::{PendingWrite, SplitRest, Stage};
use super::{Answer, Refusal, Replica, SnapshotError};

impl<W, R> Replica<W, R> {
    /// `ack-before-commit`: acknowledge blind writes once they are in the local log.
    pub(super) fn ack_appended(&mut self, rd: &Ready) {
        for e in &rd.entries {
            let early = matches!(self.writes.get(&e.index), Some(p) if p.term == e.term && p.blind);
            if early {
                let p = self.writes.remove(&e.index).expect("just seen");
                self.answers.push(Answer::Write {
                    id: p.id,
                    outcome: Ok(Applied::Done),
                });
            }
        }
    }

    /// A snapshot from the leader replaces the state machine.
    pub(super) fn install(&mut self, snapshot: Snapshot) -> Result<(), SnapshotError> {
        self.kv = KvStore::restore(&snapshot.data)?;
        self.digest.set(None);
        self.applied = snapshot.meta.index;
        self.applied_term = snapshot.meta.term;
        self.snapshot_index = snapshot.meta.index;
        // Writes the snapshot covers may or may not be in it (so may the
        // first half of a split transaction).
        let rest = self.writes.split_off(&(snapshot.meta.index + 1));
        for (_, p) in std::mem::replace(&mut self.writes, rest) {
            self.answers.push(Answer::Write {
                id: p.id,
                outcome: Err(Refusal::Unknown("superseded by a snapshot".into())),
            });
        }
        tracing::info!(
            index = snapshot.meta.index,
            "installed a snapshot from the leader"
        );
        Ok(())
    }

    pub(super) fn apply(&mut self, entry: Entry) {
        if entry.index <= self.applied {
            return;
        }
        let result = if entry.data.is_empty() {
            Applied::Done
        } else {
            match Command::decode(&entry.data) {
                Ok(cmd) => self.kv.apply(&cmd),
                Err(e) => {
                    tracing::error!(index = entry.index, error = %e, "undecodable command skipped");
                    Applied::Done
                }
            }
        };
        self.applied = entry.index;
        self.applied_term = entry.term;
        // Writes at or below this index are decided now.
        let rest = self.writes.split_off(&(entry.index + 1));
        for (index, p) in std::mem::replace(&mut self.writes, rest) {
            let outcome = if index == entry.index && p.term == entry.term {
                Ok(result.clone())
            } else {
                Err(Refusal::Lost)
            };
            self.decided(p, outcome);
        }
    }

    /// The entry of pending write `p` applied with `outcome` (or was lost):
    /// answer it, or (`txn-split`) go on with the rest of its transaction.
    fn decided(&mut self, p: PendingWrite<W>, outcome: Result<Applied, Refusal>) {
        let outcome = match (p.stage, outcome) {
            (Stage::Whole, outcome) => outcome,
            (Stage::First { rest }, Ok(Applied::Txn(first))) => {
                self.split_rests.push(SplitRest {
                    rest,
                    first,
                    id: p.id,
                });
                return;
            }
            // Nothing of it applied.
            (Stage::First { .. }, outcome) => outcome,
            (Stage::Second { mut first }, Ok(Applied::Txn(second))) => {
                first.extend(second);
                Ok(Applied::Txn(first))
            }
            (Stage::Second { .. }, _) => Err(Refusal::Unknown(
                "txn-split: the first half applied, the rest did not".into(),
            )),
        };
        self.answers.push(Answer::Write { id: p.id, outcome });
    }

    pub(super) fn serve_reads(&mut self) {
        if self.reads_ready.is_empty() {
            return;
        }
        let applied = self.applied;
        for (index, read) in std::mem::take(&mut self.reads_ready) {
            if index <= applied {
                let outcome = Ok(self.kv.get(&read.key).cloned());
                self.answers.push(Answer::Read {
                    id: read.id,
                    outcome,
                });
            } else {
                self.reads_ready.push((index, read));
            }
        }
    }
}

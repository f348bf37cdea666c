//! What a restart lost: the WAL and snapshot as recovered, set against the
//! acknowledgement record, decide whether the node must recover entries
//! from its peers before it votes again ([`Recovery`]).
//!
//! - A torn tail cut off the WAL is harmless when the log still reaches the
//!   acknowledged entry (that write was never acknowledged); otherwise the
//!   node had acknowledged entries it no longer holds.
//! - Damage before the end of the WAL, or a damaged or missing snapshot,
//!   always loses data; whether acknowledged data is gone is again decided
//!   by the acknowledgement record.
//! - Without an intact record (a data directory from before it existed, or
//!   both its slots damaged) any loss counts as a loss of acknowledged
//!   entries of unknown extent.
//!
//! The record's term and vote also repair the hard state when the WAL
//! records of a newer term or vote were lost.

use super::acked::{Acked, Found};
use super::wal::{Cut, Damaged};
use crate::raft::{Index, Recovery, Restored, SnapshotMeta, Term};

/// What recovery found wrong with the files.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    /// A torn tail cut off the WAL.
    pub(crate) cut: Option<Cut>,
    /// Damage before the end of the WAL.
    pub(crate) damaged: Option<Damaged>,
    /// A damaged or missing snapshot (the log built on it was set aside too).
    pub(crate) snapshot: Option<String>,
}

impl Findings {
    fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(s) = &self.snapshot {
            parts.push(s.clone());
        }
        if let Some(d) = &self.damaged {
            parts.push(format!(
                "damaged WAL record at offset {} of {} ({}), with intact records after it; \
                 the damaged segments were kept as {}",
                d.offset,
                d.file.display(),
                d.reason,
                d.kept
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(c) = &self.cut {
            parts.push(format!(
                "the WAL's last {} bytes from offset {} of {} were cut off (a torn write or damage)",
                c.bytes,
                c.offset,
                c.file.display()
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// The term of the entry at `index` in a restored log, if it holds one.
fn term_at(restored: &Restored, index: Index) -> Option<Term> {
    let snap = restored
        .snapshot
        .as_ref()
        .map(|s| s.meta)
        .unwrap_or_default();
    if index == snap.index {
        return Some(snap.term);
    }
    restored
        .entries
        .iter()
        .find(|e| e.index == index)
        .map(|e| e.term)
}

/// Whether a restored log still holds what a record says was durable: the
/// entry `index` of `term`, or a snapshot past it (entries a snapshot
/// covers were committed: what the node had acknowledged there is in it or
/// was never committed), or a log rewritten in a newer term after the
/// record (a newer leader's entries, written by a sync torn before its
/// record: that leader did not hold the entry, so it was never committed).
fn holds(restored: &Restored, index: Index, term: Term) -> bool {
    let snap = restored.snapshot.as_ref().map_or(0, |s| s.meta.index);
    index <= snap
        || term_at(restored, index) == Some(term)
        || super::replay::last_term(restored) > term
}

/// Sets `restored.recovery` (and repairs its term and vote) from what the
/// files showed and what the acknowledgement record says.
pub(crate) fn assess(restored: &mut Restored, found: &Found, findings: &Findings) {
    let last = super::replay::last_index(restored);
    let damage = findings.describe();
    match found {
        Found::Intact { newest, older, .. } => {
            let acked = newest;
            let hs = &mut restored.hard_state;
            let a = acked.hard_state;
            if a.term > hs.term || (a.term == hs.term && hs.vote.is_none() && a.vote.is_some()) {
                tracing::warn!(
                    wal_term = hs.term,
                    wal_vote = ?hs.vote,
                    term = a.term,
                    vote = ?a.vote,
                    "the WAL lost the newest term or vote: taking them from the acknowledgement record"
                );
                hs.term = a.term;
                hs.vote = a.vote;
            }
            let Some(SnapshotMeta { index, term }) = acked.last else {
                restored.recovery = Some(Recovery {
                    acked: None,
                    ambiguous: false,
                    damage: format!(
                        "{}: the node restarted before without knowing how far it had \
                         acknowledged and has not recovered since (its log ends at index {last})",
                        damage.unwrap_or_else(|| "an earlier restart found damage".to_string())
                    ),
                });
                return;
            };
            if holds(restored, index, term) {
                return;
            }
            // Only the newest record's own write is missing (the record
            // before it is held): a power loss in the middle of that sync
            // leaves the same state as damage to what it wrote.
            let ambiguous = findings.damaged.is_none()
                && findings.snapshot.is_none()
                && match older {
                    None => true,
                    Some(Acked { last: Some(m), .. }) => holds(restored, m.index, m.term),
                    Some(Acked { last: None, .. }) => false,
                };
            let what = damage.unwrap_or_else(|| "the WAL ends early".to_string());
            let missing = if last < index {
                format!("entries {}..={index} are missing", last + 1)
            } else {
                format!("the entry at index {index} is of another, older term")
            };
            let how = if ambiguous {
                " (only the last write's: lost to a crash during its sync or to damage)"
            } else {
                ""
            };
            restored.recovery = Some(Recovery {
                acked: acked.last,
                ambiguous,
                damage: format!(
                    "{what}: the node had acknowledged entries through index {index} (term {term}) \
                     but its log now ends at index {last}: {missing}{how}"
                ),
            });
        }
        Found::Missing | Found::Damaged(_) => {
            let record = match found {
                Found::Damaged(why) => why.clone(),
                _ => "no acknowledgement record".to_string(),
            };
            let damage = match (damage, found) {
                (Some(d), _) => d,
                (None, Found::Damaged(_)) => "the WAL may have lost its tail unnoticed".to_string(),
                (None, _) => return,
            };
            restored.recovery = Some(Recovery {
                acked: None,
                ambiguous: false,
                damage: format!(
                    "{damage}; {record}, so how far the node had acknowledged is unknown \
                     (its log ends at index {last})"
                ),
            });
        }
    }
}

//! Pairs transaction events into [`Txn`]s as they are read, whichever
//! format they came from (text lines or recorded events): one invocation,
//! at most one completion, the rules of docs/history.md.

use std::collections::HashMap;

use super::history::{Mop, MopKind, ReadValue, Txn, TxnHistory};
use crate::history::Outcome;

/// The kind of an event, as the builder sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Invoke,
    Ok,
    Fail,
    Info,
}

/// Builds a [`TxnHistory`] one event at a time. The caller parses an
/// event's micro-operations into [`Builder::scratch`] (list elements go
/// straight into the history's pool) and then calls [`Builder::push`].
#[derive(Debug, Default)]
pub(crate) struct Builder {
    pub(crate) h: TxnHistory,
    /// The micro-operations of the event being read.
    pub(crate) scratch: Vec<Mop>,
    /// process -> (transaction, line of its invocation)
    open: HashMap<u64, (usize, usize)>,
    /// process -> line of its info completion
    crashed: HashMap<u64, usize>,
    /// Events pushed so far, nemesis events included.
    events: u64,
}

impl Builder {
    /// Length of the element pool before an event's reads were parsed, so a
    /// discarded event can give its elements back.
    pub(crate) fn mark(&self) -> usize {
        self.h.elements.len()
    }

    /// Takes a nemesis event (counted for real-time positions, otherwise
    /// ignored).
    pub(crate) fn skip(&mut self, mark: usize) {
        self.events += 1;
        self.h.elements.truncate(mark);
        self.scratch.clear();
    }

    /// Takes a client event whose micro-operations are in `scratch`.
    pub(crate) fn push(
        &mut self,
        kind: Kind,
        process: u64,
        index: Option<u64>,
        time: Option<u64>,
        line: usize,
        mark: usize,
    ) -> Result<(), String> {
        let pos = self.events;
        self.events += 1;
        let index = index.unwrap_or(pos);
        let time = time.unwrap_or(pos);
        let result = match kind {
            Kind::Invoke => self.invoke(process, index, time, pos, line, mark),
            _ => self.complete(kind, process, index, time, pos, line, mark),
        };
        self.scratch.clear();
        result
    }

    fn invoke(
        &mut self,
        process: u64,
        index: u64,
        time: u64,
        pos: u64,
        line: usize,
        mark: usize,
    ) -> Result<(), String> {
        if let Some(&(_, open_line)) = self.open.get(&process) {
            return Err(format!(
                "process {process} invokes again while its invocation on line {open_line} is still open"
            ));
        }
        if let Some(&info_line) = self.crashed.get(&process) {
            return Err(format!(
                "process {process} invokes again after its info on line {info_line}; a process that got info must continue under a new number"
            ));
        }
        // What an invocation reads is not known yet.
        self.h.elements.truncate(mark);
        let mop_start = self.h.mops.len() as u32;
        self.h.mops.extend(self.scratch.iter().map(|m| Mop {
            read: ReadValue::Unknown,
            ..*m
        }));
        self.open.insert(process, (self.h.txns.len(), line));
        self.h.txns.push(Txn {
            process,
            outcome: Outcome::Info,
            invoke_index: index,
            complete_index: None,
            invoke_pos: pos,
            complete_pos: None,
            invoke_time: time,
            complete_time: None,
            line,
            mop_start,
            mop_len: self.scratch.len() as u32,
        });
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn complete(
        &mut self,
        kind: Kind,
        process: u64,
        index: u64,
        time: u64,
        pos: u64,
        line: usize,
        mark: usize,
    ) -> Result<(), String> {
        let Some((t, invoke_line)) = self.open.remove(&process) else {
            return Err(format!(
                "completion for process {process} without an open invocation"
            ));
        };
        let txn = &mut self.h.txns[t];
        match kind {
            Kind::Ok => {
                let start = txn.mop_start as usize;
                let len = txn.mop_len as usize;
                if self.scratch.len() != len {
                    return Err(format!(
                        "the completion has {} micro-operations, its invocation on line {invoke_line} has {len}",
                        self.scratch.len()
                    ));
                }
                for (i, (done, asked)) in self
                    .scratch
                    .iter()
                    .zip(&mut self.h.mops[start..start + len])
                    .enumerate()
                {
                    let same = done.kind == asked.kind
                        && done.key == asked.key
                        && (done.kind == MopKind::Read || done.arg == asked.arg);
                    if !same {
                        return Err(format!(
                            "micro-operation {} of the completion differs from its invocation on line {invoke_line}",
                            i + 1
                        ));
                    }
                    asked.read = done.read;
                }
                txn.outcome = Outcome::Ok;
                txn.complete_index = Some(index);
                txn.complete_pos = Some(pos);
                txn.complete_time = Some(time);
            }
            Kind::Fail => {
                self.h.elements.truncate(mark);
                txn.outcome = Outcome::Fail;
                txn.complete_index = Some(index);
                txn.complete_pos = Some(pos);
                txn.complete_time = Some(time);
            }
            Kind::Info | Kind::Invoke => {
                // What an unknown transaction read is not known either.
                self.h.elements.truncate(mark);
                self.crashed.insert(process, line);
            }
        }
        Ok(())
    }

    /// The history, once every event was pushed.
    pub(crate) fn finish(self) -> TxnHistory {
        self.h
    }
}

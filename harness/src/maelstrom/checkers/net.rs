//! `messages`: Maelstrom's network statistics of a run, from its message
//! journal: messages in all and between nodes, per client operation. Always
//! valid (it measures, it does not judge); the detail, a [`Traffic`], is
//! what the Maelstrom section of the report draws with the journal's
//! Lamport diagram.

use faultline_checker::Verdict;

use crate::checkers::{CheckContext, Checker, CheckerError, Judgement};
use crate::maelstrom::journal::JOURNAL_FILE;
use crate::maelstrom::report::{traffic, Traffic};

/// The kind of detail this checker writes: a [`Traffic`].
pub const KIND: &str = "maelstrom-net";

/// The messages checker.
#[derive(Debug, Clone, Copy)]
pub struct Messages;

/// The registered checker.
pub const MESSAGES: Messages = Messages;

impl Checker for Messages {
    fn name(&self) -> &'static str {
        "messages"
    }

    fn title(&self) -> String {
        "messages".into()
    }

    fn description(&self) -> &'static str {
        "Maelstrom's network: messages in all and between nodes, per operation (from messages.jsonl)"
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn check(&self, ctx: &CheckContext<'_>) -> Result<Judgement, CheckerError> {
        let found = ctx
            .run
            .dir
            .as_ref()
            .and_then(|d| traffic(&d.join(JOURNAL_FILE), ctx.events));
        Ok(match found {
            Some(t) => Judgement::new(Verdict::Valid, text(&t), &t),
            None => Judgement::new(
                Verdict::Valid,
                format!("valid: no message journal ({JOURNAL_FILE}) to count"),
                &serde_json::Value::Null,
            ),
        })
    }
}

/// The counts in one line.
fn text(t: &Traffic) -> String {
    format!(
        "valid: {} in all, {} between nodes; per operation: {:.2} in all, {:.2} between nodes",
        t.all, t.between_nodes, t.per_op_all, t.per_op_nodes
    )
}

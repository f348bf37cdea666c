//! How the router names a node that broke the protocol.

use serde::Serialize;

use super::SETUP_TIMEOUT;

/// What a broken node did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Breach {
    /// It did not answer `init` (or `topology`) in time.
    NoSetupReply(String),
    /// It answered `init` or `topology` with something else.
    BadSetupReply(String),
    /// A stdout line that is not a message.
    BadLine(String),
    /// An envelope whose `src` names no node and no client (its own id,
    /// another node's and a client's are all accepted).
    WrongSrc(String),
    /// A message to an id nobody has.
    UnknownDest(String),
    /// A message to a client without `in_reply_to`.
    ReplyWithoutInReplyTo,
    /// The process exited on its own.
    Exited(String),
}

/// A node that broke the protocol, with the line that shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadNode {
    /// The node (`n1`).
    pub node: String,
    /// What it did.
    pub breach: Breach,
    /// The offending line (stdout line, or its last stderr line for an exit).
    pub line: String,
}

impl std::fmt::Display for BadNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = &self.node;
        match &self.breach {
            Breach::NoSetupReply(what) => write!(
                f,
                "node {n} did not answer {what} within {}s; the message it got: {}",
                SETUP_TIMEOUT.as_secs(),
                self.line
            ),
            Breach::BadSetupReply(what) => {
                write!(f, "node {n} answered {what} wrongly: {}", self.line)
            }
            Breach::BadLine(why) => {
                write!(
                    f,
                    "node {n} printed a line on stdout that is {why}: {}",
                    self.line
                )
            }
            Breach::WrongSrc(src) => write!(
                f,
                "node {n} sent a message with src {src:?}, which is no node or client: {}",
                self.line
            ),
            Breach::UnknownDest(dest) => write!(
                f,
                "node {n} sent a message to {dest:?}, which is no node, client or service: {}",
                self.line
            ),
            Breach::ReplyWithoutInReplyTo => write!(
                f,
                "node {n} sent a client a message without in_reply_to: {}",
                self.line
            ),
            Breach::Exited(status) => write!(
                f,
                "node {n} exited on its own ({status}); its last stderr line: {}",
                self.line
            ),
        }
    }
}

//! The client of one Galera node: one connection over MySQL's protocol
//! (no TLS), every operation one explicit transaction, outcomes as the
//! module documentation's table says ([`classify`]).

use std::time::Duration;

use faultline_workloads::txn::{self, MopFunc};
use faultline_workloads::{Func, Op, Reply};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::super::{BoxFuture, SystemClient};
use super::Isolation;
use faultline_platform::cluster::NodeSpec;

/// MySQL's `ER_LOCK_DEADLOCK`: InnoDB chose the transaction as a deadlock
/// victim, or Galera's certification (or a brute-force abort by a
/// replicated writeset) rolled it back. Either way it was rolled back.
pub const ER_LOCK_DEADLOCK: u16 = 1213;

/// Reads a key from whichever table holds it, saying which.
const READ_SQL: &str = "SELECT 'l', v FROM lists WHERE k = ? \
                        UNION ALL SELECT 'r', CAST(v AS CHAR) FROM registers WHERE k = ?";
/// Appends an element to a list (creating it).
const APPEND_SQL: &str =
    "INSERT INTO lists (k, v) VALUES (?, ?) ON DUPLICATE KEY UPDATE v = CONCAT(v, ',', ?)";
/// Writes a register (creating it).
const WRITE_SQL: &str = "INSERT INTO registers (k, v) VALUES (?, ?) ON DUPLICATE KEY UPDATE v = ?";
/// Reads a register.
const READ_REGISTER_SQL: &str = "SELECT v FROM registers WHERE k = ?";
/// Compares and sets a register: one row matched when it held `from`.
const CAS_SQL: &str = "UPDATE registers SET v = ? WHERE k = ? AND v = ?";

/// Where an operation was when it went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before `COMMIT` was sent (connecting, the statements): the
    /// connection is dropped and the server rolls the transaction back.
    BeforeCommit,
    /// `COMMIT` was sent.
    Commit,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered with this error code.
    Server(u16, String),
    /// No answer: the connection broke, or the client's timeout passed.
    NoAnswer(String),
    /// A cas matched no row: nothing changed, and it was rolled back.
    Unmatched,
}

/// The reply for an operation that went wrong in `phase` with `outcome`;
/// `read_only` when it writes nothing.
///
/// `fail` when nothing can have been committed: the operation only reads,
/// or `COMMIT` was never sent, or `COMMIT` answered 1213 (rolled back);
/// `info` otherwise (`COMMIT` sent, and no answer or another error).
pub fn classify(phase: Phase, outcome: &Outcome, read_only: bool) -> Reply {
    let text = match outcome {
        Outcome::Server(code, message) => format!("{code}: {message}"),
        Outcome::NoAnswer(why) => why.clone(),
        Outcome::Unmatched => "cas: the value differs".to_string(),
    };
    if read_only {
        return Reply::Fail(text);
    }
    match (phase, outcome) {
        (Phase::BeforeCommit, _) => Reply::Fail(text),
        (Phase::Commit, Outcome::Server(ER_LOCK_DEADLOCK, _)) => {
            Reply::Fail(format!("COMMIT rolled back: {text}"))
        }
        (Phase::Commit, _) => Reply::Info(format!("COMMIT sent: {text}")),
    }
}

/// A list as `lists.v` holds it (`"1,2,3"`) as a JSON array of integers.
pub fn parse_list(text: &str) -> Result<Value, String> {
    if text.is_empty() {
        return Ok(json!([]));
    }
    text.split(',')
        .map(|e| {
            e.trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("list {text:?}: element {e:?} is not an integer"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// A value written or appended, as the integer the tables hold.
fn integer(v: &Value) -> Result<i64, String> {
    v.as_i64()
        .ok_or_else(|| format!("{v} is not an integer (galera stores integers)"))
}

/// One statement of an operation's transaction.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// A micro-operation read: the key in either table.
    Read(String),
    /// An append of an element to a list.
    Append(String, i64),
    /// A register write.
    Write(String, i64),
    /// A register read (the register workload).
    ReadRegister(String),
    /// A register compare-and-set.
    Cas(String, i64, i64),
}

impl Step {
    fn writes(&self) -> bool {
        !matches!(self, Step::Read(_) | Step::ReadRegister(_))
    }
}

/// The statements of `op`, or why it cannot be run (nothing was sent).
fn steps(op: &Op) -> Result<Vec<Step>, String> {
    let key = || op.key_or_default().to_string();
    match op.f {
        Func::Read => Ok(vec![Step::ReadRegister(key())]),
        Func::Write => Ok(vec![Step::Write(key(), integer(&op.value)?)]),
        Func::Cas => {
            let (from, to) = op.cas_values();
            Ok(vec![Step::Cas(key(), integer(from)?, integer(to)?)])
        }
        Func::Txn => txn::parse(&op.value)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|m| {
                Ok(match m.f {
                    MopFunc::Read => Step::Read(m.key),
                    MopFunc::Append => Step::Append(m.key, integer(&m.value)?),
                    MopFunc::Write => Step::Write(m.key, integer(&m.value)?),
                })
            })
            .collect(),
        other => Err(format!("--system galera has no {other} operation")),
    }
}

/// What a read step saw: the table it found the key in (`l` or `r`) and
/// the value's text, or nothing.
type Seen = Option<(String, Option<String>)>;

/// The value a read saw, as the history carries it.
fn seen_value(seen: &Seen) -> Result<Value, String> {
    match seen {
        None | Some((_, None)) => Ok(Value::Null),
        Some((table, Some(text))) if table == "l" => parse_list(text),
        Some((_, Some(text))) => text
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("register value {text:?} is not an integer")),
    }
}

/// The client of one node.
pub(super) struct GaleraClient {
    opts: Opts,
    conn: Option<Conn>,
    timeout: Duration,
}

impl GaleraClient {
    /// A client of `node`; each operation may take `timeout`; every
    /// connection sets `isolation` once when given.
    pub(super) fn new(
        node: &NodeSpec,
        timeout: Duration,
        isolation: Option<Isolation>,
    ) -> GaleraClient {
        let setup: Vec<String> = isolation
            .map(|l| format!("SET SESSION TRANSACTION ISOLATION LEVEL {}", l.sql()))
            .into_iter()
            .collect();
        GaleraClient {
            opts: opts(node).setup(setup).into(),
            conn: None,
            timeout,
        }
    }

    /// Runs `steps` as one transaction; the values read, or where it went
    /// wrong and how.
    async fn transaction(
        &mut self,
        steps: &[Step],
        deadline: Instant,
    ) -> Result<Vec<Seen>, (Phase, Outcome)> {
        let before = |o| (Phase::BeforeCommit, o);
        if self.conn.is_none() {
            let conn = within(deadline, Conn::new(self.opts.clone()))
                .await
                .map_err(before)?;
            self.conn = Some(conn);
        }
        let conn = self.conn.as_mut().expect("connected just above");
        within(deadline, conn.query_drop("START TRANSACTION"))
            .await
            .map_err(before)?;
        let mut seen = Vec::with_capacity(steps.len());
        for step in steps {
            match step {
                Step::Read(k) => {
                    let row: Option<(String, Option<String>)> =
                        within(deadline, conn.exec_first(READ_SQL, (k, k)))
                            .await
                            .map_err(before)?;
                    seen.push(row);
                }
                Step::ReadRegister(k) => {
                    let row: Option<(Option<i64>,)> =
                        within(deadline, conn.exec_first(READ_REGISTER_SQL, (k,)))
                            .await
                            .map_err(before)?;
                    seen.push(row.map(|(v,)| ("r".to_string(), v.map(|v| v.to_string()))));
                }
                Step::Append(k, e) => {
                    let e = e.to_string();
                    within(deadline, conn.exec_drop(APPEND_SQL, (k, &e, &e)))
                        .await
                        .map_err(before)?;
                }
                Step::Write(k, v) => {
                    within(deadline, conn.exec_drop(WRITE_SQL, (k, v, v)))
                        .await
                        .map_err(before)?;
                }
                Step::Cas(k, from, to) => {
                    within(deadline, conn.exec_drop(CAS_SQL, (to, k, from)))
                        .await
                        .map_err(before)?;
                    if conn.affected_rows() == 0 {
                        // Nothing changed: roll back (an error here changes
                        // nothing either; the connection is dropped).
                        let _ = within(deadline, conn.query_drop("ROLLBACK")).await;
                        return Err(before(Outcome::Unmatched));
                    }
                }
            }
        }
        within(deadline, conn.query_drop("COMMIT"))
            .await
            .map_err(|o| (Phase::Commit, o))?;
        Ok(seen)
    }
}

impl SystemClient for GaleraClient {
    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let steps = match steps(op) {
                Ok(s) => s,
                // Nothing was sent.
                Err(why) => return Reply::Fail(why),
            };
            let read_only = !steps.iter().any(Step::writes);
            let deadline = Instant::now() + self.timeout;
            let seen = match self.transaction(&steps, deadline).await {
                Ok(seen) => seen,
                Err((phase, outcome)) => {
                    self.conn = None;
                    return classify(phase, &outcome, read_only);
                }
            };
            match complete(op, &steps, &seen) {
                Ok(value) => Reply::Ok(value),
                // Committed, but what it saw cannot be told.
                Err(why) if read_only => Reply::Fail(why),
                Err(why) => Reply::Info(why),
            }
        })
    }
}

/// The completion's value of `op`, whose `steps` saw `seen` (one entry per
/// read step, in order).
fn complete(op: &Op, steps: &[Step], seen: &[Seen]) -> Result<Value, String> {
    let mut reads = seen.iter();
    let mut next_read = || seen_value(reads.next().unwrap_or(&None));
    match op.f {
        Func::Read => next_read(),
        Func::Txn => steps
            .iter()
            .map(|s| {
                Ok(match s {
                    Step::Read(k) => json!(["r", k, next_read()?]),
                    Step::Append(k, e) => json!(["append", k, e]),
                    Step::Write(k, v) => json!(["w", k, v]),
                    Step::ReadRegister(_) | Step::Cas(..) => {
                        return Err("not a micro-operation".to_string())
                    }
                })
            })
            .collect::<Result<Vec<_>, String>>()
            .map(Value::Array),
        _ => Ok(op.value.clone()),
    }
}

/// The connection options of `node`: its address and client port, user
/// `root` without password, database `faultline`, no socket, found rows
/// counted as affected (a cas that sets the value it found matched).
fn opts(node: &NodeSpec) -> OptsBuilder {
    OptsBuilder::default()
        .ip_or_hostname(node.ip.to_string())
        .tcp_port(node.http_addr.port())
        .user(Some("root"))
        .db_name(Some("faultline"))
        .prefer_socket(false)
        .client_found_rows(true)
        .stmt_cache_size(64)
}

/// Awaits `fut` until `deadline`: its value, or what went wrong.
async fn within<T>(
    deadline: Instant,
    fut: impl std::future::Future<Output = mysql_async::Result<T>>,
) -> Result<T, Outcome> {
    match tokio::time::timeout_at(deadline, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(mysql_async::Error::Server(e))) => Err(Outcome::Server(e.code, e.message)),
        Ok(Err(e)) => Err(Outcome::NoAnswer(super::super::root_cause(&e))),
        Err(_) => Err(Outcome::NoAnswer("timeout".into())),
    }
}

/// The `wsrep_%` status variables of `node`, on a connection of their
/// own; None when it does not answer.
pub(super) async fn wsrep_status(node: &NodeSpec) -> Option<Vec<(String, String)>> {
    let mut conn = Conn::new(opts(node).db_name(None::<String>)).await.ok()?;
    let vars: Vec<(String, String)> = conn.query("SHOW STATUS LIKE 'wsrep_%'").await.ok()?;
    let _ = conn.disconnect().await;
    Some(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_into_integers_and_anything_else_is_refused() {
        assert_eq!(parse_list("1,2,30").unwrap(), json!([1, 2, 30]));
        assert_eq!(parse_list("7").unwrap(), json!([7]));
        assert_eq!(parse_list("").unwrap(), json!([]));
        assert!(parse_list("1,x").is_err());
        assert!(parse_list("1,,2").is_err());
    }

    #[test]
    fn only_what_cannot_have_committed_fails() {
        let deadlock = Outcome::Server(ER_LOCK_DEADLOCK, "Deadlock found".into());
        let not_ready = Outcome::Server(1047, "WSREP has not yet prepared node".into());
        let lost = Outcome::NoAnswer("connection reset".into());
        let fails = |r: Reply| matches!(r, Reply::Fail(_));
        let unknown = |r: Reply| matches!(r, Reply::Info(_));
        for o in [&deadlock, &not_ready, &lost] {
            assert!(fails(classify(Phase::BeforeCommit, o, false)), "{o:?}");
            assert!(fails(classify(Phase::Commit, o, true)), "{o:?}");
        }
        assert!(fails(classify(Phase::Commit, &deadlock, false)));
        assert!(unknown(classify(Phase::Commit, &not_ready, false)));
        assert!(unknown(classify(Phase::Commit, &lost, false)));
    }

    #[test]
    fn operations_become_statements_and_reads_fill_the_completion() {
        let op = Op::txn(
            &txn::parse(&json!([
                ["append", "k1", 5],
                ["r", "k1", null],
                ["r", "k2", null]
            ]))
            .unwrap(),
        );
        let s = steps(&op).unwrap();
        assert_eq!(
            s,
            [
                Step::Append("k1".into(), 5),
                Step::Read("k1".into()),
                Step::Read("k2".into())
            ]
        );
        let seen = vec![Some(("l".to_string(), Some("3,5".to_string()))), None];
        assert_eq!(
            complete(&op, &s, &seen).unwrap(),
            json!([["append", "k1", 5], ["r", "k1", [3, 5]], ["r", "k2", null]])
        );
        let reg = vec![Some(("r".to_string(), Some("9".to_string()))), None];
        assert_eq!(
            complete(&op, &s, &reg).unwrap(),
            json!([["append", "k1", 5], ["r", "k1", 9], ["r", "k2", null]])
        );
        let cas = Op::new(Func::Cas, "r1", json!([1, 2]));
        assert_eq!(steps(&cas).unwrap(), [Step::Cas("r1".into(), 1, 2)]);
        assert!(steps(&Op::new(Func::Write, "r1", json!("x"))).is_err());
        assert!(steps(&Op::new(Func::Add, "s", json!(1))).is_err());
        assert!(!Step::Read("k".into()).writes() && Step::Cas("k".into(), 1, 2).writes());
    }
}

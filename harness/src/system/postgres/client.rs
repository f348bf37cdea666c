//! A PostgreSQL client of the workloads: each operation one explicit
//! transaction over `tokio-postgres`, and what the server answered turned
//! into `ok`, `fail` or `info`.
//!
//! One table, `kv (k text PRIMARY KEY, v jsonb)`: a register holds a JSON
//! number, a list a JSON array, so a read needs not know its workload.
//!
//! | operation | SQL (in `BEGIN [ISOLATION LEVEL l]` ... `COMMIT`) |
//! |---|---|
//! | read, `["r", k, _]` | `SELECT v::text FROM kv WHERE k = $1`; no row: `null` (txn-list-append reads it as `[]`) |
//! | write, `["w", k, v]` | `INSERT INTO kv (k, v) VALUES ($1, to_jsonb($2::bigint)) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v` |
//! | cas `[from, to]` | `UPDATE kv SET v = to_jsonb($3::bigint) WHERE k = $1 AND v = to_jsonb($2::bigint)`; no row updated: `fail` (rolled back) |
//! | `["append", k, e]` | `INSERT INTO kv (k, v) VALUES ($1, jsonb_build_array($2::bigint)) ON CONFLICT (k) DO UPDATE SET v = kv.v \|\| EXCLUDED.v`, the upsert of Jepsen's append test on a JSON array |
//!
//! Outcomes, decided by what certainly happened:
//!
//! | what happened | outcome |
//! |---|---|
//! | `COMMIT` answered | `ok` |
//! | an error before `COMMIT` was sent: the server's (a serialization failure, a deadlock, a read-only standby, ...), a lost connection, the client's timeout | `fail`: the transaction never asked to commit, so the server rolls it back |
//! | `COMMIT` answered with an error of class 40 (transaction rollback: `40001` serialization failure, `40P01` deadlock) | `fail`: the server says it rolled back |
//! | `COMMIT` answered with any other error, or not answered (lost connection, timeout) | `info`: it may have committed |
//! | a transaction of reads only, any error | `fail`: it changed nothing |
//!
//! After any error the connection is dropped and the next operation opens
//! a new one. Nothing is retried.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use faultline_workloads::txn::{self, Mop, MopFunc};
use faultline_workloads::{Func, Op, Reply};
use serde_json::Value;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, Statement};

use super::Isolation;
use crate::system::{root_cause, BoxFuture, SystemClient};

/// Where a client's operations go.
#[derive(Debug, Clone)]
pub struct Route {
    /// The primary, `host=IP port=P`: every operation that may write.
    pub primary: String,
    /// The node read-only operations go to (the primary, or the client's
    /// own node with `--postgres-reads any`).
    pub reads: String,
    /// Whether `reads` is a standby, where `SERIALIZABLE` does not exist:
    /// read-only transactions there run at `REPEATABLE READ`.
    pub reads_on_standby: bool,
}

/// One client: its connections (opened on first use), where it sends what.
pub struct PgClient {
    route: Route,
    isolation: Option<Isolation>,
    timeout: Duration,
    /// The open connection to the primary, when there is one.
    primary: Option<Conn>,
    /// The open connection to the read node, when it is not the primary.
    reads: Option<Conn>,
}

impl PgClient {
    /// A client taking `route`, each transaction at `isolation` (None: the
    /// server's default), each operation bounded by `timeout`.
    pub fn new(route: Route, isolation: Option<Isolation>, timeout: Duration) -> PgClient {
        PgClient {
            route,
            isolation,
            timeout,
            primary: None,
            reads: None,
        }
    }
}

/// An open connection: its client, and the task that drives it (ended
/// when the session is dropped, which closes the connection).
pub(super) struct Session {
    /// The client of the connection.
    pub(super) client: Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Opens a connection to `target` (`host=IP port=P`) as `postgres`.
pub(super) async fn open(target: &str) -> Result<Session, tokio_postgres::Error> {
    let config = format!("{target} user=postgres dbname=postgres");
    let (client, connection) = tokio_postgres::connect(&config, NoTls).await?;
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(Session { client, task })
}

/// An open connection and its prepared statements.
struct Conn {
    session: Session,
    read: Statement,
    write: Statement,
    cas: Statement,
    append: Statement,
}

/// Opens a connection to `target` (`host=IP port=P`) and prepares the
/// statements.
async fn connect(target: &str) -> Result<Conn, tokio_postgres::Error> {
    let session = open(target).await?;
    let client = &session.client;
    Ok(Conn {
        read: client
            .prepare("SELECT v::text FROM kv WHERE k = $1")
            .await?,
        write: client
            .prepare(
                "INSERT INTO kv (k, v) VALUES ($1, to_jsonb($2::bigint)) \
                 ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
            )
            .await?,
        cas: client
            .prepare(
                "UPDATE kv SET v = to_jsonb($3::bigint) \
                 WHERE k = $1 AND v = to_jsonb($2::bigint)",
            )
            .await?,
        append: client
            .prepare(
                "INSERT INTO kv (k, v) VALUES ($1, jsonb_build_array($2::bigint)) \
                 ON CONFLICT (k) DO UPDATE SET v = kv.v || EXCLUDED.v",
            )
            .await?,
        session,
    })
}

/// How far a transaction got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// `COMMIT` not sent: nothing can have committed.
    Open,
    /// `COMMIT` sent, no answer yet.
    Committing,
}

impl Stage {
    /// The stage `committing` (set when `COMMIT` is sent) says.
    fn of(committing: &AtomicBool) -> Stage {
        match committing.load(Ordering::Relaxed) {
            true => Stage::Committing,
            false => Stage::Open,
        }
    }
}

/// Why a transaction did not end with an answered `COMMIT`.
#[derive(Debug)]
enum Failure {
    /// What the workload asked cannot be done (a bad value): nothing sent.
    Refused(String),
    /// A cas found another value: rolled back.
    Mismatch,
    /// A read came back as something that is not JSON.
    Unreadable(String),
    /// The server or the connection failed.
    Db(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Failure {
        Failure::Db(e)
    }
}

impl SystemClient for PgClient {
    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let mops = match mops_of(op) {
                Ok(m) => m,
                Err(refused) => return refused,
            };
            let read_only = reads_only(op, &mops);
            let on_reads_node = read_only && self.route.reads != self.route.primary;
            let level = match (self.isolation, on_reads_node && self.route.reads_on_standby) {
                (Some(Isolation::Serializable), true) => Some(Isolation::RepeatableRead),
                (level, _) => level,
            };
            let committing = AtomicBool::new(false);
            let timeout = self.timeout;
            let (slot, target) = match on_reads_node {
                true => (&mut self.reads, self.route.reads.as_str()),
                false => (&mut self.primary, self.route.primary.as_str()),
            };
            let attempt = run(slot, target, op, &mops, level, &committing);
            let result = match tokio::time::timeout(timeout, attempt).await {
                Ok(r) => r,
                Err(_) => {
                    *slot = None;
                    let stage = Stage::of(&committing);
                    let at = match stage {
                        Stage::Open => "before COMMIT was sent",
                        Stage::Committing => "waiting for COMMIT",
                    };
                    return outcome(
                        read_only,
                        stage,
                        None,
                        format!("timed out after {timeout:?} {at}"),
                    );
                }
            };
            match result {
                Ok(done) => Reply::Ok(done),
                Err(Failure::Mismatch) => Reply::Fail("cas: the value differs".into()),
                // The transaction may still be open: the connection goes,
                // and with it the transaction, before COMMIT was sent.
                Err(Failure::Refused(why) | Failure::Unreadable(why)) => {
                    *slot = None;
                    Reply::Fail(why)
                }
                Err(Failure::Db(e)) => {
                    *slot = None;
                    let state = e.code().cloned();
                    let text = match e.as_db_error() {
                        Some(db) => format!("{} ({})", db.message(), db.code().code()),
                        None => root_cause(&e),
                    };
                    outcome(read_only, Stage::of(&committing), state.as_ref(), text)
                }
            }
        })
    }
}

/// The outcome of a transaction that did not end with an answered
/// `COMMIT`, from how far it got and the SQLSTATE the server sent, if any.
fn outcome(read_only: bool, stage: Stage, state: Option<&SqlState>, text: String) -> Reply {
    let rolled_back = state.is_some_and(|s| s.code().starts_with("40"));
    match stage {
        _ if read_only => Reply::Fail(text),
        Stage::Open => Reply::Fail(text),
        Stage::Committing if rolled_back => Reply::Fail(text),
        Stage::Committing => Reply::Info(text),
    }
}

/// Runs `op` in one transaction on the connection in `slot` (opened to
/// `target` when there is none); what it read, in the workload's shape.
async fn run(
    slot: &mut Option<Conn>,
    target: &str,
    op: &Op,
    mops: &[Mop],
    level: Option<Isolation>,
    committing: &AtomicBool,
) -> Result<Value, Failure> {
    let conn = match slot {
        Some(conn) => conn,
        None => slot.insert(connect(target).await?),
    };
    let client = &conn.session.client;
    let begin = match level {
        Some(l) => format!("BEGIN ISOLATION LEVEL {}", l.sql()),
        None => "BEGIN".to_string(),
    };
    client.batch_execute(&begin).await?;
    let mut done = Vec::with_capacity(mops.len());
    for m in mops {
        let key = m.key.as_str();
        let value = match m.f {
            MopFunc::Read => {
                let row = client.query_opt(&conn.read, &[&key]).await?;
                let text: Option<String> = row.and_then(|r| r.get(0));
                match text {
                    Some(t) => serde_json::from_str(&t).map_err(|e| {
                        Failure::Unreadable(format!("the value of {key}, {t:?}: {e}"))
                    })?,
                    None => Value::Null,
                }
            }
            MopFunc::Write => {
                let v = integer(&m.value)?;
                client.execute(&conn.write, &[&key, &v]).await?;
                m.value.clone()
            }
            MopFunc::Append => {
                let e = integer(&m.value)?;
                client.execute(&conn.append, &[&key, &e]).await?;
                m.value.clone()
            }
        };
        done.push(Mop::new(m.f, key, value));
    }
    if op.f == Func::Cas {
        let (from, to) = op.cas_values();
        let (from, to) = (integer(from)?, integer(to)?);
        let key = op.key_or_default();
        let n = client.execute(&conn.cas, &[&key, &from, &to]).await?;
        if n == 0 {
            client.batch_execute("ROLLBACK").await?;
            return Err(Failure::Mismatch);
        }
    }
    committing.store(true, Ordering::Relaxed);
    client.batch_execute("COMMIT").await?;
    Ok(match op.f {
        Func::Txn => txn::to_value(&done),
        Func::Read => done.pop().map_or(Value::Null, |m| m.value),
        _ => op.value.clone(),
    })
}

/// Whether `op`, performing `mops`, only reads: a cas writes, though its
/// `UPDATE` is not among them.
fn reads_only(op: &Op, mops: &[Mop]) -> bool {
    op.f != Func::Cas && mops.iter().all(|m| m.f == MopFunc::Read)
}

/// The micro-operations `op` performs: a transaction's own; a register
/// read or write as one; a cas as none (its `UPDATE` is apart).
fn mops_of(op: &Op) -> Result<Vec<Mop>, Reply> {
    let key = || op.key_or_default().to_string();
    match op.f {
        Func::Txn => txn::parse(&op.value).map_err(|e| Reply::Fail(e.to_string())),
        Func::Read => Ok(vec![Mop::new(MopFunc::Read, key(), Value::Null)]),
        Func::Write => Ok(vec![Mop::new(MopFunc::Write, key(), op.value.clone())]),
        Func::Cas => Ok(Vec::new()),
        other => Err(other.unsupported("postgres")),
    }
}

/// A value the workloads write: an integer.
fn integer(v: &Value) -> Result<i64, Failure> {
    v.as_i64()
        .ok_or_else(|| Failure::Refused(format!("{v} is not an integer")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cas_writes_and_a_transaction_of_reads_only_reads() {
        let cas = Op::new(Func::Cas, "k", serde_json::json!([1, 2]));
        assert!(!reads_only(&cas, &mops_of(&cas).unwrap()));
        let read = Op::new(Func::Read, "k", Value::Null);
        assert!(reads_only(&read, &mops_of(&read).unwrap()));
        let reads = Op::txn(&[Mop::new(MopFunc::Read, "a", Value::Null)]);
        assert!(reads_only(&reads, &mops_of(&reads).unwrap()));
        let append = Op::txn(&[
            Mop::new(MopFunc::Read, "a", Value::Null),
            Mop::new(MopFunc::Append, "a", serde_json::json!(3)),
        ]);
        assert!(!reads_only(&append, &mops_of(&append).unwrap()));
    }

    #[test]
    fn only_what_certainly_did_not_commit_fails() {
        let ser = SqlState::T_R_SERIALIZATION_FAILURE;
        let dead = SqlState::T_R_DEADLOCK_DETECTED;
        let admin = SqlState::ADMIN_SHUTDOWN;
        let t = || "why".to_string();
        assert!(matches!(
            outcome(false, Stage::Open, None, t()),
            Reply::Fail(_)
        ));
        assert!(matches!(
            outcome(false, Stage::Open, Some(&admin), t()),
            Reply::Fail(_)
        ));
        assert!(matches!(
            outcome(false, Stage::Committing, Some(&ser), t()),
            Reply::Fail(_)
        ));
        assert!(matches!(
            outcome(false, Stage::Committing, Some(&dead), t()),
            Reply::Fail(_)
        ));
        assert!(matches!(
            outcome(false, Stage::Committing, Some(&admin), t()),
            Reply::Info(_)
        ));
        assert!(matches!(
            outcome(false, Stage::Committing, None, t()),
            Reply::Info(_)
        ));
        assert!(matches!(
            outcome(true, Stage::Committing, None, t()),
            Reply::Fail(_)
        ));
    }
}

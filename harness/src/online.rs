//! Judging a run while it goes (`faultline run --check online`).
//!
//! The recorder hands every event to an [`OnlineChecker`] as it is written.
//! On its own thread, the checker pairs them as they come and, every
//! [`ROUND`], runs the workload's checkers that can judge a history still
//! being recorded ([`Checker::online`]) on the keys that saw a completion
//! since the last round, each up to the operations recorded so far. An operation still in flight
//! counts as `info` (it may take effect later, or never), which is weaker
//! than anything it can still end as: so a prefix that cannot be
//! linearized proves the whole history cannot be. The first such prefix is
//! the anomaly; with `--stop-on-anomaly` the run stops its workload there,
//! heals, and goes on to its final check, which still judges the whole
//! history and decides the verdict.

use std::collections::HashSet;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use faultline_checker::history::{Event, EventType, Operation, Pairer, Process};
use faultline_checker::{CheckOptions, Verdict};

use tokio::sync::Notify;

use crate::checkers::{CheckContext, Checker, RunEvidence};
use crate::record::OnlineDetection;

/// How often the keys that changed are checked again.
pub const ROUND: Duration = Duration::from_millis(250);

/// How long one round may search before it leaves the rest to the next.
const ROUND_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the online check cannot judge a workload.
#[derive(Debug, thiserror::Error)]
#[error(
    "--check online judges linearizability workloads (register, list-append); \
     the {0} workload is judged once its final reads are in: drop --check online"
)]
pub struct NotOnline(pub String);

/// The checkers among `checkers` (a `workload`'s) that judge online; an
/// error when none does.
pub fn online_checkers(
    workload: &str,
    checkers: &[&'static dyn Checker],
) -> Result<Vec<&'static dyn Checker>, NotOnline> {
    let online: Vec<&'static dyn Checker> =
        checkers.iter().copied().filter(|c| c.online()).collect();
    if online.is_empty() {
        return Err(NotOnline(workload.to_string()));
    }
    Ok(online)
}

/// A checker running beside the run, fed by the recorder.
pub struct OnlineChecker {
    tx: Option<mpsc::Sender<Event>>,
    found: Arc<Mutex<Option<OnlineDetection>>>,
    notify: Arc<Notify>,
    join: Option<JoinHandle<()>>,
}

impl OnlineChecker {
    /// Starts judging events with `checkers` (each one that judges
    /// online, see [`online_checkers`]); `start` is the test's time zero.
    pub fn start(checkers: Vec<&'static dyn Checker>, start: Instant) -> OnlineChecker {
        let (tx, rx) = mpsc::channel::<Event>();
        let found = Arc::new(Mutex::new(None));
        let notify = Arc::new(Notify::new());
        let (f, n) = (found.clone(), notify.clone());
        let join = std::thread::Builder::new()
            .name("online-check".into())
            .spawn(move || check_loop(rx, &checkers, start, f, n))
            .ok();
        OnlineChecker {
            tx: Some(tx),
            found,
            notify,
            join,
        }
    }

    /// Where the recorder sends each event.
    pub fn sender(&self) -> Option<mpsc::Sender<Event>> {
        self.tx.clone()
    }

    /// Resolves once an anomaly is found (never, if none is).
    pub async fn anomaly(&self) {
        loop {
            let notified = self.notify.notified();
            if self.detection().is_some() {
                return;
            }
            notified.await;
        }
    }

    /// The anomaly found so far, if any.
    pub fn detection(&self) -> Option<OnlineDetection> {
        self.found.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Notes when the workload stopped because of the anomaly.
    pub fn stopped_at(&self, elapsed: Duration) {
        if let Some(d) = self
            .found
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            d.stopped_s.get_or_insert(elapsed.as_secs_f64());
        }
    }

    /// Stops the checker (once the recorder is closed, its channel ends)
    /// and returns what it found.
    pub fn finish(mut self) -> Option<OnlineDetection> {
        self.tx = None;
        if let Some(join) = self.join.take() {
            let _ = join.join();
        }
        self.detection()
    }
}

fn check_loop(
    rx: mpsc::Receiver<Event>,
    checkers: &[&'static dyn Checker],
    start: Instant,
    found: Arc<Mutex<Option<OnlineDetection>>>,
    notify: Arc<Notify>,
) {
    let mut pairer = Pairer::forgiving();
    let mut dirty: HashSet<Option<String>> = HashSet::new();
    let mut line = 0usize;
    let mut rounds = 0u64;
    let mut last_round = Instant::now();
    let mut done = false;
    let opts = CheckOptions {
        timeout: Some(ROUND_TIMEOUT),
        memory_bytes: 512 << 20,
        ..CheckOptions::default()
    };
    loop {
        match rx.recv_timeout(ROUND) {
            Ok(ev) => {
                line += 1;
                if done {
                    continue;
                }
                if ev.process != Process::Nemesis && ev.kind != EventType::Invoke {
                    dirty.insert(ev.key.clone());
                }
                let _ = pairer.push(&ev, line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        if done || dirty.is_empty() || last_round.elapsed() < ROUND {
            continue;
        }
        last_round = Instant::now();
        rounds += 1;
        let ops: Vec<&Operation> = pairer
            .operations_so_far()
            .iter()
            .filter(|o| dirty.contains(&o.key))
            .collect();
        dirty.clear();
        let Some(detection) = judge(checkers, &ops, &opts, start, rounds) else {
            continue;
        };
        tracing::info!(?detection, "online check: anomaly");
        *found.lock().unwrap_or_else(|p| p.into_inner()) = Some(detection);
        notify.notify_waiters();
        done = true;
    }
}

/// Runs `checkers` on `ops`; the first anomaly one of them finds.
fn judge(
    checkers: &[&'static dyn Checker],
    ops: &[&Operation],
    opts: &CheckOptions,
    start: Instant,
    rounds: u64,
) -> Option<OnlineDetection> {
    let evidence = RunEvidence::default();
    let ctx = CheckContext {
        events: &[],
        operations: Ok(ops),
        options: opts,
        run: &evidence,
    };
    checkers.iter().find_map(|c| {
        let judged = c.check(&ctx).ok()?;
        if judged.verdict != Verdict::Invalid {
            return None;
        }
        let anomaly = judged.anomaly.unwrap_or_default();
        Some(OnlineDetection {
            key: anomaly.key,
            operation: anomaly.operation.unwrap_or_default(),
            anomaly_s: anomaly.time.map(|t| t as f64 / 1e9),
            detected_s: start.elapsed().as_secs_f64(),
            stopped_s: None,
            rounds,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::linearizable::REGISTER;
    use crate::checkers::set_full::SET_FULL;
    use serde_json::json;

    fn ev(index: u64, process: u64, kind: EventType, f: &str, value: serde_json::Value) -> Event {
        Event {
            index,
            time: index * 1_000_000,
            process: Process::Client(process),
            kind,
            f: f.into(),
            key: Some("k".into()),
            value,
            error: None,
        }
    }

    #[test]
    fn a_stale_read_is_found_while_the_history_is_still_open() {
        let checker = OnlineChecker::start(vec![&REGISTER], Instant::now());
        let tx = checker.sender().unwrap();
        let events = [
            ev(0, 0, EventType::Invoke, "write", json!(1)),
            ev(1, 0, EventType::Ok, "write", json!(1)),
            ev(2, 0, EventType::Invoke, "write", json!(2)),
            ev(3, 0, EventType::Ok, "write", json!(2)),
            // Still in flight when the read returns: counts as info.
            ev(4, 2, EventType::Invoke, "write", json!(3)),
            ev(5, 1, EventType::Invoke, "read", json!(null)),
            ev(6, 1, EventType::Ok, "read", json!(1)),
        ];
        for e in events {
            tx.send(e).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while checker.detection().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let found = checker.detection().expect("an anomaly within 10 s");
        assert_eq!(found.key.as_deref(), Some("k"));
        assert!(found.operation.contains("read"), "{}", found.operation);
        drop(tx);
        assert_eq!(checker.finish(), Some(found));
    }

    #[test]
    fn a_valid_prefix_with_operations_in_flight_is_not_an_anomaly() {
        let checker = OnlineChecker::start(vec![&REGISTER], Instant::now());
        let tx = checker.sender().unwrap();
        for e in [
            ev(0, 0, EventType::Invoke, "write", json!(1)),
            ev(1, 1, EventType::Invoke, "read", json!(null)),
            ev(2, 1, EventType::Ok, "read", json!(1)),
        ] {
            tx.send(e).unwrap();
        }
        std::thread::sleep(ROUND * 3);
        drop(tx);
        assert_eq!(checker.finish(), None);
    }

    #[test]
    fn sets_are_refused_with_a_reason() {
        let err = online_checkers("set", &[&SET_FULL]).err().unwrap();
        assert!(err.to_string().contains("final reads"), "{err}");
        assert_eq!(
            online_checkers("register", &[&REGISTER, &SET_FULL])
                .unwrap()
                .len(),
            1
        );
    }
}

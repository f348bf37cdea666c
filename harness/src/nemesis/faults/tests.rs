//! The registry and the executor together: every kind's step format and
//! events, and faults started, replaced, stopped and healed through one
//! path on pretend processes.

use serde_json::{json, Value};

use super::*;
use crate::nemesis::partition::Shape;
use crate::nemesis::testing::{block_on, faults, fixture};
use crate::nemesis::FailpointName;
use faultline_platform::cluster::NodeState;

fn example(kind: NemesisKind) -> Value {
    let text = format!("step = {}", kind.about().example);
    let doc: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{kind}: {e}"));
    serde_json::to_value(&doc["step"]).unwrap()
}

#[test]
fn every_kind_parses_its_example_and_refuses_unknown_fields() {
    for &kind in NemesisKind::REGISTERED {
        let step = example(kind);
        assert_eq!(
            step["do"],
            kind.name(),
            "{kind}: the example names another kind"
        );
        let fault: Fault = serde_json::from_value(step.clone()).unwrap();
        assert_eq!(fault.own_kind(), kind);
        assert_eq!(serde_json::to_value(&fault).unwrap()["do"], kind.name());
        assert!(FAULT_STEPS.contains(&kind.name()));
        let mut typo = step;
        typo["targte"] = json!("leader");
        assert!(
            serde_json::from_value::<Fault>(typo).is_err(),
            "{kind} accepts unknown fields"
        );
    }
    assert_eq!(FAULT_STEPS.len(), NemesisKind::REGISTERED.len());
    for (i, &kind) in NemesisKind::REGISTERED.iter().enumerate() {
        assert_eq!(kind as usize, i, "the registry's table is out of order");
    }
}

#[test]
fn kinds_keep_their_nemesis_names_families_and_needs() {
    let names: Vec<&str> = NemesisKind::drawn().iter().map(|k| k.name()).collect();
    assert_eq!(
        names[..6],
        [
            "kill",
            "pause",
            "partition",
            "drop",
            "power-loss",
            "corrupt"
        ]
    );
    let isolate = Fault::Isolate(isolate::Isolate {
        target: Target::Leader,
    });
    assert_eq!(isolate.kind(), NemesisKind::Partition);
    assert!(isolate.names_a_target());
    let partition = Fault::Partition(partition::Partition {
        shape: Shape::Halves,
        order: None,
    });
    assert!(!partition.names_a_target());
    assert!(NemesisKind::PowerLoss.needs_disk_layer());
    assert!(NemesisKind::Drop.needs_firewall() && !NemesisKind::Drop.possible_with(1));
    // test.json has always spelled the kinds in lowercase.
    assert_eq!(json!(NemesisKind::PowerLoss), json!("powerloss"));
}

#[test]
fn every_kind_reads_the_events_histories_hold() {
    let cases = [
        ("kill", json!(["n1", "n2"]), "kill n1 n2"),
        ("pause", json!(["n3"]), "pause n3"),
        (
            "start-partition",
            json!({"shape": "halves", "groups": [["n1"], ["n2", "n3"]]}),
            "partition {n1} | {n2 n3}",
        ),
        (
            "start-drop",
            json!({"percent": 20, "between": ["n1", "n2"]}),
            "drop 20%",
        ),
        (
            "power-loss",
            json!({"nodes": ["n1", "n2"], "tear": true, "survival": 0.0, "sector": 512, "files": [
                {"node": "n1", "file": "wal/1.log", "size_before": 300, "durable_size": 100,
                 "size_after": 120, "restored": [[50, 60]], "kept": [[100, 120]]}]}),
            "power-loss n1 n2: 190 bytes of un-fsynced data lost in 1 files (last writes torn)",
        ),
        (
            "corrupt",
            json!({"node": "n2", "file": "wal/1.log", "candidates": 2, "flips": [{"offset": 17, "bit": 3}]}),
            "corrupt n2: wal/1.log: bit 3 of byte 17",
        ),
    ];
    for (f, value, label) in cases {
        match read_event(f, &value) {
            Some(Reading::Opens(o)) => assert_eq!(o.label, label),
            other => panic!("{f}: {other:?}"),
        }
    }
    for f in ["stop-drop", "stop-partition", "restart", "resume"] {
        let value = match f {
            "stop-drop" => Value::Null,
            "stop-partition" => json!({"groups": []}),
            _ => json!(["n1"]),
        };
        assert!(
            matches!(read_event(f, &value), Some(Reading::Closes { .. })),
            "{f}"
        );
    }
    assert_eq!(read_event("clock-skew", &json!(3)), None);
}

#[test]
fn faults_start_stop_replace_and_heal_through_one_path() {
    let dir = tempfile::tempdir().unwrap();
    let (mut exec, platform, writer) = fixture(dir.path());
    let node = |target| Fault::Kill(kill::Kill { target });
    block_on(async {
        let id = exec.start(&node(Target::Leader)).await.unwrap().unwrap();
        assert_eq!(platform.lock().unwrap().states[1], NodeState::Killed);
        assert_eq!(exec.previous(), Some(1));
        // Killing a node already down hits nothing.
        assert_eq!(
            exec.start(&node(Target::Nodes(vec![1]))).await.unwrap(),
            None
        );
        let isolate = Fault::Isolate(isolate::Isolate {
            target: Target::Nodes(vec![0]),
        });
        exec.start(&isolate).await.unwrap();
        // A second partition replaces the first.
        let halves = Fault::Partition(partition::Partition {
            shape: Shape::Halves,
            order: Some(vec![2, 0, 1]),
        });
        exec.start(&halves).await.unwrap();
        assert_eq!(exec.labels().lock().unwrap().len(), 2);
        exec.stop(id).unwrap();
        assert_eq!(platform.lock().unwrap().states[1], NodeState::Running);
        exec.arm(FailpointName::CrashAfterVote, &Target::All)
            .await
            .unwrap();
        let pause = Fault::Pause(pause::Pause {
            target: Target::Nodes(vec![2]),
        });
        exec.start(&pause).await.unwrap();
        let drop = Fault::Drop(drop::Drop { percent: 30 });
        exec.start(&drop).await.unwrap();
        exec.heal().unwrap();
    });
    {
        let p = platform.lock().unwrap();
        assert!(p.states.iter().all(|&s| s == NodeState::Running));
        assert_eq!((p.cut.as_ref(), p.loss), (None, None));
    }
    assert!(exec.labels().lock().unwrap().is_empty());
    let want = [
        r#"kill ["n2"]"#,
        r#"start-partition {"groups":[["n1"],["n2","n3"]],"shape":"isolate-one"}"#,
        r#"stop-partition {"groups":[["n1"],["n2","n3"]],"shape":"isolate-one"}"#,
        r#"start-partition {"groups":[["n1","n2"],["n3"]],"shape":"halves"}"#,
        r#"restart ["n2"]"#,
        r#"failpoint-refused {"failpoint":"crash-after-vote","node":"n3","reason":"no failpoints here"}"#,
        r#"arm {"failpoint":"crash-after-vote","nodes":["n1","n2"]}"#,
        r#"pause ["n3"]"#,
        r#"start-drop {"between":["n1","n2","n3"],"percent":30}"#,
        r#"stop-drop null"#,
        r#"resume ["n3"]"#,
        r#"stop-partition {"groups":[["n1","n2"],["n3"]],"shape":"halves"}"#,
    ];
    assert_eq!(faults(&exec, writer), want);
}

#[test]
fn a_scenario_restart_takes_the_nodes_out_of_the_active_kill() {
    let dir = tempfile::tempdir().unwrap();
    let (mut exec, platform, writer) = fixture(dir.path());
    block_on(async {
        let kill = Fault::Kill(kill::Kill {
            target: Target::Nodes(vec![0, 2]),
        });
        exec.start(&kill).await.unwrap();
        exec.restart(&Target::Nodes(vec![0])).await.unwrap();
        assert_eq!(*exec.labels().lock().unwrap(), vec!["kill n3".to_string()]);
        exec.restart(&Target::Down).await.unwrap();
        assert!(exec.labels().lock().unwrap().is_empty());
    });
    assert_eq!(platform.lock().unwrap().states[2], NodeState::Running);
    assert_eq!(
        faults(&exec, writer),
        [
            r#"kill ["n1","n3"]"#,
            r#"restart ["n1"]"#,
            r#"restart ["n3"]"#
        ]
    );
}

#[test]
fn the_statuses_a_step_asks_for_go_to_the_tap_too() {
    let dir = tempfile::tempdir().unwrap();
    let (mut exec, _platform, _writer) = fixture(dir.path());
    let (tap, mut tapped) = tokio::sync::mpsc::unbounded_channel();
    exec.tap_statuses(tap);
    block_on(async {
        let kill = Fault::Kill(kill::Kill {
            target: Target::Leader,
        });
        exec.start(&kill).await.unwrap();
        assert_eq!(exec.leader().await, None, "the leader was killed");
    });
    let first = tapped.try_recv().expect("the kill asked who leads");
    let roles: Vec<_> = first
        .iter()
        .map(|s| s.as_ref().map(|s| s.role.as_str()))
        .collect();
    assert_eq!(roles, [Some("follower"), Some("leader"), Some("follower")]);
    let second = tapped.try_recv().expect("leader() asked again");
    assert!(second[1].is_none(), "a node that is down is not asked");
    assert!(tapped.try_recv().is_err());
}

#[test]
fn power_loss_kills_loses_and_restarts_and_corruption_stays_within_a_minority() {
    let dir = tempfile::tempdir().unwrap();
    let (mut exec, platform, writer) = fixture(dir.path());
    for n in ["n1", "n2", "n3"] {
        let d = dir.path().join("data").join(n);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("wal"), vec![0u8; 64]).unwrap();
    }
    let state = |i: usize| platform.lock().unwrap().states[i];
    block_on(async {
        let all = Fault::PowerLoss(power_loss::PowerLoss {
            target: Target::All,
            tear: true,
            survival: 0.0,
            sector: 512,
        });
        let id = exec.start(&all).await.unwrap().unwrap();
        assert!((0..3).all(|i| state(i) == NodeState::Killed));
        assert_eq!(exec.labels().lock().unwrap()[0], "power-loss n1,n2,n3");
        exec.stop(id).unwrap();
        assert!((0..3).all(|i| state(i) == NodeState::Running));
        let corrupt = |target| {
            Fault::Corrupt(corrupt::Corrupt {
                target,
                how: Default::default(),
                bits: 2,
                last: None,
                files: None,
                majority: false,
            })
        };
        // Three named, one damaged: a minority of three.
        exec.start(&corrupt(Target::All)).await.unwrap().unwrap();
        assert_eq!(state(0), NodeState::Killed);
        assert_eq!(state(1), NodeState::Running);
        // Another node would make two of three: refused; the same one again is fine.
        let other = corrupt(Target::Nodes(vec![2]));
        assert_eq!(exec.start(&other).await.unwrap(), None);
        exec.heal().unwrap();
        let same = corrupt(Target::Nodes(vec![0]));
        assert!(exec.start(&same).await.unwrap().is_some());
        exec.heal().unwrap();
    });
    let got = faults(&exec, writer);
    assert!(
        got[0].starts_with(r#"power-loss {"files":[{"durable_size":20,"file":"wal","node":"n1""#),
        "{got:?}"
    );
    assert!(
        got[0].contains(r#""nodes":["n1","n2","n3"]"#) && got[0].contains(r#""tear":true"#),
        "{got:?}"
    );
    assert_eq!(got[1], r#"restart ["n1","n2","n3"]"#);
    assert!(
        got[2].starts_with(r#"corrupt {"candidates":1,"file":"wal","flips":[{"#),
        "{got:?}"
    );
    assert!(got[2].ends_with(r#""node":"n1"}"#), "{got:?}");
    assert_eq!(got[3], r#"restart ["n1"]"#);
    assert!(
        got[4].starts_with("corrupt ") && got[4].contains(r#""node":"n1""#),
        "{got:?}"
    );
    assert_eq!(got.len(), 6, "{got:?}");
}

#[test]
fn the_end_of_a_run_disarms_what_a_scenario_left_armed_even_through_a_heal() {
    let dir = tempfile::tempdir().unwrap();
    let (mut exec, platform, writer) = fixture(dir.path());
    block_on(async {
        exec.arm(FailpointName::CrashAfterVote, &Target::All)
            .await
            .unwrap();
        let pause = Fault::Pause(pause::Pause {
            target: Target::Nodes(vec![0]),
        });
        exec.start(&pause).await.unwrap();
        exec.heal().unwrap();
        exec.start(&pause).await.unwrap();
        exec.end().await.unwrap();
        exec.end().await.unwrap();
    });
    assert!(platform
        .lock()
        .unwrap()
        .states
        .iter()
        .all(|&s| s == NodeState::Running));
    assert_eq!(
        faults(&exec, writer),
        [
            r#"failpoint-refused {"failpoint":"crash-after-vote","node":"n3","reason":"no failpoints here"}"#,
            r#"arm {"failpoint":"crash-after-vote","nodes":["n1","n2"]}"#,
            r#"pause ["n1"]"#,
            r#"resume ["n1"]"#,
            r#"pause ["n1"]"#,
            r#"disarm ["n2"]"#,
            r#"resume ["n1"]"#,
            r#"disarm ["n1"]"#,
        ]
    );
}

#[test]
fn a_node_restarted_since_it_was_armed_is_not_asked_to_disarm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut exec, _platform, writer) = fixture(dir.path());
    block_on(async {
        exec.arm(FailpointName::CrashAfterCommit, &Target::Nodes(vec![0, 1]))
            .await
            .unwrap();
        let kill = Fault::Kill(kill::Kill {
            target: Target::Nodes(vec![0]),
        });
        exec.start(&kill).await.unwrap();
        exec.restart(&Target::Down).await.unwrap();
        exec.end().await.unwrap();
    });
    assert_eq!(
        faults(&exec, writer),
        [
            r#"arm {"failpoint":"crash-after-commit","nodes":["n1","n2"]}"#,
            r#"kill ["n1"]"#,
            r#"restart ["n1"]"#,
            r#"disarm ["n2"]"#,
        ]
    );
}

#[test]
fn the_end_of_a_run_that_never_armed_asks_no_node_about_failpoints() {
    let dir = tempfile::tempdir().unwrap();
    let (mut exec, _platform, writer) = fixture(dir.path());
    block_on(async {
        let kill = Fault::Kill(kill::Kill {
            target: Target::Nodes(vec![1]),
        });
        exec.start(&kill).await.unwrap();
        exec.end().await.unwrap();
    });
    assert_eq!(
        faults(&exec, writer),
        [r#"kill ["n2"]"#, r#"restart ["n2"]"#]
    );
}

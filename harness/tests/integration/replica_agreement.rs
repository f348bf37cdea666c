//! `replica-agreement` on a real system: a short healthy etcd run compares
//! every member's own keys, applied index, revision and hash after the
//! final reads and finds them equal. Skipped (saying so) without etcd on
//! PATH (scripts/setup.sh installs Debian's etcd-server), as the etcd tests
//! of `systems.rs` are.

use crate::support;
use crate::systems::etcd_present;

#[test]
fn a_healthy_etcd_run_finds_its_replicas_in_agreement() {
    if !etcd_present() {
        return;
    }
    let (code, out, dir) = support::run_bounded(&[
        "--system",
        "etcd",
        "--nemesis",
        "none",
        "--time-limit",
        "6",
        "--recovery-time",
        "1",
        "--seed",
        "5",
    ]);
    assert_eq!(code, 0, "{out}");
    let read = |file: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap()
    };
    let results = read("results.json");
    let agreement = results["checkers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "replica agreement")
        .unwrap_or_else(|| panic!("no replica agreement result: {results}"));
    assert_eq!(agreement["verdict"], "valid", "{agreement}");
    let replicas = agreement["detail"]["replicas"].as_array().unwrap();
    assert_eq!(replicas.len(), 3, "{agreement}");
    for r in replicas {
        assert!(r["keys"].as_u64().unwrap() > 0, "{agreement}");
        assert!(
            r["position"]["applied_index"].as_u64().unwrap() > 0,
            "{agreement}"
        );
        assert_eq!(r["position"], replicas[0]["position"], "{agreement}");
        assert_eq!(r["digest"], replicas[0]["digest"], "{agreement}");
    }
    let survey = read("replicas.json");
    assert_eq!(survey["replicas"].as_array().unwrap().len(), 3, "{survey}");
    assert!(survey["replicas"][0]["state"]["kv"].is_object(), "{survey}");
    let page = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(page.contains("<h2>Replicas</h2>"), "no replicas section");
    assert!(out.contains("replica agreement"), "{out}");
}

//! What the search may do: the scenario steps it strings together, drawn
//! from the fault kinds `--nemesis` allows and what the system can do.
//!
//! An action is a scenario step followed by a gap, each written as its
//! TOML/JSON table (`{ do = "isolate", target = "leader" }`), so a plan is
//! a scenario any user can read and replay. Targets are roles when the
//! system's status names who leads (the leader, a follower, the minority
//! holding the leader, the node hit before) and node positions when it
//! cannot.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::nemesis::{NemesisKind, NemesisSet};
use crate::scenario::{Scenario, Step};

/// What the vocabulary is built from.
#[derive(Debug, Clone)]
pub struct Abilities {
    /// The fault kinds allowed (`--nemesis`).
    pub kinds: NemesisSet,
    /// Nodes in the cluster.
    pub nodes: usize,
    /// The system's status names who leads (roles and logs as targets, waits
    /// on leaders).
    pub roles: bool,
    /// The system has faultline-node's failpoints.
    pub failpoints: bool,
}

/// The actions the search may use: each a step (a fault, or restart,
/// resume, heal, arm, disarm) followed by a gap that gives the cluster time
/// to react: none, a short or a longer sleep, or (when the system names
/// who leads) a wait for a new leader or for some writes acknowledged, or
/// (with failpoints) for a node to crash at one.
pub fn vocabulary(a: &Abilities) -> Vec<Vec<Value>> {
    let mut gaps = vec![
        None,
        Some(json!({ "do": "sleep", "seconds": 0.5 })),
        Some(long_sleep()),
    ];
    if a.roles {
        gaps.push(Some(wait_new_leader()));
        gaps.push(Some(
            json!({ "do": "wait", "until": { "acked": 50 }, "timeout": 2 }),
        ));
    }
    if a.failpoints {
        gaps.push(Some(wait_crashed()));
    }
    let mut v = Vec::new();
    for step in steps(a) {
        for gap in &gaps {
            let mut action = vec![step.clone()];
            action.extend(gap.clone());
            v.push(action);
        }
    }
    v
}

/// The modes a plan may play in: what stays switched on for all of the
/// plan, put before its actions in every round (and undone by the round's
/// tail). Always "nothing"; with failpoints, also each failpoint armed on
/// every node, so a node crashes whenever it first passes that point in a
/// round, whatever the actions do to the network. An armed failpoint shows
/// nothing until a node passes it, so as one action among many it is
/// rarely drawn before the faults that make nodes pass it; as a mode it is
/// one choice in three, credited by what its runs found.
pub fn modes(a: &Abilities) -> Vec<Vec<Value>> {
    let mut m = vec![Vec::new()];
    if a.failpoints {
        for fp in ["crash-after-vote", "crash-after-commit"] {
            m.push(vec![
                json!({ "do": "arm", "failpoint": fp, "target": "all" }),
            ]);
        }
    }
    m
}

/// The plans a search plays first, before it has learned anything, each a
/// sequence of `vocabulary` actions (indexes). First the classic faults of
/// a Jepsen test, one per plan: the leader cut off, killed, paused (the
/// first node when the system does not name a leader), then, when power
/// loss is allowed, every node losing power at once (one node losing power
/// is what replication recovers from; the whole cluster at once is the
/// test of what each node made durable). A fault on the leader is followed
/// by a wait for a new one (a 2-s sleep without roles), so the rest of the
/// cluster acts while it is down or cut off. Last, for a system with
/// faultline-node's failpoints, [`figure_8`]: the schedule of the Raft
/// paper's Figure 8, the classic test of a Raft leader's commit rule, which
/// takes nine actions in order, so no search stumbles on it. As a fuzzer's
/// seed inputs, they give the first runs faults every system must survive
/// and the search a corpus to mutate; a seed with an action the vocabulary
/// lacks (a kind `--nemesis` leaves out) is left out.
pub fn seeds(a: &Abilities, vocabulary: &[Vec<Value>]) -> Vec<Vec<usize>> {
    let (target, gap) = if a.roles {
        (json!("leader"), wait_new_leader())
    } else {
        (json!({ "nodes": [0] }), long_sleep())
    };
    let mut wanted = vec![
        vec![vec![
            json!({ "do": "isolate", "target": target }),
            gap.clone(),
        ]],
        vec![vec![json!({ "do": "kill", "target": target }), gap.clone()]],
        vec![vec![json!({ "do": "pause", "target": target }), gap]],
        vec![vec![json!({ "do": "power-loss", "target": "all" })]],
    ];
    if a.roles && a.failpoints && a.nodes >= 3 {
        wanted.push(figure_8());
    }
    wanted
        .iter()
        .filter_map(|plan| {
            plan.iter()
                .map(|w| vocabulary.iter().position(|action| action == w))
                .collect::<Option<Vec<usize>>>()
        })
        .collect()
}

/// Raft's Figure 8 as vocabulary actions (the `figure-8` scenario's steps,
/// `scenario/builtin.toml`, with the vocabulary's gaps): the leader A is cut off with
/// writes in its log (term t), and the voters that elect E (term t+1) crash
/// right after their vote, before E's entry reaches them; E is frozen, and
/// a star forms around the node with the longest log (A) with
/// `crash-after-commit` armed on it; the voters restart, only A can win
/// (term t+2), and it crashes as soon as it commits; then a star around E,
/// which resumes and, its last entry a term newer than A's old ones, can
/// win and overwrite them. A leader that commits an entry of an earlier
/// term by counting replicas has then answered a write that is lost.
fn figure_8() -> Vec<Vec<Value>> {
    vec![
        vec![json!({ "do": "arm", "failpoint": "crash-after-vote", "target": "all" })],
        vec![
            json!({ "do": "isolate", "target": "leader" }),
            wait_crashed(),
        ],
        vec![json!({ "do": "disarm" })],
        vec![json!({ "do": "pause", "target": "leader" })],
        vec![json!({ "do": "star", "center": "longest-log", "except": "paused" })],
        vec![json!({ "do": "arm", "failpoint": "crash-after-commit", "target": "previous" })],
        vec![json!({ "do": "restart" }), wait_crashed()],
        vec![json!({ "do": "star", "center": "paused" })],
        vec![json!({ "do": "resume" }), wait_new_leader()],
    ]
}

/// The gap that waits for the cluster to elect another leader.
fn wait_new_leader() -> Value {
    json!({ "do": "wait", "until": "new-leader", "timeout": 3 })
}

/// The gap that waits for a node to crash at an armed failpoint.
fn wait_crashed() -> Value {
    json!({ "do": "wait", "until": "crashed", "timeout": 3 })
}

/// The longer of the two sleeps a gap can be.
fn long_sleep() -> Value {
    json!({ "do": "sleep", "seconds": 2 })
}

/// For each action of `vocabulary`, the actions one edit away from it:
/// the same step with another gap, or the same step with one of its fields
/// changed (its kind, target, failpoint, centre, ...): `kill leader` and
/// `isolate leader`, `arm follower` and `arm all`. The search's *tweak*
/// moves a plan's action to one of these, so a plan that came close keeps
/// its shape while one detail changes, where a fresh draw would pick among
/// every action.
pub fn neighbours(vocabulary: &[Vec<Value>]) -> Vec<Vec<usize>> {
    let fields: Vec<BTreeMap<String, Value>> = vocabulary.iter().map(|a| fields(a)).collect();
    fields
        .iter()
        .enumerate()
        .map(|(i, a)| {
            fields
                .iter()
                .enumerate()
                .filter(|&(j, b)| j != i && one_apart(a, b))
                .map(|(j, _)| j)
                .collect()
        })
        .collect()
}

/// An action as named fields: the step's keys, and its gap as one field.
fn fields(action: &[Value]) -> BTreeMap<String, Value> {
    let mut f = BTreeMap::new();
    if let Some(map) = action.first().and_then(Value::as_object) {
        for (k, v) in map {
            f.insert(format!("step.{k}"), v.clone());
        }
    }
    f.insert(
        "gap".to_string(),
        action.get(1).cloned().unwrap_or(Value::Null),
    );
    f
}

/// Whether two actions' fields are the same names with one value changed.
fn one_apart(a: &BTreeMap<String, Value>, b: &BTreeMap<String, Value>) -> bool {
    a.len() == b.len()
        && a.keys().eq(b.keys())
        && a.iter().filter(|(k, v)| b.get(*k) != Some(*v)).count() == 1
}

/// The steps the actions start with.
fn steps(a: &Abilities) -> Vec<Value> {
    let allowed = |k: NemesisKind| a.kinds.0.iter().any(|x| x.family() == k || *x == k);
    let targets: Vec<Value> = if a.roles {
        ["leader", "follower", "minority-with-leader", "previous"]
            .iter()
            .map(|t| json!(t))
            .collect()
    } else {
        let mut t: Vec<Value> = (0..a.nodes).map(|i| json!({ "nodes": [i] })).collect();
        t.push(json!("previous"));
        t
    };
    let mut v = Vec::new();
    let mut faults = |name: &str, extra: &[Value]| {
        for t in targets.iter().chain(extra) {
            v.push(json!({ "do": name, "target": t }));
        }
    };
    if allowed(NemesisKind::Kill) {
        faults("kill", &[json!("all")]);
    }
    if allowed(NemesisKind::Pause) {
        faults("pause", &[]);
    }
    if allowed(NemesisKind::PowerLoss) {
        faults("power-loss", &[json!("all")]);
    }
    if allowed(NemesisKind::Partition) && a.nodes > 1 {
        faults("isolate", &[]);
        let centers: Vec<Value> = if a.roles {
            vec![json!("previous"), json!("follower"), json!("longest-log")]
        } else {
            vec![json!("previous")]
        };
        let excepts: Vec<Value> = if a.roles {
            vec![json!("leader"), json!("paused")]
        } else {
            vec![json!("paused")]
        };
        for center in &centers {
            for except in &excepts {
                v.push(json!({ "do": "star", "center": center, "except": except }));
            }
        }
        if a.roles && allowed(NemesisKind::Pause) {
            v.push(json!({ "do": "star", "center": "paused" }));
        }
        if a.nodes >= 3 {
            for shape in ["bridge", "majorities-ring"] {
                v.push(json!({ "do": "partition", "shape": shape }));
            }
        }
    }
    if allowed(NemesisKind::Drop) && a.nodes > 1 {
        v.push(json!({ "do": "drop", "percent": 30 }));
    }
    if a.failpoints {
        for (fp, t) in [
            ("crash-after-vote", "all"),
            ("crash-after-vote", "follower"),
            ("crash-after-commit", "leader"),
            ("crash-after-commit", "previous"),
        ] {
            v.push(json!({ "do": "arm", "failpoint": fp, "target": t }));
        }
        v.push(json!({ "do": "disarm" }));
    }
    v.push(json!({ "do": "restart" }));
    v.push(json!({ "do": "resume" }));
    v.push(json!({ "do": "heal" }));
    v
}

/// Seconds a round holds the plan's last faults before it heals them.
pub const HOLD_S: f64 = 2.0;

/// What each run of the search shares: its workload and limits.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The workload.
    pub workload: String,
    /// Nodes.
    pub nodes: u16,
    /// Seconds of workload per run.
    pub time_limit: f64,
    /// Operations per second.
    pub rate: f64,
    /// The system names who leads (a run then starts by waiting for a leader).
    pub roles: bool,
}

/// The scenario named `name` that plays `steps` (the vocabulary's tables)
/// in `frame`, again and again until the time limit: a wait for a leader
/// first when the system can tell, steps that cannot play where they stand
/// (a wait for a crash before any arm) left out, and a tail: the plan's
/// last faults held for [`HOLD_S`] (a leader cut off at the end of a plan
/// needs time to be replaced and read from), halfway through which the
/// nodes the plan brought down come back while the network is still cut
/// as the plan left it (when it kills, cuts power or arms a crash: a node
/// restarting into a partition recovers among other peers than the ones
/// it left), then the cluster put back together (disarm when the plan
/// arms, heal, a second of calm) before the next round. A plan shorter
/// than the run so gets several tries at a timing window, and a failure it
/// found replays more often (shrinking needs it to fail again).
pub fn scenario(name: &str, frame: &Frame, steps: &[Value]) -> Scenario {
    let mut out: Vec<Step> = Vec::new();
    if frame.roles {
        out.push(step(
            &json!({ "do": "wait", "until": "leader", "timeout": 10 }),
        ));
    }
    let mut armed = false;
    let mut brings_down = false;
    for s in steps {
        let name = s.get("do").and_then(Value::as_str).unwrap_or_default();
        armed |= name == "arm";
        brings_down |= matches!(name, "arm" | "kill" | "power-loss");
        if name == "wait" && s.get("until") == Some(&json!("crashed")) && !armed {
            continue;
        }
        out.push(step(s));
    }
    if brings_down {
        out.push(step(&json!({ "do": "sleep", "seconds": HOLD_S / 2.0 })));
        out.push(step(&json!({ "do": "restart" })));
        out.push(step(&json!({ "do": "sleep", "seconds": HOLD_S / 2.0 })));
    } else {
        out.push(step(&json!({ "do": "sleep", "seconds": HOLD_S })));
    }
    if armed {
        out.push(step(&json!({ "do": "disarm" })));
    }
    out.push(step(&json!({ "do": "heal" })));
    out.push(step(&json!({ "do": "sleep", "seconds": 1 })));
    Scenario {
        name: name.to_string(),
        description: format!("explored: {}", describe(steps)),
        workload: frame.workload.clone(),
        nodes: frame.nodes,
        time_limit: frame.time_limit,
        rate: frame.rate,
        request_timeout_ms: None,
        concurrency: None,
        node_args: Vec::new(),
        repeat: true,
        steps: out,
    }
}

/// A vocabulary table as a step (the vocabulary only holds valid ones).
fn step(v: &Value) -> Step {
    serde_json::from_value(v.clone()).expect("the vocabulary's steps parse")
}

/// The steps in one line: `isolate leader, sleep 1, heal`.
pub fn describe(steps: &[Value]) -> String {
    steps.iter().map(short).collect::<Vec<_>>().join(", ")
}

/// One step in a few words: its name, its main argument, then the others
/// as `name=value`.
pub fn short(s: &Value) -> String {
    let name = s.get("do").and_then(Value::as_str).unwrap_or("?");
    let mut words = vec![name.to_string()];
    let Some(map) = s.as_object() else {
        return name.to_string();
    };
    const MAIN: [&str; 4] = ["target", "until", "shape", "seconds"];
    for k in MAIN {
        if let Some(v) = map.get(k) {
            words.push(text(v));
        }
    }
    for (k, v) in map {
        if k != "do" && !MAIN.contains(&k.as_str()) {
            words.push(format!("{k}={}", text(v)));
        }
    }
    words.join(" ")
}

/// A value in a step's words: strings bare, whole numbers without `.0`.
fn text(v: &Value) -> String {
    match v {
        Value::String(t) => t.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x as i64),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_frame(nodes: u16, roles: bool) -> Frame {
        Frame {
            workload: "register".into(),
            nodes,
            time_limit: 5.0,
            rate: 10.0,
            roles,
        }
    }

    /// The steps `s` plays, each in a few words.
    fn played(s: &Scenario) -> Vec<String> {
        s.steps
            .iter()
            .map(|st| short(&serde_json::to_value(st).unwrap()))
            .collect()
    }

    fn abilities(kinds: &str, roles: bool, failpoints: bool) -> Abilities {
        Abilities {
            kinds: kinds.parse().unwrap(),
            nodes: 5,
            roles,
            failpoints,
        }
    }

    #[test]
    fn every_step_of_every_vocabulary_parses_as_a_scenario_step() {
        for a in [
            abilities("all", true, true),
            abilities("all,power-loss", false, false),
            abilities("kill", true, false),
        ] {
            let v: Vec<Value> = vocabulary(&a).concat();
            assert!(v.len() > 10, "{}", v.len());
            let frame = test_frame(5, a.roles);
            let s = scenario("x", &frame, &v);
            let text = crate::scenario::to_toml(&s);
            let back = crate::scenario::parse(&text, std::path::Path::new("x.toml")).unwrap();
            assert_eq!(back[0].steps.len(), s.steps.len());
        }
    }

    #[test]
    fn the_vocabulary_follows_the_allowed_kinds_and_abilities() {
        let names = |a: &Abilities| -> Vec<String> {
            vocabulary(a)
                .concat()
                .iter()
                .map(|s| s["do"].as_str().unwrap().to_string())
                .collect()
        };
        let kill = names(&abilities("kill", false, false));
        assert!(kill.contains(&"kill".to_string()));
        assert!(!kill
            .iter()
            .any(|n| n == "isolate" || n == "pause" || n == "arm"));
        assert!(
            !kill.iter().any(|n| n == "wait"),
            "no status, no waits on leaders"
        );
        let all = names(&abilities("all", true, true));
        assert!(all.contains(&"arm".to_string()) && all.contains(&"star".to_string()));
        assert!(!all.contains(&"power-loss".to_string()));
        assert!(
            names(&abilities("all,power-loss", true, false)).contains(&"power-loss".to_string())
        );
    }

    #[test]
    fn a_wait_for_a_crash_needs_an_arm_before_it() {
        let frame = test_frame(3, false);
        let wait = json!({ "do": "wait", "until": "crashed", "timeout": 5 });
        let arm = json!({ "do": "arm", "failpoint": "crash-after-vote", "target": "all" });
        let words = |s: &Scenario| played(s).join(", ");
        let alone = scenario("a", &frame, std::slice::from_ref(&wait));
        assert_eq!(words(&alone), "sleep 2, heal, sleep 1");
        let armed = scenario("b", &frame, &[arm, wait.clone()]);
        assert_eq!(
            words(&armed),
            "arm all failpoint=crash-after-vote, wait crashed timeout=5, sleep 1, restart down, sleep 1, disarm all, heal, sleep 1"
        );
        assert!(armed.repeat, "plans repeat until the time limit");
        assert_eq!(describe(&[wait]), "wait crashed timeout=5");
    }

    #[test]
    fn a_plan_starts_with_a_leader_when_the_system_names_one() {
        let frame = test_frame(3, true);
        let kill = json!({ "do": "kill", "target": "leader" });
        let s = scenario("c", &frame, &[kill]);
        assert_eq!(played(&s)[0], "wait leader timeout=10");
        assert_eq!(
            s.steps.len(),
            7,
            "wait, kill, hold, restart, hold, heal, calm"
        );
    }

    #[test]
    fn nodes_a_plan_brought_down_come_back_before_the_network_heals() {
        let frame = test_frame(3, true);
        let plays = |steps: &[Value]| played(&scenario("d", &frame, steps));
        let kill_then_cut = plays(&[
            json!({ "do": "kill", "target": "leader" }),
            json!({ "do": "isolate", "target": "leader" }),
        ]);
        let restart = kill_then_cut
            .iter()
            .position(|s| s == "restart down")
            .unwrap();
        let heal = kill_then_cut.iter().position(|s| s == "heal").unwrap();
        assert!(restart < heal, "{kill_then_cut:?}");
        assert!(
            !plays(&[json!({ "do": "isolate", "target": "leader" })])
                .contains(&"restart down".to_string()),
            "nothing down, nothing to restart"
        );
        for brings_down in [
            json!({ "do": "power-loss", "target": "all" }),
            json!({ "do": "arm", "failpoint": "crash-after-vote", "target": "all" }),
        ] {
            assert!(plays(&[brings_down]).contains(&"restart down".to_string()));
        }
    }

    #[test]
    fn neighbours_change_one_field_of_an_action() {
        let v = vocabulary(&abilities("all", true, true));
        let n = neighbours(&v);
        let find = |step: Value, gap: Option<Value>| {
            v.iter()
                .position(|a| a[0] == step && a.get(1) == gap.as_ref())
                .unwrap()
        };
        let kill = find(json!({ "do": "kill", "target": "leader" }), None);
        let isolate = find(json!({ "do": "isolate", "target": "leader" }), None);
        let kill_follower = find(json!({ "do": "kill", "target": "follower" }), None);
        let sleep = Some(json!({ "do": "sleep", "seconds": 2 }));
        let kill_sleep = find(json!({ "do": "kill", "target": "leader" }), sleep.clone());
        let isolate_sleep = find(json!({ "do": "isolate", "target": "leader" }), sleep);
        for near in [isolate, kill_follower, kill_sleep] {
            assert!(n[kill].contains(&near), "{:?}", v[near]);
            assert!(n[near].contains(&kill), "neighbours both ways");
        }
        assert!(!n[kill].contains(&isolate_sleep), "two fields apart");
        assert!(!n[kill].contains(&kill), "not its own neighbour");
        let arm = |t: &str| json!({ "do": "arm", "failpoint": "crash-after-vote", "target": t });
        assert!(n[find(arm("follower"), None)].contains(&find(arm("all"), None)));
        let disarm = find(json!({ "do": "disarm" }), None);
        assert!(
            n[disarm].iter().all(|&j| v[j][0]["do"] != "arm"),
            "an arm has fields a disarm does not"
        );
    }

    #[test]
    fn seeds_are_the_classic_faults_the_allowed_kinds_permit() {
        let named = |kinds: &str, roles: bool| {
            let a = abilities(kinds, roles, true);
            let v = vocabulary(&a);
            seeds(&a, &v)
                .into_iter()
                .map(|plan| {
                    plan.iter()
                        .map(|&i| describe(&v[i]))
                        .collect::<Vec<_>>()
                        .join(" | ")
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            named("all", true),
            [
                "isolate leader, wait new-leader timeout=3",
                "kill leader, wait new-leader timeout=3",
                "pause leader, wait new-leader timeout=3",
                "arm all failpoint=crash-after-vote | isolate leader, wait crashed timeout=3 | \
                 disarm | pause leader | star center=longest-log except=paused | \
                 arm previous failpoint=crash-after-commit | restart, wait crashed timeout=3 | \
                 star center=paused | resume, wait new-leader timeout=3",
            ],
            "the classic faults, then Raft's Figure 8 (failpoints)"
        );
        assert_eq!(
            named("kill,partition", true).len(),
            2,
            "Figure 8 needs pause; kill and isolate only"
        );
        assert_eq!(
            named("all,power-loss", true)[3],
            "power-loss all",
            "power loss of the whole cluster only when allowed"
        );
        assert_eq!(
            named("kill", false),
            [r#"kill {"nodes":[0]}, sleep 2"#],
            "without roles: the first node, then a sleep"
        );
    }

    #[test]
    fn modes_are_nothing_or_a_failpoint_armed_everywhere() {
        assert_eq!(
            modes(&abilities("all", true, false)),
            vec![Vec::<Value>::new()]
        );
        let m = modes(&abilities("all", true, true));
        assert_eq!(m.len(), 3);
        assert!(m[0].is_empty());
        for mode in &m[1..] {
            assert_eq!(mode.len(), 1);
            assert_eq!(mode[0]["do"], "arm");
            assert_eq!(mode[0]["target"], "all");
            let s = scenario("m", &test_frame(3, true), mode);
            assert!(
                played(&s).contains(&"disarm all".to_string()),
                "undone each round"
            );
        }
    }
}

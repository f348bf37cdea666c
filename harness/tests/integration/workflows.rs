//! The shipped GitHub Actions workflows (`.github/workflows/ci.yml`,
//! `nightly.yml`) read back as YAML: the shape GitHub accepts (`on`,
//! `jobs`, each job's `runs-on` and `steps`, each step one `uses` or one
//! `run`, `needs` naming real jobs), and every `run:` step names only
//! scripts and files that exist in the repository, `faultline`
//! subcommands and flags the built binary knows, and a short list of
//! standard commands.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::{Mapping, Value};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn load(name: &str) -> Mapping {
    let path = repo().join(".github/workflows").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match serde_yaml::from_str::<Value>(&text)
        .unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display()))
    {
        Value::Mapping(m) => m,
        other => panic!("{name}: the top level must be a mapping, got {other:?}"),
    }
}

fn get<'a>(m: &'a Mapping, key: &str) -> Option<&'a Value> {
    m.get(Value::String(key.to_string()))
}

fn keys(v: &Value) -> BTreeSet<String> {
    match v {
        Value::Mapping(m) => m
            .keys()
            .filter_map(|k| k.as_str().map(String::from))
            .collect(),
        Value::Sequence(s) => s
            .iter()
            .filter_map(|k| k.as_str().map(String::from))
            .collect(),
        Value::String(s) => BTreeSet::from([s.clone()]),
        _ => BTreeSet::new(),
    }
}

/// Commands a step may run that are not in the repository.
const STANDARD: &[&str] = &["bash", "cargo", "sudo", "export", "[", "if", "then", "fi"];

/// Checks one `run:` script: returns what is wrong with it.
fn check_script(job: &str, script: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for line in script.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        for command in line.split([';', '|', '&']) {
            let words: Vec<&str> = command.split_whitespace().collect();
            let Some(&first) = words.first() else {
                continue;
            };
            let mut rest = &words[1..];
            let program = if first == "bash" || first == "sudo" {
                match rest.split_first() {
                    Some((p, r)) if !p.starts_with('-') => {
                        rest = r;
                        *p
                    }
                    _ => first,
                }
            } else {
                first
            };
            if let Some(bin) = program.strip_prefix("target/release/") {
                problems.extend(check_built(job, bin, rest));
            } else if program.contains('/') {
                let path = repo().join(program.trim_start_matches("./"));
                if !path.is_file() {
                    problems.push(format!(
                        "{job}: `{program}` is not a file of the repository"
                    ));
                }
            } else if !STANDARD.contains(&program) {
                problems.push(format!(
                    "{job}: `{program}` is neither in the repository nor a standard command"
                ));
            }
            for w in rest {
                let is_repo_file = [".toml", ".sh", ".py"].iter().any(|e| w.ends_with(e))
                    && !w.contains('*')
                    && !w.contains('$');
                if is_repo_file && !repo().join(w).is_file() {
                    problems.push(format!("{job}: `{w}` is not a file of the repository"));
                }
            }
        }
    }
    problems
}

/// `target/release/BIN ARGS`: BIN must be a binary of the workspace; for
/// faultline, its subcommand and every flag must be ones it knows.
fn check_built(job: &str, bin: &str, args: &[&str]) -> Vec<String> {
    if bin != "faultline" {
        let known = ["faultline-node"];
        return if known.contains(&bin) {
            Vec::new()
        } else {
            vec![format!(
                "{job}: target/release/{bin} is not a binary of the workspace"
            )]
        };
    }
    let mut sub: Vec<&str> = Vec::new();
    for a in args {
        if a.starts_with('-') || a.contains('/') || a.contains('.') {
            break;
        }
        sub.push(a);
    }
    let help = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(&sub)
        .arg("--help")
        .output()
        .expect("running faultline --help");
    let text = String::from_utf8_lossy(&help.stdout).to_string();
    if !help.status.success() || sub.is_empty() {
        return vec![format!(
            "{job}: `faultline {}` is not a faultline subcommand",
            sub.join(" ")
        )];
    }
    args.iter()
        .filter(|a| a.starts_with("--"))
        .map(|a| a.split('=').next().unwrap_or(a))
        .filter(|flag| !text.contains(&format!("{flag} ")))
        .map(|flag| format!("{job}: `faultline {}` has no option {flag}", sub.join(" ")))
        .collect()
}

/// Checks the workflow's shape; returns its jobs and every problem found.
fn check_workflow(name: &str) -> (Mapping, Vec<String>) {
    let wf = load(name);
    let mut problems = Vec::new();
    if get(&wf, "name").and_then(Value::as_str).is_none() {
        problems.push(format!("{name}: no `name`"));
    }
    if get(&wf, "on").map(keys).unwrap_or_default().is_empty() {
        problems.push(format!("{name}: no `on` triggers"));
    }
    let Some(Value::Mapping(jobs)) = get(&wf, "jobs") else {
        panic!("{name}: `jobs` must be a mapping");
    };
    assert!(!jobs.is_empty(), "{name}: no jobs");
    let job_names: BTreeSet<String> = keys(&Value::Mapping(jobs.clone()));
    for (id, job) in jobs {
        let id = format!("{name}: job {}", id.as_str().unwrap_or("?"));
        let Value::Mapping(job) = job else {
            problems.push(format!("{id}: not a mapping"));
            continue;
        };
        if get(job, "runs-on").and_then(Value::as_str).is_none() {
            problems.push(format!("{id}: no `runs-on`"));
        }
        for need in get(job, "needs").map(keys).unwrap_or_default() {
            if !job_names.contains(&need) {
                problems.push(format!("{id}: needs unknown job {need}"));
            }
        }
        let Some(Value::Sequence(steps)) = get(job, "steps") else {
            problems.push(format!("{id}: no `steps` list"));
            continue;
        };
        assert!(!steps.is_empty(), "{id}: no steps");
        for (n, step) in steps.iter().enumerate() {
            let Value::Mapping(step) = step else {
                problems.push(format!("{id} step {}: not a mapping", n + 1));
                continue;
            };
            match (get(step, "uses"), get(step, "run")) {
                (Some(Value::String(uses)), None) => {
                    let (action, version) = uses.split_once('@').unwrap_or((uses, ""));
                    if action.split('/').count() < 2 || version.is_empty() {
                        problems.push(format!("{id}: `uses: {uses}` is not owner/repo@ref"));
                    }
                }
                (None, Some(Value::String(run))) => problems.extend(check_script(&id, run)),
                _ => problems.push(format!(
                    "{id} step {}: needs one `uses` or one `run`",
                    n + 1
                )),
            }
        }
    }
    (jobs.clone(), problems)
}

fn scripts(jobs: &Mapping) -> Vec<String> {
    jobs.values()
        .filter_map(|j| j.get("steps").and_then(Value::as_sequence))
        .flatten()
        .filter_map(|s| s.get("run").and_then(Value::as_str).map(String::from))
        .collect()
}

#[test]
fn ci_runs_the_repository_check_on_pushes_and_pull_requests() {
    let (jobs, problems) = check_workflow("ci.yml");
    assert!(problems.is_empty(), "{problems:#?}");
    let on = keys(get(&load("ci.yml"), "on").unwrap());
    assert!(on.contains("push") && on.contains("pull_request"), "{on:?}");
    assert!(
        scripts(&jobs).iter().any(|s| s.contains(".ci/run")),
        "ci.yml must run .ci/run"
    );
}

#[test]
fn nightly_runs_every_shard_then_merges_them() {
    let (jobs, problems) = check_workflow("nightly.yml");
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(keys(get(&load("nightly.yml"), "on").unwrap()).contains("schedule"));
    let shards: Vec<u64> = jobs
        .values()
        .filter_map(|j| {
            j.get("strategy")?
                .get("matrix")?
                .get("shard")?
                .as_sequence()
        })
        .flatten()
        .filter_map(Value::as_u64)
        .collect();
    let n = shards.len() as u64;
    assert!(n >= 2, "a matrix of several shards: {shards:?}");
    assert_eq!(shards, (1..=n).collect::<Vec<_>>(), "shards 1..N");
    let all = scripts(&jobs).join("\n");
    assert!(
        all.contains("suite suites/nightly.toml")
            && all.contains(&format!("--shard ${{{{ matrix.shard }}}}/{n}")),
        "each runner runs its slice of the nightly suite, out of {n}:\n{all}"
    );
    assert!(all.contains("suite merge"), "{all}");
    let merge = jobs.values().find(|j| {
        j.get("needs")
            .map(|n| keys(n).contains("slice"))
            .unwrap_or(false)
    });
    let merge = merge.expect("a job that needs the slices");
    let uses: Vec<&str> = merge
        .get("steps")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("uses").and_then(Value::as_str))
        .collect();
    assert!(
        uses.iter()
            .any(|u| u.starts_with("actions/download-artifact")),
        "{uses:?}"
    );
    assert!(uses.iter().any(|u| u.contains("junit")), "{uses:?}");
}

#[test]
fn the_checks_catch_what_they_are_for() {
    let p = check_script("t", "./scripts/no-such.sh\nmake all\ncargo build");
    assert_eq!(p.len(), 2, "{p:?}");
    let p = check_script(
        "t",
        "target/release/faultline suite suites/nope.toml --shards 1/2",
    );
    assert!(p.iter().any(|m| m.contains("suites/nope.toml")), "{p:?}");
    assert!(p.iter().any(|m| m.contains("--shards")), "{p:?}");
    let p = check_script("t", "target/release/faultline frobnicate");
    assert!(p.iter().any(|m| m.contains("frobnicate")), "{p:?}");
    assert!(check_script("t", "bash .ci/run").is_empty());
}

//! `faultline check`: check histories recorded by faultline or other tools,
//! with the checkers that judge a history alone (`--model`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::Args;
use faultline::checkers::{self, CheckContext, Checker, CheckerError, RunEvidence};
use faultline::record::{CheckerResult, ResultsRecord};
use faultline::report::{render, Page};
use faultline_checker::history::{pair, Event, Operation};
use faultline_checker::import::{
    line_of_index, read_history_file_with, read_operations_file, Format, ImportOptions,
};
use faultline_checker::model::ModelKind;
use faultline_checker::txn::{self, TxnModel};
use faultline_checker::{CheckOptions, Verdict};

/// Arguments of `faultline check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Checker to judge with: any that judges a history alone, e.g. register,
    /// kv, list-append, set (default: guessed from the operations in each
    /// history; `faultline list models`).
    #[arg(long, value_parser = parse_model)]
    pub model: Option<String>,
    /// Consistency models a transactional history (`--model txn-list-append`
    /// or `txn-rw-register`) must satisfy, Elle's names, comma-separated
    /// (default strict-serializable; `faultline list models`).
    #[arg(long, value_delimiter = ',', value_name = "MODELS")]
    pub consistency_models: Vec<String>,
    /// Further anomalies a transactional check counts as failures (Elle's
    /// names, e.g. G-single-item,internal), comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "ANOMALIES")]
    pub anomalies: Vec<String>,
    /// History format: auto, jsonl, edn (Jepsen history.edn, Porcupine KV) or jepsen-log.
    #[arg(long, default_value = "auto", value_parser = parse_format)]
    pub format: Format,
    /// Print results as JSON, one object per file and line.
    #[arg(long)]
    pub json: bool,
    /// Seconds the check of one file may take before its verdict is unknown.
    #[arg(long, default_value_t = 60.0)]
    pub timeout: f64,
    /// Memory (MiB) the searches may hold together (caches, stored sets,
    /// stacks; not the history itself). A cache that cannot grow is cleared:
    /// the answer stays exact, only time can make it unknown.
    #[arg(long, default_value_t = 512)]
    pub memory_mb: usize,
    /// Drop a last line cut off mid-write (a crashed recorder) instead of failing.
    #[arg(long)]
    pub allow_truncated: bool,
    /// Also write a report page (report.html: timeline, plots, counterexample) for
    /// the history to this file (one history file only).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// History files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// The checkers `--model` names: those that judge a history alone.
fn history_checkers() -> impl Iterator<Item = &'static dyn Checker> {
    faultline::registry::checkers().filter(|c| c.history_only())
}

fn parse_model(s: &str) -> Result<String, String> {
    match history_checkers().find(|c| c.name() == s) {
        Some(c) => Ok(c.name().to_string()),
        None => {
            let names: Vec<&str> = history_checkers().map(|c| c.name()).collect();
            Err(format!("unknown model {s:?}; known: {}", names.join(", ")))
        }
    }
}

/// The checker a history's operations call for: `watch` means watch,
/// `get`/`put` kv, `add` a set, else the model its functions fit (see
/// [`ModelKind::guess`]).
fn guess(ops: &[Operation]) -> Option<&'static str> {
    let has = |f: &str| ops.iter().any(|o| o.f == f);
    if has("watch") {
        return Some("watch");
    }
    if !(has("get") || has("put")) && has("add") {
        return Some("set");
    }
    if !ops.is_empty() && ops.iter().all(|o| o.f == "txn") {
        let uses = |f: &str| {
            ops.iter().any(|o| {
                o.input
                    .as_array()
                    .is_some_and(|mops| mops.iter().any(|m| m[0] == f))
            })
        };
        return if uses("w") {
            Some("txn-rw-register")
        } else {
            Some("txn-list-append")
        };
    }
    ModelKind::guess(ops).map(ModelKind::name)
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

/// Runs the check and returns the process exit code: the worst over all files
/// (a file that could not be checked counts worst of all).
pub fn run(args: &CheckArgs) -> anyhow::Result<i32> {
    // Printing into a closed pipe (`faultline check ... | head`) ends the
    // process quietly, as for other filters, instead of a panic. Only here:
    // `run` must survive writing to a node that died.
    // SAFETY: setting a signal's disposition to the default has no
    // preconditions; no other thread exists yet.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let opts = CheckOptions {
        timeout: (args.timeout > 0.0).then(|| Duration::from_secs_f64(args.timeout)),
        memory_bytes: args.memory_mb << 20,
        consistency_models: args.consistency_models.clone(),
        anomalies: args.anomalies.clone(),
        ..CheckOptions::default()
    };
    let many = args.files.len() > 1;
    if args.report.is_some() && many {
        return Err(anyhow!(
            "--report writes the page of one history: pass one file"
        ));
    }
    let mut worst: Option<Verdict> = Some(Verdict::Valid);
    for file in &args.files {
        match check_file(file, args, &opts) {
            Ok(checked) => {
                if let Some(page) = &args.report {
                    write_report(page, file, &checked)?;
                    eprintln!("report: {}", page.display());
                }
                let Checked {
                    result, warnings, ..
                } = checked;
                for w in &warnings {
                    eprintln!("faultline: warning: {w}");
                }
                worst = worst.map(|w| w.worst(result.verdict));
                if args.json {
                    let line = serde_json::json!({ "file": file, "result": result.detail });
                    println!("{line}");
                } else if many {
                    println!("{}: {}", file.display(), result.first_line());
                    if result.verdict == Verdict::Invalid {
                        for line in result.text.lines().skip(1) {
                            println!("  {line}");
                        }
                    }
                } else {
                    println!("{}", result.text);
                }
            }
            Err(err) => {
                worst = None;
                if args.json {
                    let line = serde_json::json!({ "file": file, "error": format!("{err:#}") });
                    println!("{line}");
                } else {
                    eprintln!("faultline: error: {err:#}");
                }
            }
        }
    }
    Ok(worst
        .map(Verdict::exit_code)
        .unwrap_or(faultline::exit::FAILURE))
}

/// One history checked.
#[derive(Debug)]
struct Checked {
    /// The checker's result.
    result: CheckerResult,
    /// The checker's name (`--model`).
    model: &'static str,
    /// Operations in the history.
    operations: usize,
    /// What the import noticed.
    warnings: Vec<String>,
    /// The events, when a page is to be drawn (empty otherwise).
    events: Vec<Event>,
}

/// Checks one file. Without a report page to draw, the history is streamed
/// (operations are kept, events are not); with one, its events come back too.
fn check_file(file: &Path, args: &CheckArgs, opts: &CheckOptions) -> anyhow::Result<Checked> {
    if let (Some(model), None) = (&args.model, &args.report) {
        if let Ok(model) = model.parse::<TxnModel>() {
            return check_txn_file(file, model, opts);
        }
    }
    let import = ImportOptions {
        allow_truncated: args.allow_truncated,
    };
    let (ops, warnings, events) = if args.report.is_some() {
        let imported = read_history_file_with(file, args.format, import)?;
        let ops = pair(&imported.events, Some(&imported.lines))
            .map_err(|e| anyhow!("{}: {e}", file.display()))?;
        (ops, imported.warnings, imported.events)
    } else {
        let read = read_operations_file(file, args.format, import)?;
        (read.operations, read.warnings, Vec::new())
    };
    let model = match &args.model {
        Some(m) => m.as_str(),
        None => guess(&ops).ok_or_else(|| {
            anyhow!(
                "{}: cannot tell which model fits (no read, write, cas, get, put, append or add); pass --model",
                file.display()
            )
        })?,
    };
    let checker = history_checkers()
        .find(|c| c.name() == model)
        .ok_or_else(|| anyhow!("unknown model {model:?}"))?;
    let refs: Vec<&Operation> = ops.iter().collect();
    let evidence = RunEvidence::default();
    let ctx = CheckContext {
        events: &events,
        operations: Ok(&refs),
        options: opts,
        run: &evidence,
    };
    let started = std::time::Instant::now();
    let judged = checker.check(&ctx).map_err(|e| match e {
        CheckerError::Model(m) => match line_of_index(file, args.format, m.index) {
            Some(line) => anyhow!(
                "{}:{line}: {} does not fit the {model} model: {}",
                file.display(),
                m.describe,
                m.message
            ),
            None => anyhow!("{}: {m}", file.display()),
        },
        other => anyhow::Error::new(other).context(file.display().to_string()),
    })?;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(Checked {
        result: checkers::result(checker, Ok(judged), elapsed_ms),
        model: checker.name(),
        operations: ops.len(),
        warnings,
        events,
    })
}

/// Checks a transactional history read straight into its compact form (no
/// tree of JSON values: a million transactions fit in a few hundred MB).
fn check_txn_file(file: &Path, model: TxnModel, opts: &CheckOptions) -> anyhow::Result<Checked> {
    let checker = history_checkers()
        .find(|c| c.name() == model.name())
        .ok_or_else(|| anyhow!("unknown model {model}"))?;
    let started = std::time::Instant::now();
    let history = txn::read_file(file)?;
    let judged = faultline::checkers::txn::judge(&history, model, opts)
        .with_context(|| format!("checking {}", file.display()))?;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(Checked {
        result: checkers::result(checker, Ok(judged), elapsed_ms),
        model: checker.name(),
        operations: history.txns.len(),
        warnings: Vec::new(),
        events: Vec::new(),
    })
}

/// Writes the report page of one checked history to `page`.
fn write_report(page: &Path, file: &Path, checked: &Checked) -> anyhow::Result<()> {
    let events = &checked.events;
    let refs: Vec<&Operation> = Vec::new();
    let evidence = RunEvidence::default();
    let ctx = CheckContext {
        events,
        operations: Ok(&refs),
        options: &CheckOptions::default(),
        run: &evidence,
    };
    let stats = checkers::run(&checkers::stats::STATS, &ctx);
    let results = ResultsRecord::of_checkers(vec![checked.result.clone(), stats]);
    let ext = faultline::registry::report();
    // Link the history relative to the page when both share a folder.
    let href = match (file.parent(), page.parent()) {
        (Some(a), Some(b)) if a.canonicalize().ok() == b.canonicalize().ok() => file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        _ => std::fs::canonicalize(file)
            .unwrap_or_else(|_| file.to_path_buf())
            .display()
            .to_string(),
    };
    let duration = events.iter().map(|e| e.time).max().unwrap_or(0);
    let html = render(&Page {
        title: file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        facts: vec![
            ("history".into(), file.display().to_string()),
            ("model".into(), checked.model.to_string()),
            ("events".into(), events.len().to_string()),
            ("operations".into(), checked.operations.to_string()),
            ("duration".into(), format!("{:.1} s", duration as f64 / 1e9)),
        ],
        command: Some(format!(
            "faultline check --model {} {}",
            checked.model,
            file.display()
        )),
        results: &results,
        events,
        links: vec![(file.display().to_string(), href)],
        dir: None,
        sections: &ext.sections,
    });
    std::fs::write(page, html).with_context(|| format!("writing {}", page.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_of_a_missing_file_names_it() {
        let args = CheckArgs {
            model: Some("register".into()),
            format: Format::Auto,
            json: false,
            consistency_models: Vec::new(),
            anomalies: Vec::new(),
            timeout: 1.0,
            memory_mb: 64,
            allow_truncated: false,
            report: None,
            files: vec![PathBuf::from("/nonexistent/history.jsonl")],
        };
        let err = check_file(&args.files[0], &args, &CheckOptions::default())
            .context("checking")
            .unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/history.jsonl"));
    }
}

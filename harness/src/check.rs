//! `faultline check`: check histories recorded by faultline or other tools.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::Args;
use faultline::record::ResultsRecord;
use faultline::report::{render, Page};
use faultline_checker::history::{pair, Event};
use faultline_checker::import::{
    line_of_index, read_history_file_with, read_operations_file, Format, ImportOptions,
};
use faultline_checker::model::ModelKind;
use faultline_checker::{check_operations, CheckError, CheckOptions, CheckResult, Verdict};

/// Arguments of `faultline check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Model to check against: register, kv, list-append or set (default: guessed
    /// from the operations in each history).
    #[arg(long, value_parser = parse_model)]
    pub model: Option<ModelKind>,
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

fn parse_model(s: &str) -> Result<ModelKind, String> {
    s.parse()
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
            Ok((result, warnings, events)) => {
                if let Some(page) = &args.report {
                    write_report(page, file, &result, &events)?;
                    eprintln!("report: {}", page.display());
                }
                for w in &warnings {
                    eprintln!("faultline: warning: {w}");
                }
                worst = worst.map(|w| w.worst(result.verdict));
                if args.json {
                    let line = serde_json::json!({ "file": file, "result": result });
                    println!("{line}");
                } else if many {
                    println!("{}: {}", file.display(), first_line(&result));
                    if result.verdict == Verdict::Invalid {
                        print_details(&result);
                    }
                } else {
                    println!("{}", result.render_text());
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

fn first_line(result: &CheckResult) -> String {
    result
        .render_text()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn print_details(result: &CheckResult) {
    for line in result.render_text().lines().skip(1) {
        println!("  {line}");
    }
}

/// Checks one file. Without a report page to draw, the history is streamed
/// (operations are kept, events are not); with one, its events come back too.
fn check_file(
    file: &Path,
    args: &CheckArgs,
    opts: &CheckOptions,
) -> anyhow::Result<(CheckResult, Vec<String>, Vec<Event>)> {
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
    let model = match args.model {
        Some(m) => m,
        None => ModelKind::guess(&ops).ok_or_else(|| {
            anyhow!(
                "{}: cannot tell which model fits (no read, write, cas, get, put, append or add); pass --model",
                file.display()
            )
        })?,
    };
    let result = check_operations(&ops, model, opts).map_err(|e| match e {
        CheckError::Model(m) => match line_of_index(file, args.format, m.index) {
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
    Ok((result, warnings, events))
}

/// Writes the report page of one checked history to `page`.
fn write_report(
    page: &Path,
    file: &Path,
    result: &CheckResult,
    events: &[Event],
) -> anyhow::Result<()> {
    let results = ResultsRecord::of_check(result, faultline::checkers::stats(events));
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
            ("model".into(), result.model.clone()),
            ("events".into(), events.len().to_string()),
            ("operations".into(), result.operations.to_string()),
            ("duration".into(), format!("{:.1} s", duration as f64 / 1e9)),
        ],
        command: Some(format!(
            "faultline check --model {} {}",
            result.model,
            file.display()
        )),
        results: &results,
        events,
        links: vec![(file.display().to_string(), href)],
    });
    std::fs::write(page, html).with_context(|| format!("writing {}", page.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_of_a_missing_file_names_it() {
        let args = CheckArgs {
            model: Some(ModelKind::Register),
            format: Format::Auto,
            json: false,
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

//! Bakes the git commit of the build into `FAULTLINE_COMMIT`, which
//! `test.json` records (`faultline_commit`) and `faultline trend` shows:
//! the `FAULTLINE_COMMIT` of the build's environment when set, else `git
//! rev-parse --short=9 HEAD`, else the first 9 digits of `GITHUB_SHA`
//! (a CI checkout whose git refuses to read the folder), else nothing.
//! The script runs again when HEAD moves (a commit, a checkout), so a
//! build's commit is the one it was built at.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=FAULTLINE_COMMIT");
    println!("cargo:rerun-if-env-changed=GITHUB_SHA");
    let given = std::env::var("FAULTLINE_COMMIT").ok();
    let commit = match given {
        Some(c) => Some(c).filter(|c| !c.is_empty()),
        None => git(&["rev-parse", "--short=9", "HEAD"])
            .inspect(|_| {
                // HEAD, the branch it names and the packed refs: whichever
                // exists changes when HEAD moves.
                let branch = git(&["symbolic-ref", "-q", "HEAD"]);
                for name in ["HEAD", "packed-refs"].into_iter().chain(branch.as_deref()) {
                    if let Some(path) = git(&["rev-parse", "--git-path", name]) {
                        if std::path::Path::new(&path).exists() {
                            println!("cargo:rerun-if-changed={path}");
                        }
                    }
                }
            })
            .or_else(|| {
                std::env::var("GITHUB_SHA")
                    .ok()
                    .filter(|s| s.len() >= 9)
                    .map(|s| s[..9].to_string())
            }),
    };
    if let Some(c) = commit {
        println!("cargo:rustc-env=FAULTLINE_COMMIT={c}");
    }
}

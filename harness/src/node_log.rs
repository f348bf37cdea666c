//! A node's log as the platforms write it (`nodes/<name>.log`: whatever
//! the node printed on stderr, each start of the node marked by a line
//! `--- faultline: starting <name>`), and what a reader wants of it.

/// The line that marks each start of a node in its log.
pub const START_MARK: &str = "--- faultline: starting";

/// The last `n` non-empty lines a node wrote since it was last started,
/// leaving out a stack backtrace (what it said, not where).
pub fn last_words(log: &str, n: usize) -> Vec<String> {
    let since_start = log.rsplit_once(START_MARK).map_or(log, |(_, rest)| rest);
    let said = since_start
        .split_once("\nStack backtrace:")
        .map_or(since_start, |(before, _)| before);
    let lines: Vec<String> = said
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::last_words;

    #[test]
    fn a_refusal_is_told_by_its_last_lines_without_the_backtrace() {
        let log = "--- faultline: starting n5\nold run\n--- faultline: starting n5\nError: starting node n5\n\nCaused by:\n    corrupted WAL record in wal/1.log at offset 5404\n\nStack backtrace:\n   0: main\n";
        assert_eq!(
            last_words(log, 2),
            [
                "Caused by:",
                "corrupted WAL record in wal/1.log at offset 5404"
            ]
        );
        assert_eq!(last_words("", 3), Vec::<String>::new());
        assert_eq!(last_words("--- faultline: starting n0\nbye\n", 1), ["bye"]);
    }
}

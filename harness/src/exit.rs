//! The exit codes every `faultline` command shares (listed by `faultline
//! --help`): a verdict's code, a harness failure, a usage error, an
//! interruption. One place, so no command keeps a second copy (a
//! verdict's own code is `faultline_checker::Verdict::exit_code`).

/// Every checker passed.
pub const VALID: i32 = 0;
/// An anomaly was found.
pub const INVALID: i32 = 1;
/// A checker ran out of time or memory, or the run stopped before its end.
pub const UNKNOWN: i32 = 2;
/// The harness failed (a cluster that would not start, a file not
/// writable), or `faultline check` could not read a history.
pub const FAILURE: i32 = 3;
/// A command line clap refuses (an unknown option, a bad value, an option
/// of another system): sysexits' `EX_USAGE`, apart from every verdict's code.
pub const USAGE: i32 = 64;
/// `faultline run` or `faultline suite` stopped by Ctrl-C or SIGTERM
/// (128 + SIGINT, as shells report it).
pub const INTERRUPTED: i32 = 130;

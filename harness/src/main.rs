//! The `faultline` command line.

fn main() {}

//! The `faultline-node` binary: wiring only.

fn main() {
    eprintln!("faultline-node: not wired yet");
    std::process::exit(3);
}

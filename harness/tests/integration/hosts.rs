//! `faultline run --hosts` without other machines: a fixture makes a
//! network + mount namespace of the test's own (held open by a `sleep`),
//! starts one `sshd` per "host" in it, each listening on its own
//! 127.0.0.2x address with its own host key and a test key generated at
//! test time, and runs `faultline run --hosts FILE` in the same namespace.
//! All hosts share that namespace, so every nftables rule must name source
//! and destination node addresses (see `hosts/platform.rs`).
//!
//! sshd needs real root for its privilege separation (the `sshd` user,
//! `/run/sshd`); these tests run as root, as CI does, and say so and pass
//! trivially otherwise: a user namespace maps only the caller, and sshd's
//! privilege separation needs a second user.
//!
//! After every run: no node process, no `inet faultline` table and no
//! mount under the fixture remains.

use crate::support;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The longest a fixture run may take.
const RUN_LIMIT: Duration = Duration::from_secs(120);

fn is_root() -> bool {
    // SAFETY: a plain getter.
    unsafe { libc::geteuid() == 0 }
}

fn sshd() -> Option<PathBuf> {
    let p = PathBuf::from("/usr/sbin/sshd");
    p.is_file().then_some(p)
}

/// Skips (with a line saying why) where the fixture cannot run.
fn usable() -> bool {
    if !is_root() {
        eprintln!("skipped: the SSH fixture needs root (sshd's privilege separation)");
        return false;
    }
    assert!(
        sshd().is_some(),
        "/usr/sbin/sshd is missing: run scripts/setup.sh (openssh-server)"
    );
    true
}

/// A child killed (with its process group) and reaped on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        // SAFETY: signalling the group the child leads.
        unsafe { libc::killpg(self.0.id() as libc::pid_t, libc::SIGKILL) };
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Several sshd "hosts" in a namespace of the test's own.
struct Fixture {
    dir: tempfile::TempDir,
    holder: Reaped,
    sshds: Vec<Reaped>,
    key: PathBuf,
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn keygen(path: &Path) {
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(path),
    );
}

impl Fixture {
    /// `n` hosts at 127.0.0.21, .22, ...; `no_nft`: indexes of hosts
    /// whose sessions cannot find `nft`.
    fn new(n: usize, no_nft: &[usize]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let holder = Command::new("unshare")
            .args([
                "--net",
                "--mount",
                "--propagation",
                "private",
                "sleep",
                "600",
            ])
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("starting unshare");
        let holder = Reaped(holder);
        let mut f = Fixture {
            key: dir.path().join("id_test"),
            dir,
            holder,
            sshds: Vec::new(),
        };
        // unshare execs sleep once the namespaces exist.
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_link(format!("/proc/{}/exe", f.pid()))
            .map(|p| !p.ends_with("sleep"))
            .unwrap_or(true)
        {
            assert!(Instant::now() < deadline, "unshare did not start sleep");
            std::thread::sleep(Duration::from_millis(10));
        }
        run_ok(f.enter().args(["ip", "link", "set", "lo", "up"]));
        std::fs::create_dir_all("/run/sshd").expect("sshd's privilege separation folder");
        keygen(&f.key);
        let authorized = f.dir.path().join("authorized_keys");
        std::fs::copy(f.key.with_extension("pub"), &authorized).unwrap();
        for i in 0..n {
            let h = f.host_dir(i);
            std::fs::create_dir_all(&h).unwrap();
            keygen(&h.join("host_key"));
            let env = if no_nft.contains(&i) {
                "SetEnv PATH=/usr/bin:/bin\n"
            } else {
                ""
            };
            let config = format!(
                "ListenAddress {addr}:22\nHostKey {key}\nPidFile none\nAuthorizedKeysFile {auth}\n\
                 StrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\nMaxSessions 100\nMaxStartups 100\nLogLevel ERROR\n{env}",
                addr = Self::addr(i),
                key = h.join("host_key").display(),
                auth = authorized.display(),
            );
            std::fs::write(h.join("sshd_config"), config).unwrap();
            let log = std::fs::File::create(h.join("sshd.log")).unwrap();
            let child = f
                .enter()
                .arg("/usr/sbin/sshd")
                .args(["-D", "-e", "-f"])
                .arg(h.join("sshd_config"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .process_group(0)
                .spawn()
                .expect("starting sshd");
            f.sshds.push(Reaped(child));
        }
        for i in 0..n {
            f.wait_listening(i);
        }
        f
    }

    fn pid(&self) -> u32 {
        self.holder.0.id()
    }

    fn addr(i: usize) -> String {
        format!("127.0.0.{}", 21 + i)
    }

    fn host_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("h{}", i + 1))
    }

    /// `nsenter` into the fixture's namespaces.
    fn enter(&self) -> Command {
        let mut c = Command::new("nsenter");
        c.arg("-t")
            .arg(self.pid().to_string())
            .args(["-n", "-m", "--"]);
        c
    }

    fn wait_listening(&self, i: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let want = format!("{}:22", Self::addr(i));
        loop {
            let out = self.enter().args(["ss", "-ltn"]).output().unwrap();
            if String::from_utf8_lossy(&out.stdout).contains(&want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "sshd {} did not listen: {}",
                i + 1,
                std::fs::read_to_string(self.host_dir(i).join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A hosts file for hosts `idx`, with `key` (default: the test key)
    /// and extra `[[host]]` entries appended.
    fn hosts_file(&self, idx: &[usize], key: Option<&Path>, extra: &str) -> PathBuf {
        let mut text = format!(
            "[defaults]\nuser = \"root\"\nkey = \"{}\"\nknown_hosts = \"accept\"\nknown_hosts_file = \"{}\"\n",
            key.unwrap_or(&self.key).display(),
            self.dir.path().join("known_hosts").display()
        );
        for &i in idx {
            text.push_str(&format!(
                "\n[[host]]\nssh = \"{}\"\ndata_dir = \"{}\"\n",
                Self::addr(i),
                self.host_dir(i).join("data").display()
            ));
        }
        text.push_str(extra);
        let path = self.dir.path().join(format!("hosts-{}.toml", rand_tag()));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Starts `faultline run --hosts FILE ARGS` in the namespace.
    fn spawn_run(&self, hosts: &Path, args: &[&str]) -> (Reaped, PathBuf, PathBuf) {
        let store = self.dir.path().join(format!("store-{}", rand_tag()));
        let out = self.dir.path().join(format!("out-{}", rand_tag()));
        let file = std::fs::File::create(&out).unwrap();
        let child = self
            .enter()
            .arg(env!("CARGO_BIN_EXE_faultline"))
            .arg("run")
            .arg("--hosts")
            .arg(hosts)
            .arg("--store")
            .arg(&store)
            .arg("--node-bin")
            .arg(support::faultline_node())
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("starting faultline");
        (Reaped(child), store, out)
    }

    /// Runs `faultline run --hosts FILE ARGS`; its exit code and output,
    /// then the history's nemesis events (and the ends of the node logs
    /// when it did not exit 0).
    fn run(&self, hosts: &Path, args: &[&str]) -> (i32, String) {
        let (mut child, store, out) = self.spawn_run(hosts, args);
        let code = wait(&mut child, RUN_LIMIT);
        let mut text = std::fs::read_to_string(out).unwrap_or_default();
        let history =
            std::fs::read_to_string(store.join("latest").join("history.jsonl")).unwrap_or_default();
        for l in history.lines().filter(|l| l.contains("\"nemesis\"")) {
            text.push_str(&format!("\n{l}"));
        }
        for e in std::fs::read_dir(store.join("latest").join("nodes"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let log = std::fs::read_to_string(e.path()).unwrap_or_default();
            for l in log
                .lines()
                .filter(|l| l.contains("became leader") || l.contains("faultline: starting"))
            {
                text.push_str(&format!("\n{}: {l}", e.file_name().to_string_lossy()));
            }
        }
        if code != 0 {
            let nodes = store.join("latest").join("nodes");
            for e in std::fs::read_dir(nodes).into_iter().flatten().flatten() {
                let log = std::fs::read_to_string(e.path()).unwrap_or_default();
                let lines: Vec<&str> = log.lines().collect();
                text.push_str(&format!("\n--- {}:\n", e.path().display()));
                text.push_str(&lines[lines.len().saturating_sub(15)..].join("\n"));
            }
        }
        (code, text)
    }

    /// Waits (bounded) until a partition is in force: faultline's table
    /// holds drop rules. `out` is the run's output, shown on a timeout.
    fn wait_for_partition(&self, out: &Path) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let t = self
                .enter()
                .args(["nft", "list", "table", "inet", "faultline"])
                .output()
                .unwrap();
            if t.status.success() && String::from_utf8_lossy(&t.stdout).contains("drop") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no partition came: {}",
                std::fs::read_to_string(out).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What remains of runs: node processes, faultline's table, mounts.
    fn leftovers(&self) -> Vec<String> {
        let mut left = Vec::new();
        let marker = self.dir.path().to_string_lossy().to_string();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            let program = cmd.split(' ').next().unwrap_or_default();
            if program.starts_with(&marker) && program.ends_with("/bin/faultline-node") {
                left.push(format!(
                    "process {}: {cmd}",
                    entry.file_name().to_string_lossy()
                ));
            }
        }
        let tables = self
            .enter()
            .args(["nft", "list", "tables"])
            .output()
            .unwrap();
        let tables = String::from_utf8_lossy(&tables.stdout).to_string();
        if tables.contains("faultline") {
            left.push(format!("nftables: {tables}"));
        }
        let mounts = run_ok(self.enter().args(["cat", "/proc/mounts"]));
        left.extend(
            mounts
                .lines()
                .filter(|l| l.contains(&marker))
                .map(|l| format!("mount: {l}")),
        );
        left
    }
}

fn rand_tag() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{}", N.fetch_add(1, Ordering::SeqCst))
}

/// Waits for `child` at most `limit`; its exit code.
fn wait(child: &mut Reaped, limit: Duration) -> i32 {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        assert!(
            Instant::now() < deadline,
            "faultline run did not end within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Short runs: a few seconds of workload each.
const SHORT: &[&str] = &[
    "--time-limit=4",
    "--recovery-time=1",
    "--nemesis-interval=1",
    "--rate=100",
];

fn assert_clean(f: &Fixture) {
    let left = f.leftovers();
    assert!(left.is_empty(), "left behind: {left:#?}");
}

#[test]
fn three_hosts_pass_register_and_set_under_every_fault_and_catch_stale_reads() {
    if !usable() {
        return;
    }
    let f = Fixture::new(3, &[]);
    let hosts = f.hosts_file(&[0, 1, 2], None, "");
    for (workload, seed) in [("register", "1"), ("set", "2")] {
        let mut args = vec!["--workload", workload, "--nemesis", "all", "--seed", seed];
        args.extend(SHORT);
        let (code, out) = f.run(&hosts, &args);
        assert_eq!(code, 0, "{workload} seed {seed}:\n{out}");
        assert!(out.contains("3 nodes"), "{out}");
        assert_clean(&f);
    }
    // A seed fixes the partitions, not who leads when they come: under a
    // loaded gate seed 1 once cut off only followers. Caught at seed 1, 2
    // or 3, as the nightly bug sweep counts it.
    let mut outs = Vec::new();
    let caught = ["--seed=1", "--seed=2", "--seed=3"].iter().any(|seed| {
        let (code, out) = f.run(
            &hosts,
            &[
                "--nemesis=partition",
                seed,
                "--time-limit=8",
                "--nemesis-interval=2",
                "--recovery-time=1",
                "--node-arg=--bug=stale-read",
            ],
        );
        assert_clean(&f);
        outs.push(out);
        code == 1
    });
    assert!(caught, "stale reads must be caught:\n{}", outs.join("\n"));
}

#[test]
#[ignore = "nightly: 5 hosts and two scenarios; the gate keeps 3 hosts under every fault (three_hosts_...)"]
fn five_hosts_pass_register_and_play_scenarios() {
    if !usable() {
        return;
    }
    let f = Fixture::new(5, &[]);
    let hosts = f.hosts_file(&[0, 1, 2, 3, 4], None, "");
    let mut args = vec!["--nemesis", "all", "--seed", "3"];
    args.extend(SHORT);
    let (code, out) = f.run(&hosts, &args);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("5 nodes"), "{out}");
    assert_clean(&f);
    for scenario in ["leader-isolation", "kill-all"] {
        let (code, out) = f.run(
            &hosts,
            &[scenario, "--seed=1", "--time-limit=8", "--recovery-time=1"],
        );
        assert_eq!(code, 0, "{scenario}:\n{out}");
        // The isolated (or killed) leader is replaced: the cut is real.
        let waits: Vec<&str> = out
            .lines()
            .filter(|l| l.contains("\"until\":\"new-leader\""))
            .collect();
        assert!(!waits.is_empty(), "{scenario}:\n{out}");
        assert!(
            waits.iter().all(|l| l.contains("\"met\":true")),
            "{scenario}: no new leader:\n{out}"
        );
        assert_clean(&f);
    }
}

#[test]
fn sigint_in_the_middle_of_a_partition_leaves_nothing_behind() {
    if !usable() {
        return;
    }
    let f = Fixture::new(3, &[]);
    let hosts = f.hosts_file(&[0, 1, 2], None, "");
    let (mut child, _, out) = f.spawn_run(
        &hosts,
        &[
            "--nemesis=partition",
            "--seed=1",
            "--time-limit=60",
            "--nemesis-interval=1",
        ],
    );
    f.wait_for_partition(&out);
    // The nsenter child execs faultline: its pid is faultline's.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.0.id() as libc::pid_t, libc::SIGINT) };
    let code = wait(&mut child, Duration::from_secs(60));
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    assert_eq!(code, 130, "{text}");
    assert_clean(&f);
}

#[test]
fn clean_removes_what_a_killed_harness_left() {
    if !usable() {
        return;
    }
    let f = Fixture::new(3, &[]);
    let hosts = f.hosts_file(&[0, 1, 2], None, "");
    let (mut child, _, out) = f.spawn_run(
        &hosts,
        &[
            "--nemesis=partition",
            "--seed=1",
            "--time-limit=60",
            "--nemesis-interval=1",
        ],
    );
    f.wait_for_partition(&out);
    // SAFETY: signalling our own child (nsenter exec'd faultline).
    unsafe { libc::kill(child.0.id() as libc::pid_t, libc::SIGKILL) };
    wait(&mut child, Duration::from_secs(10));
    assert!(
        f.leftovers().len() >= 4,
        "the nodes and the table outlive a killed harness"
    );
    let clean = f
        .enter()
        .arg(env!("CARGO_BIN_EXE_faultline"))
        .args(["clean", "--hosts"])
        .arg(&hosts)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&clean.stdout).to_string()
        + &String::from_utf8_lossy(&clean.stderr);
    assert_eq!(clean.status.code(), Some(0), "{text}");
    assert_eq!(text.matches("killed process group").count(), 3, "{text}");
    assert!(text.contains("deleted table inet faultline"), "{text}");
    // The killed harness's master connection to each host, detached from
    // it, ended by the local sweep.
    assert!(text.matches("ended SSH master").count() >= 3, "{text}");
    assert_clean(&f);
}

#[test]
fn bad_hosts_are_refused_before_any_node_starts() {
    if !usable() {
        return;
    }
    let f = Fixture::new(3, &[2]);
    let cases: Vec<(&str, PathBuf, &str)> = vec![
        (
            "unreachable",
            f.hosts_file(
                &[0, 1],
                None,
                &format!(
                    "\n[[host]]\nssh = \"127.0.0.29\"\ndata_dir = \"{}\"\n",
                    f.dir.path().join("h9").display()
                ),
            ),
            "127.0.0.29:22: unreachable",
        ),
        (
            "wrong key",
            {
                let other = f.dir.path().join("id_other");
                keygen(&other);
                f.hosts_file(&[0, 1], Some(&other), "")
            },
            "127.0.0.21:22: authentication failed",
        ),
        (
            "missing nft",
            f.hosts_file(&[0, 1, 2], None, ""),
            "host root@127.0.0.23:22: `nft` not found",
        ),
        (
            "listed twice",
            f.hosts_file(
                &[0, 1],
                None,
                &format!(
                    "\n[[host]]\nssh = \"127.0.0.21\"\ndata_dir = \"{}\"\n",
                    f.dir.path().join("h1b").display()
                ),
            ),
            "host 3 (127.0.0.21): listed twice: host 1",
        ),
    ];
    let (code, out) = f.run(
        &f.hosts_file(&[0, 1], None, ""),
        &["--nemesis=kill,power-loss", "--time-limit=2"],
    );
    assert_eq!(code, 64, "{out}");
    assert!(out.contains("filesystem layer"), "{out}");
    for (what, hosts, expect) in cases {
        let (code, out) = f.run(&hosts, &["--time-limit=2"]);
        eprintln!("{what} (exit {code}):\n{out}");
        assert_ne!(code, 0, "{what}: must be refused:\n{out}");
        assert!(
            out.contains(expect),
            "{what}: expected {expect:?} in:\n{out}"
        );
        for i in 0..3 {
            let logs: Vec<PathBuf> = std::fs::read_dir(f.host_dir(i).join("data"))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "log" || x == "pid"))
                .collect();
            assert!(
                logs.is_empty(),
                "{what}: a node started on host {}: {logs:?}",
                i + 1
            );
        }
        assert_clean(&f);
    }
}

/// The acceptance sweep: register and set under every fault at seeds 1-3
/// on 3 and 5 hosts (12 runs of 10 s). Too long for every CI run:
/// `cargo test -p faultline --test hosts -- --ignored`.
#[test]
#[ignore = "nightly: 12 runs, seeds 1-3 on 3 and 5 hosts"]
fn seed_sweep_on_3_and_5_hosts() {
    if !usable() {
        return;
    }
    for n in [3, 5] {
        let f = Fixture::new(n, &[]);
        let hosts = f.hosts_file(&(0..n).collect::<Vec<_>>(), None, "");
        for workload in ["register", "set"] {
            for seed in ["1", "2", "3"] {
                let (code, out) = f.run(
                    &hosts,
                    &[
                        "--workload",
                        workload,
                        "--nemesis=all",
                        "--seed",
                        seed,
                        "--time-limit=10",
                        "--recovery-time=2",
                        "--nemesis-interval=2",
                    ],
                );
                assert_eq!(code, 0, "{n} hosts, {workload} seed {seed}:\n{out}");
                eprintln!("{n} hosts, {workload} seed {seed}: valid");
                assert_clean(&f);
            }
        }
    }
}

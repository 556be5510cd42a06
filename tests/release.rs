//! The release pipeline's checkable parts (docs/releasing.md): the Homebrew formula and Scoop
//! manifest rendered from a SHA256SUMS, the checksums themselves, the archive a platform ships
//! (binary, man page, completions for every shell), what `cargo package` would publish, and that
//! the black-box suite can run against another binary (`AWS_VAULT_BIN`, the static release build).
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::Sandbox;

const VERSION: &str = "1.2.3";
const REPO: &str = "example-org/aws-vault";

/// The artifacts the templates refer to, and fake checksums for them.
const ARTIFACTS: &[&str] = &[
    "darwin-amd64.tar.gz",
    "darwin-arm64.tar.gz",
    "linux-amd64",
    "linux-amd64.tar.gz",
    "linux-arm64.tar.gz",
    "windows-amd64.exe",
    "windows-amd64.zip",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fake_sum(i: usize) -> String {
    format!("{:064x}", 0xabc0 + i)
}

fn write_sums(dir: &Path, skip: &str) -> PathBuf {
    let text: String = ARTIFACTS
        .iter()
        .enumerate()
        .filter(|(_, a)| **a != skip)
        .map(|(i, a)| format!("{}  aws-vault-{VERSION}-{a}\n", fake_sum(i)))
        .collect();
    let path = dir.join("SHA256SUMS");
    std::fs::write(&path, text).unwrap();
    path
}

fn render(sums: &Path, out: &Path) -> Output {
    Command::new("python3")
        .arg(root().join("packaging/release.py"))
        .args(["render", "--version", VERSION, "--repo", REPO, "--sums"])
        .arg(sums)
        .arg("--templates")
        .arg(root().join("packaging"))
        .arg("--out")
        .arg(out)
        .output()
        .expect("python3 is required (scripts/test installs it)")
}

fn sum_of(artifact: &str) -> String {
    fake_sum(ARTIFACTS.iter().position(|a| *a == artifact).unwrap())
}

fn url_of(artifact: &str) -> String {
    format!("https://github.com/{REPO}/releases/download/v{VERSION}/aws-vault-{VERSION}-{artifact}")
}

#[test]
fn scoop_manifest_renders_from_sha256sums() {
    let dir = tempfile::tempdir().unwrap();
    let out = render(&write_sums(dir.path(), ""), &dir.path().join("out"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.path().join("out/aws-vault.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).expect("Scoop manifest is JSON");
    assert_eq!(json["version"], VERSION);
    assert_eq!(json["bin"], "aws-vault.exe");
    let x64 = &json["architecture"]["64bit"];
    assert_eq!(x64["url"], url_of("windows-amd64.zip"));
    assert_eq!(x64["hash"], sum_of("windows-amd64.zip"));
    // Scoop's autoupdate fills $version itself and reads the hash from the release's SHA256SUMS.
    let auto = &json["autoupdate"]["architecture"]["64bit"];
    assert!(auto["url"].as_str().unwrap().contains("$version"), "{auto}");
    assert!(auto["hash"]["url"]
        .as_str()
        .unwrap()
        .ends_with("/SHA256SUMS"));
}

#[test]
fn homebrew_formula_renders_from_sha256sums() {
    let dir = tempfile::tempdir().unwrap();
    let out = render(&write_sums(dir.path(), ""), &dir.path().join("out"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = dir.path().join("out/aws-vault.rb");
    let text = std::fs::read_to_string(&file).unwrap();
    // Every url line is followed by the sha256 of exactly that file.
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut seen = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(url) = line.strip_prefix("url ") {
            let url = url.trim_matches('"');
            let artifact = url
                .strip_prefix(&url_of(""))
                .unwrap_or_else(|| panic!("unexpected url {url}"));
            assert_eq!(lines[i + 1], format!("sha256 \"{}\"", sum_of(artifact)));
            seen.push(artifact.to_string());
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "darwin-amd64.tar.gz",
            "darwin-arm64.tar.gz",
            "linux-amd64.tar.gz",
            "linux-arm64.tar.gz"
        ]
    );
    assert!(text.contains(&format!("version \"{VERSION}\"")));
    assert!(!text.contains("{{"), "{text}");
    // Ruby itself parses it (Debian's ruby; scripts/test installs it).
    let ruby = Command::new("ruby")
        .arg("-c")
        .arg(&file)
        .output()
        .expect("ruby is required for this test (apt-get install ruby)");
    assert!(
        ruby.status.success(),
        "{}",
        String::from_utf8_lossy(&ruby.stderr)
    );
}

#[test]
fn render_refuses_an_artifact_missing_from_sha256sums() {
    let dir = tempfile::tempdir().unwrap();
    let out = render(
        &write_sums(dir.path(), "windows-amd64.zip"),
        &dir.path().join("out"),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("aws-vault-1.2.3-windows-amd64.zip is not in SHA256SUMS"),
        "{stderr}"
    );
    assert!(!dir.path().join("out/aws-vault.json").exists());
}

/// `scripts/release package`: the bare binary and the archive of one platform, made from the
/// binary under test, then checked the way a user does (`sha256sum -c`) and unpacked.
#[test]
fn release_archive_holds_binary_man_page_and_every_completion() {
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    let run = |args: &[&str]| {
        let out = Command::new("bash")
            .arg(root().join("scripts/release"))
            .args(args)
            .arg("--out")
            .arg(&dist)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/release {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // The debug binary is hundreds of MB; archive a wrapper that runs it, so the archive holds
    // a small file and the docs still come from the binary under test.
    let bin = dir.path().join("aws-vault");
    std::fs::write(
        &bin,
        format!("#!/bin/sh\nexec '{}' \"$@\"\n", common::bin().display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    run(&["package", "linux-amd64", bin.to_str().unwrap()]);
    run(&["sums"]);
    let version = env!("CARGO_PKG_VERSION");
    let name = format!("aws-vault-{version}-linux-amd64");
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    let listed: Vec<&str> = sums.lines().map(|l| &l[66..]).collect();
    assert_eq!(listed, [name.clone(), format!("{name}.tar.gz")]);
    let check = Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(&dist)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );

    let unpacked = dir.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let tar = Command::new("tar")
        .arg("-xzf")
        .arg(dist.join(format!("{name}.tar.gz")))
        .arg("-C")
        .arg(&unpacked)
        .output()
        .unwrap();
    assert!(
        tar.status.success(),
        "{}",
        String::from_utf8_lossy(&tar.stderr)
    );
    let top = unpacked.join(&name);
    let mut files: Vec<String> = walk(&top)
        .iter()
        .map(|p| p.strip_prefix(&top).unwrap().display().to_string())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "README.md",
            "aws-vault",
            "aws-vault.1",
            "completions/_aws-vault",
            "completions/aws-vault.bash",
            "completions/aws-vault.fish",
            "completions/aws-vault.ps1",
        ]
    );
    let mode = std::fs::metadata(top.join("aws-vault"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        std::fs::read(top.join("aws-vault")).unwrap(),
        std::fs::read(&bin).unwrap()
    );

    // The shipped man page renders and has every command.
    let man = Command::new("man")
        .arg("-l")
        .arg(top.join("aws-vault.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man is required for this test (apt-get install man-db groff-base)");
    assert!(
        man.status.success(),
        "{}",
        String::from_utf8_lossy(&man.stderr)
    );
    let text = String::from_utf8_lossy(&man.stdout);
    for c in [
        "add", "remove", "list", "rotate", "exec", "export", "clear", "login",
    ] {
        assert!(text.contains(&format!("aws-vault {c}")), "{c} missing");
    }
    // The shipped completion scripts parse in their shells and are the ones the binary prints.
    let s = Sandbox::new();
    for (file, flag) in [
        ("_aws-vault", "--completion-script-zsh"),
        ("aws-vault.bash", "--completion-script-bash"),
        ("aws-vault.fish", "--completion-script-fish"),
        ("aws-vault.ps1", "--completion-script-powershell"),
    ] {
        let shipped = std::fs::read_to_string(top.join("completions").join(file)).unwrap();
        assert_eq!(shipped, s.run(&[flag]).ok().stdout, "{file}");
    }
    let bash = Command::new("bash")
        .arg("-n")
        .arg(top.join("completions/aws-vault.bash"))
        .output()
        .unwrap();
    assert!(
        bash.status.success(),
        "{}",
        String::from_utf8_lossy(&bash.stderr)
    );
    let fish = Command::new("fish")
        .arg("--no-execute")
        .arg(top.join("completions/aws-vault.fish"))
        .output()
        .expect("fish is required for this test (apt-get install fish)");
    assert!(
        fish.status.success(),
        "{}",
        String::from_utf8_lossy(&fish.stderr)
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Every test that runs aws-vault goes through `common::bin()`, so `AWS_VAULT_BIN` reruns the
/// whole black-box suite against another binary. A test naming cargo's binary directly would
/// silently keep testing the debug build.
#[test]
fn every_test_takes_the_binary_from_the_harness() {
    let mut offenders = Vec::new();
    for file in walk(&root().join("tests")) {
        // The harness itself, and this file's check of the harness, name cargo's binary.
        if file.extension().is_none_or(|e| e != "rs")
            || file.ends_with("tests/common/mod.rs")
            || file.ends_with("tests/release.rs")
        {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        if text.contains("CARGO_BIN_EXE_aws-vault") {
            offenders.push(file.display().to_string());
        }
    }
    assert!(offenders.is_empty(), "use common::bin() in {offenders:?}");
}

#[test]
fn harness_runs_the_binary_named_by_aws_vault_bin() {
    let program = PathBuf::from(Sandbox::new().cmd(&[]).get_program());
    match std::env::var_os("AWS_VAULT_BIN").filter(|v| !v.is_empty()) {
        Some(bin) => assert_eq!(program, std::fs::canonicalize(bin).unwrap()),
        None => assert_eq!(program, PathBuf::from(env!("CARGO_BIN_EXE_aws-vault"))),
    }
}

/// What `cargo publish` would upload: the sources, docs and lock file, no test fixtures, CI or
/// packaging files.
#[test]
fn cargo_package_ships_sources_and_docs_only() {
    let out = Command::new(env!("CARGO"))
        .args(["package", "--list", "--allow-dirty", "--offline"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = String::from_utf8_lossy(&out.stdout);
    for f in list.lines() {
        let allowed = f.starts_with("src/")
            || f.starts_with("docs/")
            || [
                "Cargo.toml",
                "Cargo.toml.orig",
                "Cargo.lock",
                "README.md",
                "build.rs",
                ".cargo_vcs_info.json",
            ]
            .contains(&f);
        assert!(allowed, "{f} would be published");
    }
    for f in [
        "src/main.rs",
        "src/lib.rs",
        "build.rs",
        "Cargo.lock",
        "README.md",
    ] {
        assert!(list.lines().any(|l| l == f), "{f} missing from the package");
    }
}

//! The systemd unit in `deploy/`: `systemd-analyze verify` accepts it without a warning, and
//! what the README tells a person to configure under it can be written under its
//! `ProtectSystem=strict`.
//!
//! `systemd-analyze` comes with Debian's `systemd` package (`scripts/lib.sh` installs it); without
//! it the verify test prints `SKIPPED: <reason>` and passes. It needs no running systemd.

use std::path::{Path, PathBuf};
use std::process::Command;

const UNIT: &str = "minewatch.service";
const INSTALLED_BINARY: &str = "/usr/local/bin/minewatch";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn unit_text() -> String {
    std::fs::read_to_string(repo().join("deploy").join(UNIT)).expect("deploy/minewatch.service")
}

/// The values of `Key=` lines of the unit (comments skipped).
fn values<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    let prefix = format!("{key}=");
    unit.lines().filter_map(|l| l.trim().strip_prefix(prefix.as_str())).collect()
}

fn systemd_analyze() -> Option<PathBuf> {
    ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].iter().map(PathBuf::from).find(|p| p.is_file())
}

/// `systemd-analyze verify` on the unit as shipped, with only ExecStart's binary pointed at the
/// one just built (verify checks that it exists; the unit names its installed place). The man
/// page named by `Documentation=` is generated, not installed, so `--man=no`.
#[test]
fn systemd_analyze_verify_passes_without_warnings() {
    let Some(analyze) = systemd_analyze() else {
        println!("SKIPPED: systemd-analyze not found (Debian package systemd)");
        return;
    };
    let unit = unit_text();
    let exec = values(&unit, "ExecStart");
    assert_eq!(exec.len(), 1, "one ExecStart line");
    assert!(exec[0].starts_with(INSTALLED_BINARY), "{}", exec[0]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(UNIT);
    let built = env!("CARGO_BIN_EXE_minewatch");
    std::fs::write(
        &path,
        unit.replacen(&format!("ExecStart={INSTALLED_BINARY}"), &format!("ExecStart={built}"), 1),
    )
    .unwrap();
    let out = Command::new(&analyze).args(["verify", "--man=no"]).arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "systemd-analyze verify failed ({}):\n{stdout}{stderr}", out.status);
    // Unknown keys, bad values and missing commands are warnings with exit status 0; any line
    // about our unit is one.
    let ours: Vec<&str> =
        stderr.lines().chain(stdout.lines()).filter(|l| l.contains(UNIT) || l.contains(built)).collect();
    assert!(ours.is_empty(), "systemd-analyze verify warns about the unit:\n{}", ours.join("\n"));

    // Positive control: the same verify does complain about a unit with an unknown key.
    let broken = unit
        .replacen(&format!("ExecStart={INSTALLED_BINARY}"), &format!("ExecStart={built}"), 1)
        .replacen("[Service]\n", "[Service]\nNoSuchSetting=1\n", 1);
    std::fs::write(&path, broken).unwrap();
    let out = Command::new(&analyze).args(["verify", "--man=no"]).arg(&path).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("NoSuchSetting"), "{out:?}");
}

/// Under `ProtectSystem=strict` the service writes only in the directories systemd makes for it:
/// the unit must make the log and state directories, and every path the README's configuration
/// for the unit writes (outputs, spool) must lie in one of them.
#[test]
fn readme_paths_are_writable_under_the_unit() {
    let unit = unit_text();
    assert_eq!(values(&unit, "ProtectSystem"), ["strict"]);
    let mut writable: Vec<PathBuf> = Vec::new();
    for (key, base) in [("LogsDirectory", "/var/log"), ("StateDirectory", "/var/lib")] {
        for v in values(&unit, key) {
            writable.extend(v.split_whitespace().map(|d| Path::new(base).join(d)));
        }
    }
    assert!(
        writable.contains(&PathBuf::from("/var/lib/minewatch")),
        "no StateDirectory=minewatch: {writable:?}"
    );

    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let section = readme.split("**systemd.**").nth(1).expect("README has a **systemd.** paragraph");
    let toml_text = section
        .split("```toml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a ```toml block after **systemd.**");
    let table: toml::Table = toml::from_str(toml_text).unwrap();
    let mut paths = Vec::new();
    for key in ["output", "spool"] {
        let items = match table.get(key) {
            Some(toml::Value::Array(a)) => a.clone(),
            Some(v) => vec![v.clone()],
            None => Vec::new(),
        };
        for v in items {
            let s = v.as_str().unwrap_or_default().to_string();
            // File outputs only: `[FORMAT:]PATH`, not standard output or the network.
            let s = s
                .split_once(':')
                .filter(|(f, _)| ["json", "cef", "ecs", "eve"].contains(f))
                .map_or(s.clone(), |(_, p)| p.to_string());
            if s.starts_with('/') {
                paths.push(PathBuf::from(s));
            }
        }
    }
    assert!(
        paths.iter().any(|p| p.starts_with("/var/lib/minewatch")),
        "the README's example has no spool: {paths:?}"
    );
    for p in &paths {
        assert!(
            writable.iter().any(|w| p.starts_with(w)),
            "{} is read-only under the unit ({writable:?})",
            p.display()
        );
    }
    // And the README's command-line example does not send the spool elsewhere.
    assert!(!readme.contains("/var/spool/minewatch"), "README still shows --spool /var/spool/minewatch");
}

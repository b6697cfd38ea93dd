//! The Debian package (issue 19): `scripts/package.sh --dev --no-build` packages the debug
//! binary the tests were built with (a release build takes minutes on two cores), and the test
//! checks what the .deb holds (`dpkg-deb -c`: every file at its path, with its mode, owned by
//! root), its control fields and maintainer scripts (`dpkg-deb -I`), then extracts it
//! (`dpkg-deb -x`) and uses what it installs: `systemd-analyze verify` on the unit, the
//! configuration file through `minewatch --test-config`, the man page through groff, the bash
//! completion through `bash -n`, and the logrotate file through logrotate (a real rotation in a
//! temporary folder).
//!
//! `scripts/test.sh` installs cargo-deb, dpkg-dev, logrotate and groff (`ensure_package_tools`
//! in `scripts/lib.sh`); without cargo-deb or dpkg-deb the test says SKIPPED, and each later
//! check whose tool is missing says so and is left out.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::util;

fn tool(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/usr/sbin", "/bin", "/sbin"].iter().map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn have_cargo_deb() -> bool {
    Command::new(cargo()).args(["deb", "--version"]).output().is_ok_and(|o| o.status.success())
}

/// The target directory the test binary was built in (`.../target/debug/minewatch`).
fn target_dir() -> PathBuf {
    let bin = Path::new(util::bin());
    bin.parent().and_then(Path::parent).expect("the binary lies in <target>/debug/").to_owned()
}

/// Builds the package with the repository's script and returns its path.
fn build_deb() -> PathBuf {
    let out = Command::new("bash")
        .arg(util::repo_root().join("scripts/package.sh"))
        .args(["--dev", "--no-build"])
        .env("CARGO_TARGET_DIR", target_dir())
        .current_dir(util::repo_root())
        .output()
        .expect("run scripts/package.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "scripts/package.sh failed ({}):\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let path = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
    assert!(path.extension().is_some_and(|e| e == "deb") && path.is_file(), "no .deb: {stdout}");
    path
}

fn dpkg_deb(args: &[&str], deb: &Path) -> String {
    let out = Command::new("dpkg-deb").args(args).arg(deb).output().expect("run dpkg-deb");
    assert!(out.status.success(), "dpkg-deb {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// `dpkg-deb -c` as path -> (mode string, owner).
fn contents(deb: &Path) -> Vec<(String, String, String)> {
    dpkg_deb(&["-c"], deb)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let path = f.get(5)?.trim_start_matches('.').to_string();
            Some((path, f.first()?.to_string(), f.get(1)?.to_string()))
        })
        .collect()
}

/// The unit's place: /lib or /usr/lib, as the cargo-deb version decides.
fn unit_path(files: &[(String, String, String)]) -> String {
    files
        .iter()
        .map(|(p, _, _)| p.clone())
        .find(|p| p.ends_with("/systemd/system/minewatch.service"))
        .expect("the package holds minewatch.service")
}

#[test]
fn the_deb_holds_and_installs_what_it_should() {
    if tool("dpkg-deb").is_none() {
        println!("SKIPPED: dpkg-deb not found (Debian package dpkg)");
        return;
    }
    if !have_cargo_deb() {
        println!("SKIPPED: cargo-deb not installed (scripts/test.sh installs it: cargo install cargo-deb)");
        return;
    }
    let deb = build_deb();

    // Every file at its path, with its mode, owned by root.
    let files = contents(&deb);
    let unit = unit_path(&files);
    assert!(["/lib/systemd/system/minewatch.service", "/usr/lib/systemd/system/minewatch.service"]
        .contains(&unit.as_str()));
    let expected = [
        ("/usr/bin/minewatch", "-rwxr-xr-x"),
        ("/usr/share/man/man1/minewatch.1.gz", "-rw-r--r--"),
        ("/usr/share/bash-completion/completions/minewatch", "-rw-r--r--"),
        ("/usr/share/zsh/vendor-completions/_minewatch", "-rw-r--r--"),
        ("/usr/share/fish/vendor_completions.d/minewatch.fish", "-rw-r--r--"),
        ("/etc/minewatch/minewatch.toml", "-rw-r--r--"),
        ("/etc/logrotate.d/minewatch", "-rw-r--r--"),
        (unit.as_str(), "-rw-r--r--"),
    ];
    for (path, mode) in expected {
        let found = files.iter().find(|(p, _, _)| p == path);
        let Some((_, m, owner)) = found else {
            panic!("{path} is not in the package:\n{}", dpkg_deb(&["-c"], &deb));
        };
        assert_eq!(m.as_str(), mode, "{path}");
        assert!(["root/root", "0/0"].contains(&owner.as_str()), "{path} is owned by {owner}");
    }

    // Control fields, conffiles, maintainer scripts.
    let info = dpkg_deb(&["-I"], &deb);
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")).map(str::to_string))
            .unwrap_or_else(|| panic!("no {name}: field in\n{info}"))
    };
    assert_eq!(field("Package"), "minewatch");
    assert_eq!(field("Section"), "net");
    let depends = field("Depends");
    assert!(depends.contains("libpcap0.8"), "Depends: {depends}");
    assert!(depends.contains("libc6"), "Depends: {depends}");
    let conffiles = dpkg_deb(&["-I"], &deb).contains("conffiles");
    assert!(conffiles, "{info}");
    let out = Command::new("dpkg-deb").arg("-I").arg(&deb).arg("conffiles").output().unwrap();
    let conffiles = String::from_utf8_lossy(&out.stdout);
    for f in ["/etc/minewatch/minewatch.toml", "/etc/logrotate.d/minewatch"] {
        assert!(conffiles.lines().any(|l| l.trim() == f), "{f} is not a conffile: {conffiles}");
    }
    let out = Command::new("dpkg-deb").arg("-I").arg(&deb).arg("postinst").output().unwrap();
    let postinst = String::from_utf8_lossy(&out.stdout);
    assert!(postinst.contains("daemon-reload"), "postinst does not reload systemd:\n{postinst}");
    assert!(!postinst.contains("#DEBHELPER#"), "cargo-deb left its token:\n{postinst}");
    assert!(!postinst.contains("deb-systemd-invoke start"), "the package must not start the service");

    // Install it into a folder, and use what it installed.
    let root = tempfile::tempdir().unwrap();
    let out = Command::new("dpkg-deb").arg("-x").arg(&deb).arg(root.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let at = |p: &str| root.path().join(p.trim_start_matches('/'));
    let bin = at("/usr/bin/minewatch");
    let v = Command::new(&bin).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("minewatch "), "{v:?}");

    check_unit(&at(&unit), &bin);
    check_config(&at("/etc/minewatch/minewatch.toml"), &bin, root.path());
    check_man_page(&at("/usr/share/man/man1/minewatch.1.gz"));
    check_completions(&at("/usr/share/bash-completion/completions/minewatch"));
    check_logrotate(&at("/etc/logrotate.d/minewatch"), root.path());
}

/// `systemd-analyze verify` on the installed unit, ExecStart pointed at the extracted binary.
fn check_unit(unit: &Path, bin: &Path) {
    let text = std::fs::read_to_string(unit).unwrap();
    assert!(text.contains("\nExecStart=/usr/bin/minewatch --config /etc/minewatch/minewatch.toml"), "{text}");
    let settings: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with('#')).collect();
    assert!(
        !settings.iter().any(|l| l.contains("/usr/local/")),
        "the packaged unit names /usr/local:\n{text}"
    );
    let Some(analyze) = tool("systemd-analyze") else {
        println!("SKIPPED (unit): systemd-analyze not found (Debian package systemd)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("minewatch.service");
    std::fs::write(
        &copy,
        text.replacen("ExecStart=/usr/bin/minewatch", &format!("ExecStart={}", bin.display()), 1),
    )
    .unwrap();
    // The man page Documentation= names is in the extracted tree, not in MANPATH: --man=no.
    let out = Command::new(analyze).args(["verify", "--man=no"]).arg(&copy).output().unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "systemd-analyze verify failed:\n{all}");
    let ours: Vec<&str> = all.lines().filter(|l| l.contains("minewatch.service")).collect();
    assert!(ours.is_empty(), "systemd-analyze verify warns about the packaged unit:\n{}", ours.join("\n"));
}

/// The example configuration passes `--test-config` with every option it sets; only the
/// interface (a placeholder) and the service's directories are pointed at ones that exist here.
fn check_config(conf: &Path, bin: &Path, root: &Path) {
    let text = std::fs::read_to_string(conf).unwrap();
    let table: toml::Table = toml::from_str(&text).expect("the example configuration is TOML");
    for key in ["interface", "output", "spool", "home-net", "stats-interval", "metrics"] {
        assert!(table.contains_key(key), "the example sets no {key}");
    }
    assert!(text.contains("interface = [\"eth1\"]"), "the placeholder interface changed: update this test");
    let logs = root.join("var/log/minewatch");
    let state = root.join("var/lib/minewatch");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::create_dir_all(&state).unwrap();
    let here = text
        .replace("interface = [\"eth1\"]", "interface = [\"lo\"]")
        .replace("/var/log/minewatch", &logs.display().to_string())
        .replace("/var/lib/minewatch", &state.display().to_string());
    let copy = root.join("minewatch.toml");
    std::fs::write(&copy, here).unwrap();
    let out = Command::new(bin).arg("--test-config").arg("--config").arg(&copy).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "--test-config refuses the packaged configuration:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("capture:   lo"), "{stdout}");
    assert!(stdout.contains("metrics:   http://127.0.0.1:9464/metrics"), "{stdout}");

    // Positive control: a key the binary does not have is refused the same way.
    std::fs::write(&copy, format!("{text}\nno-such-option = 1\n").replace("\"eth1\"", "\"lo\"")).unwrap();
    let out = Command::new(bin).arg("--test-config").arg("--config").arg(&copy).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-option"));
}

/// The man page renders through groff without a warning (`-ww`: every warning).
fn check_man_page(page: &Path) {
    let out = Command::new("gzip").arg("-dc").arg(page).output().expect("gzip");
    assert!(out.status.success());
    let roff = out.stdout;
    assert!(String::from_utf8_lossy(&roff).contains(".TH minewatch 1"), "not a man page");
    let Some(groff) = tool("groff") else {
        println!("SKIPPED (man page): groff not found (Debian package groff-base)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("minewatch.1");
    std::fs::write(&plain, &roff).unwrap();
    let out = Command::new(groff).args(["-man", "-Tutf8", "-ww", "-z"]).arg(&plain).output().unwrap();
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && warnings.trim().is_empty(),
        "groff warns about the man page:\n{warnings}"
    );
    // Positive control: groff does report a broken request.
    std::fs::write(&plain, [roff.as_slice(), b"\n.nosuchrequest\n.TP x y\n"].concat()).unwrap();
    let out = Command::new("groff").args(["-man", "-Tutf8", "-ww", "-z"]).arg(&plain).output().unwrap();
    assert!(!out.stderr.is_empty(), "groff -ww said nothing about a broken page");
}

fn check_completions(bash: &Path) {
    let text = std::fs::read_to_string(bash).unwrap();
    assert!(text.contains("complete") && text.contains("--watchlist"), "{text}");
    let out = Command::new("bash").arg("-n").arg(bash).output().expect("bash");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// logrotate reads the file without an error and, forced, rotates an output file: moved to
/// `.1`, no new file made (minewatch makes it when it reopens), the postrotate run.
fn check_logrotate(conf: &Path, root: &Path) {
    let text = std::fs::read_to_string(conf).unwrap();
    assert!(text.contains("systemctl reload minewatch"), "postrotate does not send SIGHUP:\n{text}");
    let Some(logrotate) = tool("logrotate") else {
        println!("SKIPPED (logrotate): logrotate not found (Debian package logrotate)");
        return;
    };
    let logs = root.join("rotate-test");
    std::fs::create_dir_all(&logs).unwrap();
    let alerts = logs.join("alerts.json");
    std::fs::write(&alerts, "{\"event_type\":\"mining\"}\n").unwrap();
    let copy = root.join("logrotate.conf");
    std::fs::write(&copy, text.replace("/var/log/minewatch", &logs.display().to_string())).unwrap();
    let state = root.join("logrotate.state");
    let run = |extra: &[&str]| {
        let out = Command::new(&logrotate).args(extra).arg("-s").arg(&state).arg(&copy).output().unwrap();
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && !all.contains("error"), "logrotate {extra:?}:\n{all}");
        all
    };
    let debug = run(&["-d"]);
    assert!(debug.contains("alerts.json"), "{debug}");
    assert!(alerts.is_file(), "logrotate -d changed something");
    run(&["-f"]);
    assert!(
        logs.join("alerts.json.1").is_file(),
        "not rotated: {:?}",
        std::fs::read_dir(&logs).unwrap().count()
    );
    assert!(!alerts.exists(), "nocreate: minewatch makes the new file when it reopens");
}

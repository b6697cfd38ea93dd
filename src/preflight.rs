//! `--test-config` (like `suricata -T`): everything a run would load or open first, checked
//! without capturing, so that a configuration can be tried before a service is restarted on it,
//! by a person without the capture privileges.
//!
//! The lists are loaded by the same function a run and a reload use ([`load_file`]), so a file the check passes is a file the run reads. What cannot be
//! known without doing it is left alone: the metrics address is not bound (the sensor being
//! replaced may hold it), no capture is opened, and a writable directory is judged by
//! `access(2)` for the user running the check, who may not be the service's user.

use std::fmt::Write as _;
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};

use crate::config::{Config, RunMode};
use crate::intel::lists::{load_file, Loaded, Role};
use crate::intel::Lists;
use crate::output::Target;

/// What one list file gave, in words: `12 more` for a plain pool list (as before), `3
/// addresses` for a plain watchlist, every count for the other formats.
fn describe(role: Role, l: &Loaded) -> String {
    use crate::intel::feeds::Format;
    match (l.format, role) {
        (Format::Plain, Role::Pools) if l.nets == 0 => format!("{} more", l.domains),
        (Format::Plain | Format::JsonList, Role::Watchlist) => format!("{} addresses", l.wallets),
        _ => {
            let mut parts = vec![l.format.name().to_string()];
            let counts =
                [(l.domains, "pool domains"), (l.nets, "pool addresses/ranges"), (l.wallets, "wallets")];
            parts.extend(counts.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")));
            if l.skipped > 0 {
                parts.push(format!("{} entries of other kinds skipped", l.skipped));
            }
            parts.join(", ")
        }
    }
}

/// Checks the configuration `cfg` (the same [`Config`] a run is given, so the check and the run
/// read the options alike). `Ok`: what the run would do, several lines for a person. `Err`: one
/// line per problem (without the `minewatch: ` prefix).
pub fn check(cfg: &Config) -> Result<String, Vec<String>> {
    let mut problems = Vec::new();
    let mut out = String::new();
    let mut line = |label: &str, text: &str| {
        let _ = writeln!(out, "{label:<11}{text}");
    };

    if let Some(path) = &cfg.config_file {
        line("config:", &path.display().to_string());
    }
    match &cfg.mode {
        RunMode::Files(files) => {
            for path in files {
                if let Err(e) = check_capture_file(path) {
                    problems.push(format!("{path}: {e}"));
                }
            }
            let shown: Vec<&str> =
                files.iter().map(|p| if p == "-" { "standard input" } else { p }).collect();
            line("read:", &shown.join(", "));
            if let Some(f) = &cfg.replay.filter {
                line("", &format!("filter \"{f}\""));
            }
            if let Some(e) = &cfg.evidence {
                line("evidence:", &e.dir.display().to_string());
            }
        }
        RunMode::Live(captures) => {
            let names: Vec<String> = captures.iter().map(|o| o.iface.clone()).collect();
            problems.extend(check_interfaces(&names));
            // Every interface is captured with the same filter, snap length and buffer.
            if let Some(o) = captures.first() {
                if let Err(e) = check_filter(&o.filter) {
                    problems.push(format!("--filter: {e}"));
                }
                line("capture:", &names.join(", "));
                line("", &format!("filter \"{}\"", o.filter));
                let sharing = if cfg.fanout {
                    format!("one capture per worker, shared by the kernel; shunt up to {} flows", cfg.shunt)
                } else {
                    "one reader hands packets to the workers (--no-fanout)".to_string()
                };
                line(
                    "",
                    &format!("snaplen {}, buffer {} MiB per capture; {sharing}", o.snaplen, o.buffer_mb),
                );
            }
        }
    }
    line("workers:", &cfg.workers.to_string());
    let nets: Vec<String> = cfg.home_net.nets().iter().map(ToString::to_string).collect();
    line("home net:", &nets.join(", "));

    let options = &cfg.output_options;
    let mut tcp_outputs = false;
    for (i, spec) in cfg.outputs.iter().enumerate() {
        let format = spec.format.unwrap_or(options.default_format);
        let (kind, check) = match &spec.target {
            Target::Stdout => ("standard output", Ok(())),
            Target::File(p) => ("file", check_output_file(p)),
            Target::SyslogUdp(a) => ("syslog over UDP", check_address(a)),
            Target::SyslogTcp(a) => {
                tcp_outputs = true;
                ("syslog over TCP", check_address(a))
            }
            Target::SyslogTls(t) => {
                tcp_outputs = true;
                // The CA, certificate and key files load as they will at start.
                let check = check_address(&t.addr).and_then(|()| {
                    crate::output::tls::client_config(t).map(|_| ()).map_err(CheckError::from)
                });
                ("syslog over TLS", check)
            }
            Target::Redis(r) => {
                tcp_outputs = true;
                ("redis", check_address(&r.addr))
            }
        };
        if let Err(e) = check {
            problems.push(format!("output {}: {e}", spec.label()));
        }
        let label = if i == 0 { "outputs:" } else { "" };
        // The target without the format prefix: the format is said after it for every output.
        let target =
            crate::output::OutputSpec { format: None, target: spec.target.clone(), types: spec.types }
                .label();
        line(label, &format!("{target} ({kind}, {})", format.as_str()));
    }
    match (&options.spool, tcp_outputs) {
        (Some(dir), true) => {
            if let Err(e) = check_dir_creatable(dir) {
                problems.push(format!("--spool {}: {e}", dir.display()));
            }
            let mib = options.spool_max_bytes >> 20;
            line("spool:", &format!("{} (at most {mib} MiB per output)", dir.display()));
        }
        (Some(dir), false) => {
            line("spool:", &format!("{} (unused: no syslog+tcp, syslog+tls or redis output)", dir.display()))
        }
        (None, _) => {}
    }
    if let Some(window) = options.suppress {
        line("suppress:", &humantime::format_duration(window).to_string());
    }
    let plan = &cfg.report;
    let reports = [
        ("--report", &plan.html, "page"),
        ("--report-json", &plan.json, "report JSON"),
        ("--export-stix", &plan.stix, "STIX 2.1 bundle"),
        ("--export-misp", &plan.misp, "MISP event"),
    ];
    let mut first_report = true;
    for (option, path, what) in reports {
        let Some(path) = path else { continue };
        if let Err(e) = check_output_file(path) {
            problems.push(format!("{option} {}: {e}", path.display()));
        }
        let label = if std::mem::take(&mut first_report) { "report:" } else { "" };
        line(
            label,
            &format!(
                "{} ({what}, at the end{})",
                path.display(),
                if cfg.is_live() { " and on SIGHUP" } else { "" }
            ),
        );
    }
    if !first_report && (plan.stix.is_some() || plan.misp.is_some()) {
        line("", &format!("exports marked {}", plan.tlp.misp_tag()));
    }

    let mut lists = Lists { pools: crate::intel::PoolDomains::builtin(), ..Lists::default() };
    line("pools:", &format!("{} shipped domains", lists.pools.domains()));
    let files = cfg.lists.pool_lists.iter().map(|p| (Role::Pools, p));
    let mut first_watchlist = true;
    for (role, path) in files.chain(cfg.lists.watchlists.iter().map(|p| (Role::Watchlist, p))) {
        match load_file(role, path, &mut lists) {
            Ok(loaded) => {
                let label = match role {
                    Role::Pools => "",
                    Role::Watchlist if std::mem::take(&mut first_watchlist) => "watchlist:",
                    Role::Watchlist => "",
                };
                line(label, &format!("{}: {}", path.display(), describe(role, &loaded)));
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    match cfg.metrics {
        Some(addr) => line("metrics:", &format!("http://{addr}/metrics")),
        None => line("metrics:", "off"),
    }
    let stats = match cfg.stats_interval {
        Some(d) if d.is_zero() => "one record, at exit".to_string(),
        Some(d) => format!("every {} s", d.as_secs()),
        None => "none".to_string(),
    };
    line("stats:", &stats);
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Why one thing a run would open fails its check (said after what it is about).
#[derive(Debug, thiserror::Error)]
enum CheckError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("is a directory")]
    IsDirectory,
    #[error("{}: {source}", path.display())]
    At { path: PathBuf, source: Box<CheckError> },
    #[error("directory {}: {source}", dir.display())]
    Directory { dir: PathBuf, source: Box<CheckError> },
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// `access(2)` said no.
    #[error("not writable ({})", .0.desc())]
    NotWritable(nix::Error),
    #[error("{0}")]
    Filter(#[from] pcap::Error),
    /// A TLS output's CA, certificate or key file, or its server name.
    #[error("{0}")]
    Tls(#[from] crate::output::tls::TlsError),
    #[error("name resolves to no address")]
    NoAddress,
}

/// A capture file the run could open: it exists, is not a directory, and can be read.
fn check_capture_file(path: &str) -> Result<(), CheckError> {
    if path == "-" {
        return Ok(());
    }
    let f = std::fs::File::open(path)?;
    // A directory stands for the captures below it (`-r DIR`).
    f.metadata().map(drop).map_err(Into::into)
}

/// Each interface that libpcap does not list, as `IFACE: no such interface`. libpcap lists
/// interfaces to anyone (no capture is opened), including its `any` pseudo-interface.
fn check_interfaces(wanted: &[String]) -> Vec<String> {
    let devices = match pcap::Device::list() {
        Ok(d) => d,
        Err(e) => return vec![format!("cannot list the network interfaces: {e}")],
    };
    wanted
        .iter()
        .filter(|w| !devices.iter().any(|d| &d.name == *w))
        .map(|w| format!("{w}: no such interface"))
        .collect()
}

/// The filter compiled by libpcap, for Ethernet (what a SPAN port gives): a syntax error is
/// caught here; an expression that only fails on another link type is not.
fn check_filter(filter: &str) -> Result<(), CheckError> {
    let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET)?;
    dead.compile(filter, true)?;
    Ok(())
}

/// A file output the run could open for appending: an existing file must be writable, a new
/// one needs a writable directory (the run creates the file, not the directory).
fn check_output_file(path: &Path) -> Result<(), CheckError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(CheckError::IsDirectory),
        Ok(_) => writable(path),
        Err(_) => {
            let dir = parent_dir(path);
            let in_dir = |e: CheckError| CheckError::Directory { dir: dir.clone(), source: Box::new(e) };
            match std::fs::metadata(&dir) {
                Ok(m) if m.is_dir() => writable(&dir).map_err(in_dir),
                Ok(_) => Err(CheckError::NotADirectory(dir.clone())),
                Err(e) => Err(in_dir(e.into())),
            }
        }
    }
}

/// A directory the run could create (with its parents) and write in: the nearest existing
/// ancestor must be a writable directory.
fn check_dir_creatable(dir: &Path) -> Result<(), CheckError> {
    let mut at = dir.to_path_buf();
    loop {
        match std::fs::metadata(&at) {
            Ok(m) if m.is_dir() => {
                return writable(&at).map_err(|e| {
                    if at == dir {
                        e
                    } else {
                        CheckError::At { path: at.clone(), source: Box::new(e) }
                    }
                })
            }
            Ok(_) => return Err(CheckError::NotADirectory(at)),
            Err(_) => match at.parent() {
                Some(p) if !p.as_os_str().is_empty() => at = p.to_path_buf(),
                _ => return writable(Path::new(".")),
            },
        }
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `access(2)` with `W_OK`: also says no on a read-only file system (systemd's
/// `ProtectSystem=strict` outside the unit's own directories).
fn writable(path: &Path) -> Result<(), CheckError> {
    nix::unistd::access(path, nix::unistd::AccessFlags::W_OK).map_err(CheckError::NotWritable)
}

/// A syslog address that resolves, as the run resolves it when it starts.
fn check_address(addr: &str) -> Result<(), CheckError> {
    match addr.to_socket_addrs().map(|mut it| it.next()) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(CheckError::NoAddress),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_directories_must_exist_and_be_writable() {
        let d = tempfile::tempdir().unwrap();
        assert!(check_output_file(&d.path().join("alerts.json")).is_ok());
        let e = check_output_file(&d.path().join("nosuch/alerts.json")).unwrap_err().to_string();
        assert!(e.contains("nosuch") && e.contains("No such file"), "{e}");
        assert_eq!(check_output_file(d.path()).unwrap_err().to_string(), "is a directory");
        let file = d.path().join("plain");
        std::fs::write(&file, "x").unwrap();
        assert!(check_output_file(&file.join("alerts.json"))
            .unwrap_err()
            .to_string()
            .contains("is not a directory"));
        // The spool directory is created with its parents; a file in the way is not.
        assert!(check_dir_creatable(&d.path().join("a/b/spool")).is_ok());
        assert!(check_dir_creatable(&file.join("spool"))
            .unwrap_err()
            .to_string()
            .contains("is not a directory"));
    }

    #[test]
    fn filters_and_interfaces() {
        assert!(check_filter(crate::cli::DEFAULT_FILTER).is_ok());
        assert!(check_filter("tcp port").is_err());
        assert_eq!(check_interfaces(&["nosuch0".into()]), vec!["nosuch0: no such interface"]);
        assert!(check_interfaces(&["lo".into()]).is_empty());
    }
}

//! What a deployed sensor needs around the command line: the `--config` TOML file, the checks
//! that only make sense once every source of options is known, and the man page and shell
//! completions, all derived from the one clap definition in [`crate::cli`].
//!
//! The configuration file is not a second schema to keep in step with the flags: each key is a
//! long option name (`home-net`, or `home_net`), and its value becomes that option on a
//! synthetic command line placed *before* the real one. So every flag, including ones added
//! later, has a key with the same parser, validation and default, and an option given on the
//! command line wins over the file because the file's copy of it is never added.
//!
//! Before the merge, each key's value is run alone through its option's own clap parser, so a
//! refused value is reported as one line naming the file and the key (clap's own message names
//! neither, and spans several lines with a usage block meant for the command line). A TOML
//! array is the option repeated for a repeatable option, and comma-joined for an option whose
//! one value is a comma-separated list (`COMMA_LISTS`).

use std::ffi::OsString;
use std::path::Path;

use clap::error::{ContextKind, ErrorKind};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};

use crate::cli::Args;

/// Options that are not keys of the configuration file: they act on the run of the program
/// itself (help, version, the file itself, the check of it, the generators).
const NOT_KEYS: &[&str] =
    &["help", "version", "config", "test-config", "generate-completions", "generate-man"];

/// Options that take one value holding a comma-separated list: a TOML array for one of them is
/// joined with commas, so `home-net = ["10.0.0.0/8", "192.168.0.0/16"]` means what
/// `--home-net 10.0.0.0/8,192.168.0.0/16` means. Repeatable options (`-r`, `-i`, `-o`,
/// `--pool-list`, `--watchlist`) take an array as the option given once per item instead.
const COMMA_LISTS: &[&str] = &["home-net"];

/// The configuration file's size bound: a sensor's options fit in far less.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Why the options could not be settled. Both are usage errors (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// From clap: printed with its own formatting (and `--help`/`--version` exit 0).
    #[error(transparent)]
    Clap(#[from] clap::Error),
    /// One line per problem, each without the `minewatch: ` prefix (several only when the
    /// configuration file has several bad keys).
    #[error("{0}")]
    Usage(String),
}

/// Parses the process's arguments, merged with `--config FILE` when given, and validated.
pub fn load() -> Result<Args, LoadError> {
    load_from(std::env::args_os())
}

/// [`load`] over any argument list (the first item is the program name).
pub fn load_from<I, T>(argv: I) -> Result<Args, LoadError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    // First pass: the command line alone, with the input requirement relaxed because the
    // inputs may come from the file. It tells where `--config` is and what the user typed.
    let pre = relaxed_command().try_get_matches_from(&argv)?;
    // The generators are exclusive (clap refuses them with any other option) and need no input.
    if pre.get_flag("generate_man") || pre.contains_id("generate_completions") {
        return Ok(Args::from_arg_matches(&pre)?);
    }
    let Some(path) = pre.get_one::<std::path::PathBuf>("config") else {
        let args = Args::from_arg_matches(&Args::command().try_get_matches_from(&argv)?)?;
        crate::config::validate(&args).map_err(|e| LoadError::Usage(e.to_string()))?;
        return Ok(args);
    };
    let shown = path.display();
    let file = file_args(path, &pre)?;
    let mut merged = Vec::with_capacity(argv.len() + file.argv.len());
    merged.extend(argv.first().cloned());
    merged.extend(file.argv.iter().cloned());
    merged.extend(argv.iter().skip(1).cloned());
    let m = Args::command().try_get_matches_from(&merged).map_err(|e| {
        // Every key's value was checked alone, so what is left is a clash between options
        // (both `read` and `interface` in the file) or no input at all.
        let key_of = |kind| {
            let long = e.get(kind).and_then(|v| long_of(&v.to_string()))?;
            file.used_key(&long).map(str::to_string)
        };
        match (e.kind(), key_of(ContextKind::InvalidArg)) {
            (ErrorKind::MissingRequiredArgument, _) => LoadError::Usage(format!(
                "{shown}: no input: give `read` or `interface` here, or -r or -i on the command line"
            )),
            (ErrorKind::ArgumentConflict, Some(key)) => {
                let other =
                    key_of(ContextKind::PriorArg).map_or_else(|| clap_problem(&e), |k| format!("`{k}`"));
                LoadError::Usage(format!("{shown}: key `{key}`: cannot be used with {other}"))
            }
            (_, Some(key)) => LoadError::Usage(format!("{shown}: key `{key}`: {}", clap_problem(&e))),
            (_, None) => LoadError::Clap(e),
        }
    })?;
    let args = Args::from_arg_matches(&m)?;
    crate::config::validate(&args).map_err(|e| {
        // Said of the key when the option came from the file.
        let why = e.to_string();
        let long = e.option();
        match file.used_key(long) {
            Some(key) => {
                // `--LONG VALUE: reason` → `VALUE: reason`.
                let rest = why.get(long.len() + 2..).unwrap_or("").trim_start_matches([' ', ':']);
                LoadError::Usage(format!("{shown}: key `{key}`: {rest}"))
            }
            _ => LoadError::Usage(why),
        }
    })?;
    Ok(args)
}

/// The command without its "an input is required" rule: for a first look at the command line,
/// and for checking one key of the file at a time.
fn relaxed_command() -> clap::Command {
    Args::command().mut_group("input", |g| g.required(false))
}

/// The long option name in clap's rendering of an argument (`--workers <N>` → `workers`).
fn long_of(shown: &str) -> Option<String> {
    let rest = shown.strip_prefix("--").or_else(|| shown.split(", --").nth(1))?;
    let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    (!name.is_empty()).then_some(name)
}

/// A clap error as one line without clap's `error: ` prefix, usage block or `--help` tip.
/// A refused value reads `invalid value 'V': WHY`, since the key is named by the caller.
fn clap_problem(e: &clap::Error) -> String {
    let value = e.get(ContextKind::InvalidValue).map(|v| v.to_string());
    match (e.kind(), value) {
        (ErrorKind::ValueValidation, Some(v)) => match std::error::Error::source(e) {
            Some(why) => format!("invalid value '{v}': {why}"),
            None => format!("invalid value '{v}'"),
        },
        (ErrorKind::InvalidValue, Some(v)) => match e.get(ContextKind::ValidValue) {
            Some(ok) => format!("invalid value '{v}' (possible values: {ok})"),
            None => format!("invalid value '{v}'"),
        },
        _ => {
            let text = e.render().to_string();
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("invalid");
            first.trim().trim_start_matches("error:").trim().to_string()
        }
    }
}

/// What the configuration file adds to the command line.
struct FileArgs {
    /// The options, placed before the command line's.
    argv: Vec<OsString>,
    /// Every key of the file, for messages.
    keys: Vec<FileKey>,
}

/// A key of the configuration file.
struct FileKey {
    /// The option's long name (`home-net`).
    long: String,
    /// As the file spells it (`home_net`).
    key: String,
    /// Whether its value is used: the command line did not give the option.
    used: bool,
}

impl FileArgs {
    /// The key of the file that gave the option `long`, when its value is used.
    fn used_key(&self, long: &str) -> Option<&str> {
        self.keys.iter().find(|k| k.used && k.long == long).map(|k| k.key.as_str())
    }
}

/// A TOML value's kind, with its article, for messages.
fn kind_of(v: &toml::Value) -> String {
    let t = v.type_str();
    let article =
        if matches!(t.as_bytes().first(), Some(b'a' | b'e' | b'i' | b'o' | b'u')) { "an" } else { "a" };
    format!("{article} {t}")
}

/// The configuration file as command-line arguments, leaving out every option that the command
/// line (`pre`) already gives. Every key's value is checked first, alone, by the option's own
/// clap value parser, so that a refusal names the file and the key in one line.
fn file_args(path: &Path, pre: &clap::ArgMatches) -> Result<FileArgs, LoadError> {
    let shown = path.display();
    let text = read_bounded(path).map_err(|e| LoadError::Usage(format!("{shown}: {e}")))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        let msg = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
        match e.span() {
            Some(span) => {
                let before = text.get(..span.start).unwrap_or("");
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
                LoadError::Usage(format!("{shown}: line {line}, column {column}: {msg}"))
            }
            None => LoadError::Usage(format!("{shown}: {msg}")),
        }
    })?;
    let cmd = Args::command();
    let from_cli = |id: &str| pre.value_source(id) == Some(ValueSource::CommandLine);
    // The inputs are one choice: `-r` on the command line replaces the file's `interface`.
    let input_on_cli = from_cli("read") || from_cli("interface");
    let mut out = FileArgs { argv: Vec::new(), keys: Vec::new() };
    // Every bad key is reported, one line each, so that one edit mends the file.
    let mut problems = Vec::new();
    for (key, value) in &table {
        match file_key(&cmd, key, value) {
            Ok((long, id, options)) => {
                if let Some(other) = out.keys.iter().find(|k| k.long == long) {
                    problems.push(format!("{shown}: key `{key}`: given twice (also as `{}`)", other.key));
                    continue;
                }
                let is_input = id == "read" || id == "interface";
                let used = !(from_cli(&id) || (is_input && input_on_cli));
                out.keys.push(FileKey { long, key: key.clone(), used });
                if used {
                    out.argv.extend(options);
                }
            }
            Err(what) => problems.push(format!("{shown}: key `{key}`: {what}")),
        }
    }
    if !problems.is_empty() {
        return Err(LoadError::Usage(problems.join("\n")));
    }
    Ok(out)
}

/// What is wrong with one key of the configuration file (said after the file and the key).
#[derive(Debug, thiserror::Error)]
enum KeyError {
    #[error("not an option (the keys are the long option names of --help)")]
    NotAnOption,
    /// A flag's value is not a boolean; `found` is the TOML kind with its article.
    #[error("expected true or false, found {found}")]
    NotABoolean { found: String },
    #[error("expected {expected}, found {found}")]
    WrongKind { expected: &'static str, found: String },
    #[error("takes one value, found an array of {0}")]
    TooMany(usize),
    /// The option's own clap parser refused the value (clap's reason, on one line).
    #[error("{0}")]
    Refused(String),
}

/// One key of the file: its option's long name and id, and its value as that option's
/// arguments once clap's parser for the option accepts them; or what is wrong with it.
fn file_key(
    cmd: &clap::Command,
    key: &str,
    value: &toml::Value,
) -> Result<(String, String, Vec<OsString>), KeyError> {
    let long = key.replace('_', "-");
    let arg = cmd
        .get_arguments()
        .find(|a| a.get_long() == Some(long.as_str()) && !NOT_KEYS.contains(&long.as_str()))
        .ok_or(KeyError::NotAnOption)?;
    let options = option_values(arg, &long, value)?;
    // The option alone, through clap: the same parser, range and possible values as on the
    // command line, and an error that can be pinned on this key.
    let mut alone = vec![OsString::from("minewatch")];
    alone.extend(options.iter().cloned());
    relaxed_command().try_get_matches_from(alone).map_err(|e| KeyError::Refused(clap_problem(&e)))?;
    Ok((long, arg.get_id().to_string(), options))
}

/// A key's TOML value as the option's command-line arguments (`--long=VALUE`, one per value),
/// or why the value has the wrong shape.
fn option_values(arg: &clap::Arg, long: &str, value: &toml::Value) -> Result<Vec<OsString>, KeyError> {
    if !arg.get_action().takes_values() {
        return match value {
            toml::Value::Boolean(true) => Ok(vec![OsString::from(format!("--{long}"))]),
            toml::Value::Boolean(false) => Ok(Vec::new()),
            v => Err(KeyError::NotABoolean { found: kind_of(v) }),
        };
    }
    let scalar = |v: &toml::Value, expected: &'static str| match v {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        v => Err(KeyError::WrongKind { expected, found: kind_of(v) }),
    };
    let repeatable = matches!(arg.get_action(), clap::ArgAction::Append);
    let comma_list = COMMA_LISTS.contains(&long);
    let values: Vec<String> = match value {
        toml::Value::Array(items) if repeatable || comma_list => {
            let inner =
                items.iter().map(|v| scalar(v, "an array of strings")).collect::<Result<Vec<_>, _>>()?;
            if comma_list {
                vec![inner.join(",")]
            } else {
                inner
            }
        }
        toml::Value::Array(items) => match items.as_slice() {
            [one] => vec![scalar(one, "a string or a number")?],
            _ => return Err(KeyError::TooMany(items.len())),
        },
        v if repeatable || comma_list => vec![scalar(v, "a string or an array of strings")?],
        v => vec![scalar(v, "a string or a number")?],
    };
    Ok(values.into_iter().map(|v| OsString::from(format!("--{long}={v}"))).collect())
}

fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let mut text = String::new();
    f.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(std::io::Error::other(format!("larger than {MAX_CONFIG_BYTES} bytes")));
    }
    Ok(text)
}

/// The man page, in roff, generated from the clap definition.
pub fn man_page() -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(breakable_defaults(Args::command())).render(&mut out)?;
    Ok(out)
}

/// A long default without a space (`--home-net`'s list of ranges) is one word to troff, wider
/// than a man page's line, and troff warns that it "can't break line": the man page shows such
/// a default at the end of the option's text instead, a space after each comma. The value
/// itself still comes from the one definition.
fn breakable_defaults(cmd: clap::Command) -> clap::Command {
    let long: Vec<(clap::Id, String)> = cmd
        .get_arguments()
        .filter_map(|a| {
            let d: Vec<String> =
                a.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
            let d = d.join(",");
            (d.len() > 40 && !d.contains(' ')).then(|| (a.get_id().clone(), d))
        })
        .collect();
    long.into_iter().fold(cmd, |cmd, (id, default)| {
        cmd.mut_arg(id, |a| {
            let shown = format!(" [default: {}]", default.replace(',', ", "));
            let help = a.get_help().map(|h| format!("{h}{shown}"));
            let long_help = a.get_long_help().map(|h| format!("{h}{shown}"));
            let a = a.hide_default_value(true);
            let a = match help {
                Some(h) => a.help(h),
                None => a,
            };
            match long_help {
                Some(h) => a.long_help(h),
                None => a,
            }
        })
    })
}

/// A completion script for `shell`, generated from the clap definition.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Args::command(), "minewatch", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn config(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn load_with(f: &tempfile::NamedTempFile, extra: &[&str]) -> Result<Args, LoadError> {
        let p = f.path().to_str().unwrap().to_string();
        let mut argv = vec!["minewatch".to_string(), "--config".into(), p];
        argv.extend(extra.iter().map(|s| s.to_string()));
        load_from(argv)
    }

    fn usage(r: Result<Args, LoadError>) -> String {
        match r {
            Err(LoadError::Usage(m)) => m,
            Err(LoadError::Clap(e)) => panic!("expected a one-line usage error, got clap: {e}"),
            Ok(a) => panic!("expected an error, got {a:?}"),
        }
    }

    #[test]
    fn file_supplies_options_and_command_line_wins() {
        let f = config(
            "interface = [\"eth1\", \"eth2\"]\nstats-interval = 30\nquiet = true\n\
             home_net = \"192.0.2.0/24\"\nworkers = 3\noutput = \"/tmp/from-file.json\"\n",
        );
        let a = load_with(&f, &[]).unwrap();
        assert_eq!(a.interface, vec!["eth1", "eth2"]);
        assert_eq!(a.stats_interval, Some(30));
        assert!(a.quiet);
        assert_eq!(a.workers, Some(3));
        assert!(a.home_net.contains("192.0.2.9".parse().unwrap()));
        assert_eq!(a.outputs(), vec!["/tmp/from-file.json".parse::<crate::output::OutputSpec>().unwrap()]);

        let b = load_with(&f, &["--workers", "5", "-o", "-", "-i", "eth9"]).unwrap();
        assert_eq!(b.workers, Some(5));
        assert_eq!(b.outputs(), vec!["-".parse::<crate::output::OutputSpec>().unwrap()]);
        assert_eq!(b.interface, vec!["eth9"], "the command line's interfaces replace the file's");
        assert_eq!(b.stats_interval, Some(30), "what the command line leaves alone comes from the file");

        // An input of the other kind on the command line replaces the file's input entirely.
        let c = load_with(&f, &["-r", "x.pcap"]).unwrap();
        assert_eq!(c.read, vec!["x.pcap"]);
        assert!(c.interface.is_empty());
    }

    #[test]
    fn a_tls_output_and_its_files_come_from_the_file() {
        let spec = "cef:syslog+tls://siem.example:6514?ca=/etc/minewatch/ca.pem&name=siem";
        let f = config(&format!("interface = \"eth1\"\noutput = [\"-\", \"{spec}\"]\n"));
        let a = load_with(&f, &[]).unwrap();
        assert_eq!(a.outputs()[1], spec.parse::<crate::output::OutputSpec>().unwrap());
        key_error(
            &config("interface = \"eth1\"\noutput = \"syslog+tls://h:6514?cert=/c.pem\"\n"),
            "output",
            "cert= and key= go together",
        );
    }

    /// Asserts one line `FILE: key `KEY`: ...` containing `needle`.
    fn key_error(f: &tempfile::NamedTempFile, key: &str, needle: &str) {
        let m = usage(load_with(f, &[]));
        let prefix = format!("{}: key `{key}`: ", f.path().display());
        assert!(m.starts_with(&prefix), "{m:?} should start with {prefix:?}");
        assert!(m.contains(needle), "{m:?} should contain {needle:?}");
        assert!(!m.contains('\n'), "{m:?}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_one_line_errors() {
        key_error(&config("interface = \"eth1\"\nbogus-key = 1\n"), "bogus-key", "not an option");
        // The generators, the check and the file itself are not keys.
        for k in ["config", "test-config", "generate-man", "help"] {
            key_error(&config(&format!("interface = \"eth1\"\n{k} = true\n")), k, "not an option");
        }
        key_error(
            &config("interface = \"eth1\"\nquiet = \"yes\"\n"),
            "quiet",
            "expected true or false, found a string",
        );
        // The option's own parser, named by key: range, number, possible formats, durations.
        key_error(&config("interface = \"eth1\"\nworkers = 0\n"), "workers", "0 is not in 1..=256");
        key_error(&config("interface = \"eth1\"\nworkers = \"many\"\n"), "workers", "invalid value 'many'");
        key_error(&config("interface = \"eth1\"\nformat = \"xml\"\n"), "format", "unknown format");
        key_error(&config("interface = \"eth1\"\nsuppress = \"soon\"\n"), "suppress", "invalid value 'soon'");
        key_error(&config("interface = \"eth1\"\nhome-net = [\"10.0.0.0/8\", \"x\"]\n"), "home-net", "\"x\"");
        key_error(&config("interface = \"eth1\"\noutput = \"syslog+tcp://x\"\n"), "output", "HOST:PORT");
        // Wrong shapes.
        key_error(&config("interface = \"eth1\"\nworkers = { n = 2 }\n"), "workers", "found a table");
        key_error(
            &config("interface = \"eth1\"\nsensor-name = [\"a\", \"b\"]\n"),
            "sensor-name",
            "one value",
        );
        key_error(&config("interface = [\"eth1\", [\"eth2\"]]\n"), "interface", "found an array");
        key_error(
            &config("interface = \"eth1\"\nhome_net = \"10.0.0.0/8\"\nhome-net = \"10.0.0.0/8\"\n"),
            "home_net",
            "given twice",
        );
        // A clash within the file, and a value refused only once every option is known.
        key_error(
            &config("interface = \"eth1\"\nread = \"x.pcap\"\n"),
            "interface",
            "cannot be used with `read`",
        );
        key_error(
            &config("interface = \"eth1\"\nmetrics = \"0.0.0.0:9500\"\n"),
            "metrics",
            "--metrics-allow-remote",
        );
        // Every bad key is reported, each on its own line.
        let two = config("interface = \"eth1\"\nworkers = 0\nquiet = 2\nbogus = 1\n");
        let m = usage(load_with(&two, &[]));
        let lines: Vec<&str> = m.lines().collect();
        assert_eq!(lines.len(), 3, "{m}");
        for (line, key) in lines.iter().zip(["bogus", "quiet", "workers"]) {
            assert!(line.starts_with(&format!("{}: key `{key}`: ", two.path().display())), "{m}");
        }
        // A file's bad value is refused even where the command line overrides it.
        let w = config("interface = \"eth1\"\nworkers = 0\n");
        assert!(usage(load_with(&w, &["--workers", "2"])).contains("key `workers`"));
        // Syntax errors: file, line and column.
        let s = config("interface = \"eth1\"\nworkers = \n");
        let m = usage(load_with(&s, &[]));
        assert!(m.starts_with(&format!("{}: line 2, column 11: ", s.path().display())), "{m}");
        assert!(!m.contains('\n'), "{m}");
        let missing = usage(load_from(["minewatch", "--config", "/nonexistent/minewatch.toml"]));
        assert!(missing.starts_with("/nonexistent/minewatch.toml: "), "{missing}");
        // Errors of the command line itself stay clap's.
        assert!(matches!(
            load_with(&config("interface = \"eth1\"\n"), &["--workers", "0"]),
            Err(LoadError::Clap(_))
        ));
    }

    #[test]
    fn arrays_work_for_every_repeatable_or_list_option() {
        let cmd = Args::command();
        let lists: Vec<&clap::Arg> = cmd
            .get_arguments()
            .filter(|a| {
                matches!(a.get_action(), clap::ArgAction::Append)
                    || COMMA_LISTS.contains(&a.get_long().unwrap_or(""))
            })
            .collect();
        let longs: Vec<&str> = lists.iter().filter_map(|a| a.get_long()).collect();
        assert_eq!(longs, ["read", "interface", "home-net", "pool-list", "output", "watchlist"]);
        // The comma lists are exactly the options whose value name says so.
        for a in cmd.get_arguments() {
            let says_comma = a.get_value_names().is_some_and(|n| n.iter().any(|v| v.contains(',')));
            assert_eq!(says_comma, COMMA_LISTS.contains(&a.get_long().unwrap_or("")), "{:?}", a.get_long());
        }
        for long in longs {
            let (one, two) = match long {
                "home-net" => ("10.0.0.0/8", "192.168.0.0/16"),
                "output" => ("/tmp/a.json", "cef:/tmp/b.cef"),
                _ => ("one", "two"),
            };
            // An input, unless the option under test is one.
            let input = if matches!(long, "read" | "interface") { "" } else { "interface = \"eth9\"\n" };
            let f = config(&format!("{input}{long} = [\"{one}\", \"{two}\"]\n"));
            let a = load_with(&f, &[]).unwrap_or_else(|e| panic!("{long}: {e:?}"));
            let got: Vec<String> = match long {
                "read" => a.read.clone(),
                "interface" => a.interface.clone(),
                "home-net" => a.home_net.nets().iter().map(ToString::to_string).collect(),
                "pool-list" => a.pool_list.iter().map(|p| p.display().to_string()).collect(),
                "output" => a.outputs().iter().map(|o| o.label()).collect(),
                "watchlist" => a.watchlist.iter().map(|p| p.display().to_string()).collect(),
                other => panic!("no check for {other}: add it here"),
            };
            assert_eq!(got, vec![one.to_string(), two.to_string()], "{long}");
            // A scalar is one value.
            let f = config(&format!("{input}{long} = \"{one}\"\n"));
            let a = load_with(&f, &[]).unwrap_or_else(|e| panic!("{long}: {e:?}"));
            let n = match long {
                "read" => a.read.len(),
                "interface" => a.interface.len(),
                "home-net" => a.home_net.nets().len(),
                "pool-list" => a.pool_list.len(),
                "output" => a.outputs().len(),
                _ => a.watchlist.len(),
            };
            assert_eq!(n, 1, "{long}");
        }
    }

    #[test]
    fn inputs_may_come_from_either_place_but_are_required() {
        assert!(load_from(["minewatch"]).is_err());
        let f = config("stats-interval = 5\n");
        assert!(load_with(&f, &[]).is_err(), "no input anywhere");
        assert_eq!(load_with(&f, &["-i", "lo"]).unwrap().interface, vec!["lo"]);
    }

    #[test]
    fn metrics_stay_on_loopback_unless_allowed() {
        let ok = load_from(["minewatch", "-i", "lo", "--metrics", "127.0.0.1:9500"]).unwrap();
        assert_eq!(ok.metrics, Some("127.0.0.1:9500".parse().unwrap()));
        assert!(load_from(["minewatch", "-i", "lo", "--metrics", "[::1]:9500"]).is_ok());
        let m = usage(load_from(["minewatch", "-i", "lo", "--metrics", "0.0.0.0:9500"]));
        assert!(m.contains("--metrics-allow-remote"), "{m}");
        assert!(load_from(["minewatch", "-i", "lo", "--metrics", "0.0.0.0:9500", "--metrics-allow-remote"])
            .is_ok());
        assert!(load_from(["minewatch", "-i", "lo", "--metrics", "localhost"]).is_err());
    }

    #[test]
    fn generators_need_no_input() {
        let a = load_from(["minewatch", "--generate-man"]).unwrap();
        assert!(a.generate_man);
        let b = load_from(["minewatch", "--generate-completions", "bash"]).unwrap();
        assert_eq!(b.generate_completions, Some(clap_complete::Shell::Bash));
        assert!(load_from(["minewatch", "--generate-man", "-i", "lo"]).is_err());
    }

    #[test]
    fn man_page_and_completions_cover_every_long_option() {
        let man = String::from_utf8(man_page().unwrap()).unwrap();
        let bash = String::from_utf8(completions(clap_complete::Shell::Bash)).unwrap();
        for arg in Args::command().get_arguments().filter(|a| !a.is_hide_set()) {
            if let Some(long) = arg.get_long() {
                // roff escapes the hyphens: `\-\-home\-net`.
                let roff = format!("\\-\\-{}", long.replace('-', "\\-"));
                assert!(man.contains(&roff), "man page lacks --{long}");
                assert!(bash.contains(&format!("--{long}")), "bash completion lacks --{long}");
            }
        }
    }
}

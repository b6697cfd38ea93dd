//! Writes the bundled test captures and their `TRUTH.tsv` into a directory (default `pcaps/`).
//!
//! The captures are generated rather than hand-edited so that every byte can be reproduced from
//! the code in `testkit::synth`; `tests/it/pcaps_fresh.rs` fails if the committed files differ
//! from what this writes. Usage: `mkpcaps [DIR]`.

use std::path::PathBuf;
use std::process::ExitCode;

use testkit::synth::scenarios;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let dir = match (args.next(), args.next()) {
        (None, _) => PathBuf::from("pcaps"),
        (Some(a), None) if a == "-h" || a == "--help" => {
            println!("usage: mkpcaps [DIR]\nwrites the synthetic test captures and TRUTH.tsv into DIR (default: pcaps)");
            return ExitCode::SUCCESS;
        }
        (Some(d), None) => PathBuf::from(d),
        (Some(_), Some(_)) => {
            eprintln!("usage: mkpcaps [DIR]");
            return ExitCode::from(2);
        }
    };
    match scenarios::write_dir(&dir) {
        Ok(rows) => {
            let mining = rows.iter().filter(|r| r.expect == scenarios::Expect::Mining).count();
            println!(
                "wrote {} captures ({} truth rows, {} mining) and TRUTH.tsv to {}",
                scenarios::all().len(),
                rows.len(),
                mining,
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mkpcaps: {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}

//! Runs every fuzz target's harness over its seeds (built from the bundled `pcaps/`) and over
//! every kept input in `fuzz/regressions/<target>/`, without a sanitizer: so the harnesses stay
//! compiled and exercised by a plain `cargo test`, even where cargo-fuzz cannot run.

use std::collections::BTreeMap;
use std::path::PathBuf;

use testkit::fuzzing;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_target_runs_its_seeds() {
    let seeds = fuzzing::seeds(&root().join("pcaps"));
    let mut per_target: BTreeMap<&str, usize> = BTreeMap::new();
    for (target, input) in &seeds {
        assert!(fuzzing::run(target, input), "unknown target {target}");
        *per_target.entry(target).or_default() += 1;
    }
    for t in fuzzing::TARGETS {
        assert!(per_target.get(t).copied().unwrap_or(0) > 0, "no seeds for {t}: {per_target:?}");
    }
}

#[test]
fn kept_fuzz_inputs_still_pass() {
    let dir = root().join("fuzz/regressions");
    let mut ran = 0;
    for t in fuzzing::TARGETS {
        let Ok(rd) = std::fs::read_dir(dir.join(t)) else { continue };
        for e in rd.filter_map(Result::ok) {
            let input = std::fs::read(e.path()).unwrap();
            assert!(fuzzing::run(t, &input));
            ran += 1;
        }
    }
    println!("{ran} kept fuzz inputs replayed");
}

#[test]
fn empty_and_tiny_inputs() {
    for t in fuzzing::TARGETS {
        for input in [&b""[..], b"\0", b"\xff", b"\n\n", &[0u8; 64], &[0xffu8; 64]] {
            assert!(fuzzing::run(t, input));
        }
    }
}

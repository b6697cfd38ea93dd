//! The committed `pcaps/` must be exactly what the generator writes today: captures are code
//! output, so a hand edit (or a generator change without regenerating) fails here. Regenerate
//! with `cargo run -p testkit --bin mkpcaps -- pcaps`. The generator is called as a library
//! (`mkpcaps` only wraps `write_dir` with its arguments): a binary of another package has no
//! `CARGO_BIN_EXE_` path in this one's tests.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use testkit::synth::scenarios;

/// Names of the generated files in `dir` (captures and TRUTH.tsv; README.md and dotfiles such
/// as `.gitattributes` are hand-written, and subdirectories such as `behaviour/` hold captures
/// kept as files, with their own README.md and TRUTH.tsv).
fn generated(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap())
        .filter(|e| !e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "README.md" && !n.starts_with('.'))
        .collect()
}

#[test]
fn committed_pcaps_match_the_generator() {
    let fresh = tempfile::tempdir().unwrap();
    scenarios::write_dir(fresh.path()).unwrap_or_else(|e| panic!("the generator failed: {e}"));

    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let want = generated(fresh.path());
    let have = generated(&committed);
    assert!(want.contains("TRUTH.tsv"));
    assert_eq!(have, want, "pcaps/ holds other files than the generator writes; regenerate with `cargo run -p testkit --bin mkpcaps -- pcaps`");
    for name in &want {
        let a = fs::read(fresh.path().join(name)).unwrap();
        let b = fs::read(committed.join(name)).unwrap();
        assert!(a == b, "pcaps/{name} differs from the generator's output; regenerate with `cargo run -p testkit --bin mkpcaps -- pcaps`");
    }
    assert!(committed.join("README.md").is_file(), "pcaps/README.md is missing");
}

#[test]
fn generator_is_deterministic() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for d in [a.path(), b.path()] {
        scenarios::write_dir(d).unwrap_or_else(|e| panic!("the generator failed: {e}"));
    }
    for name in generated(a.path()) {
        assert!(
            fs::read(a.path().join(&name)).unwrap() == fs::read(b.path().join(&name)).unwrap(),
            "{name} differs between runs"
        );
    }
}

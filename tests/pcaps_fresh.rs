//! The committed `pcaps/` must be exactly what the generator writes today: captures are code
//! output, so a hand edit (or a generator change without regenerating) fails here. Regenerate
//! with `cargo run --bin mkpcaps -- pcaps`.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

/// Names of the generated files in `dir` (captures and TRUTH.tsv; README.md and dotfiles such
/// as `.gitattributes` are hand-written).
fn generated(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "README.md" && !n.starts_with('.'))
        .collect()
}

#[test]
fn committed_pcaps_match_the_generator() {
    let fresh = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_mkpcaps")).arg(fresh.path()).status().unwrap();
    assert!(status.success(), "mkpcaps failed: {status}");

    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let want = generated(fresh.path());
    let have = generated(&committed);
    assert!(want.contains("TRUTH.tsv"));
    assert_eq!(have, want, "pcaps/ holds other files than the generator writes; regenerate with `cargo run --bin mkpcaps -- pcaps`");
    for name in &want {
        let a = fs::read(fresh.path().join(name)).unwrap();
        let b = fs::read(committed.join(name)).unwrap();
        assert!(a == b, "pcaps/{name} differs from the generator's output; regenerate with `cargo run --bin mkpcaps -- pcaps`");
    }
    assert!(committed.join("README.md").is_file(), "pcaps/README.md is missing");
}

#[test]
fn generator_is_deterministic() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for d in [a.path(), b.path()] {
        let st = Command::new(env!("CARGO_BIN_EXE_mkpcaps")).arg(d).status().unwrap();
        assert!(st.success());
    }
    for name in generated(a.path()) {
        assert!(
            fs::read(a.path().join(&name)).unwrap() == fs::read(b.path().join(&name)).unwrap(),
            "{name} differs between runs"
        );
    }
}

//! Writes the fuzz targets' seed corpora: `cargo run -p testkit --bin mkseeds -- PCAP_DIR CORPUS_DIR`
//! (normally `pcaps fuzz/corpus`). One directory per target, one file per seed, named by index
//! so reruns overwrite rather than pile up. See `fuzz/README.md`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let (Some(pcaps), Some(corpus)) = (args.next(), args.next()) else {
        eprintln!("usage: mkseeds PCAP_DIR CORPUS_DIR");
        std::process::exit(2);
    };
    let corpus = PathBuf::from(corpus);
    let mut n = 0usize;
    for (i, (target, input)) in testkit::fuzzing::seeds(&PathBuf::from(pcaps)).into_iter().enumerate() {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("seed-{i:04}")), input)?;
        n += 1;
    }
    println!("{n} seeds written to {}", corpus.display());
    Ok(())
}

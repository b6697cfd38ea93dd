//! The capture files a replay reads, from the paths given to `-r`: a file as it is, a directory
//! as every capture in it and below it. A file in a directory is a capture by its magic number
//! (pcap in either byte order and time precision, pcapng), whatever its name: responders get
//! folders of `*.cap`, `*.dmp` and files without a suffix. A directory's captures are replayed in
//! the order of their first packets (the path breaks a tie, and a capture without a packet comes
//! last), so that days of rotated captures replay in time order whatever their names; paths
//! given one by one keep the order they were given in.

use std::io::Read;

use super::{io_reason, CaptureError, OfflineSource};
use crate::time::Ts;

/// What the paths of a replay stand for.
#[derive(Debug, Default)]
pub struct Inputs {
    /// The captures to replay, in order, with their first packet's time when it was found
    /// (`None`: standard input, or no packet near the start).
    pub files: Vec<(String, Option<Ts>)>,
    /// Paths that could not be read (a directory or file that would not open, a directory with
    /// no capture): one line each.
    pub failed: Vec<(String, CaptureError)>,
    /// Files in a directory that are not captures: skipped.
    pub not_capture: u64,
}

impl Inputs {
    /// The earliest first packet among the files read ahead.
    pub fn first_ts(&self) -> Option<Ts> {
        self.files.iter().filter_map(|(_, t)| *t).min()
    }
}

/// The first bytes of the capture formats we read (pcap: microsecond and nanosecond, in both
/// byte orders; pcapng: the section header block's type, the same in both).
const MAGICS: [[u8; 4]; 5] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x0a, 0x0d, 0x0d, 0x0a],
];

/// How much of a capture is read to find its first packet: a pcapng's section header and
/// interface blocks and the first record (a capture whose first record is longer sorts last).
const FIRST_PACKET_WINDOW: u64 = 64 << 10;

/// Expands the paths given to `-r`, in order: a directory becomes its captures (see the module
/// documentation), anything else stays as given (`-` is standard input).
pub fn expand(paths: &[String]) -> Inputs {
    let mut out = Inputs::default();
    for path in paths {
        let is_dir = path != "-" && std::fs::metadata(path).is_ok_and(|m| m.is_dir());
        if is_dir {
            walk(path, &mut out);
        } else {
            // Read ahead for its first packet only (a `--since 10m` counts from it); whatever
            // is wrong with it is reported when it is replayed.
            // (Only a regular file: a FIFO or a device is read once, by the replay.)
            let regular = path != "-" && std::fs::metadata(path).is_ok_and(|m| m.is_file());
            let first = if regular { sniff(path).ok().flatten().flatten() } else { None };
            out.files.push((path.clone(), first));
        }
    }
    out
}

/// Every capture in `dir` and below it, in the order of their first packets. Symbolic links
/// are not followed (no loop can make the walk endless).
fn walk(dir: &str, out: &mut Inputs) {
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().map_or_else(|| dir.to_string(), |p| p.display().to_string());
                let reason = e.io_error().map_or_else(|| e.to_string(), io_reason);
                out.failed.push((path, CaptureError::Open(reason)));
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path().display().to_string();
        match sniff(&path) {
            Ok(Some(first)) => found.push((first, path)),
            Ok(None) => out.not_capture += 1,
            Err(e) => out.failed.push((path, e)),
        }
    }
    if found.is_empty() {
        out.failed.push((dir.to_string(), CaptureError::NoCaptures));
        return;
    }
    // Captures without a packet last; then by time, then by path.
    found.sort_by(|(a, pa), (b, pb)| (a.is_none(), a, pa).cmp(&(b.is_none(), b, pb)));
    out.files.extend(found.into_iter().map(|(first, path)| (path, first)));
}

/// Whether the file at `path` is a capture (`Some`), and then its first packet's time if one is
/// found near its start (a damaged file is still replayed: its damage is reported then).
fn sniff(path: &str) -> Result<Option<Option<Ts>>, CaptureError> {
    let mut f = std::fs::File::open(path).map_err(|e| CaptureError::Open(io_reason(&e)))?;
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < magic.len() {
        match f.read(magic.get_mut(got..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(CaptureError::Read(io_reason(&e))),
        }
    }
    if got < magic.len() || !MAGICS.contains(&magic) {
        return Ok(None);
    }
    let head = std::io::Cursor::new(magic).chain(f.take(FIRST_PACKET_WINDOW));
    let mut src = OfflineSource::from_reader(Box::new(head));
    Ok(Some(match src.next_frame() {
        Ok(Some((_, frame))) => Some(frame.ts),
        _ => None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic pcap (microseconds, little-endian) with one empty frame at `secs`.
    fn pcap(secs: u32) -> Vec<u8> {
        let mut v = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        v.extend_from_slice(&secs.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&14u32.to_le_bytes());
        v.extend_from_slice(&14u32.to_le_bytes());
        v.extend_from_slice(&[0; 14]);
        v
    }

    #[test]
    fn a_directory_is_its_captures_by_magic_in_order_of_their_first_packets() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("b/c")).unwrap();
        std::fs::write(d.join("z-first.dmp"), pcap(100)).unwrap();
        std::fs::write(d.join("b/c/second"), pcap(200)).unwrap();
        std::fs::write(d.join("a-third.pcap"), pcap(300)).unwrap();
        std::fs::write(d.join("notes.pcap"), b"not a capture at all").unwrap();
        std::fs::write(d.join("empty"), b"").unwrap();
        let given = d.join("a-third.pcap").display().to_string();
        let inputs = expand(&[d.display().to_string(), given.clone(), "-".into()]);
        let names: Vec<&str> = inputs.files.iter().map(|(p, _)| p.as_str()).collect();
        let root = d.display().to_string();
        assert_eq!(
            names,
            vec![
                format!("{root}/z-first.dmp").as_str(),
                &format!("{root}/b/c/second"),
                &format!("{root}/a-third.pcap"),
                &given,
                "-",
            ]
        );
        assert_eq!(inputs.files[0].1, Some(Ts(100_000_000)));
        assert_eq!(inputs.first_ts(), Some(Ts(100_000_000)));
        assert_eq!(inputs.not_capture, 2);
        assert!(inputs.failed.is_empty());
    }

    #[test]
    fn a_directory_without_captures_is_one_failure() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let inputs = expand(&[dir.path().display().to_string()]);
        assert!(inputs.files.is_empty());
        assert_eq!(inputs.failed.len(), 1);
        assert_eq!(inputs.failed[0].1, CaptureError::NoCaptures);
        assert_eq!(inputs.not_capture, 1);
    }

    #[test]
    fn a_path_given_alone_is_kept_even_if_missing_the_replay_reports_it() {
        let inputs = expand(&["/nonexistent/dir/x.pcap".to_string()]);
        assert_eq!(inputs.files, vec![("/nonexistent/dir/x.pcap".to_string(), None)]);
        assert!(inputs.failed.is_empty());
    }
}

//! Outputs: formatters are pure functions from an [`Event`] to bytes; a sink owns the writer.
//! One thread owns the sinks, so workers never block on a slow disk or terminal for long.

pub mod json;

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::capture::live::KernelStats;
use crate::stats::Counters;
use crate::time::Ts;
use crate::verdict::Event;

/// A `stats` record: every counter, summed over the threads, and the kernel's capture drops.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatsRecord {
    pub ts: Ts,
    pub counters: Counters,
    pub kernel: Vec<(String, KernelStats)>,
}

/// Where alert records go.
pub struct Sink {
    out: Box<dyn Write + Send>,
    buf: Vec<u8>,
    /// The file, for reopening after log rotation; `None` for standard output.
    path: Option<String>,
    /// Consulted once per record, in the output thread (workers never touch it).
    watchlist: std::sync::Arc<crate::intel::Watchlist>,
}

fn open_append(path: &str) -> io::Result<Box<dyn Write + Send>> {
    let f = OpenOptions::new().create(true).append(true).open(Path::new(path))?;
    Ok(Box::new(BufWriter::new(f)))
}

impl Sink {
    /// `-` is standard output; anything else a file, appended to (log shippers tail it).
    pub fn open(path: &str) -> io::Result<Sink> {
        if path == "-" {
            let out = Box::new(BufWriter::new(io::stdout()));
            return Ok(Sink {
                out,
                buf: Vec::with_capacity(1024),
                path: None,
                watchlist: Default::default(),
            });
        }
        Ok(Sink {
            out: open_append(path)?,
            buf: Vec::with_capacity(1024),
            path: Some(path.to_string()),
            watchlist: Default::default(),
        })
    }

    /// A sink over any writer (tests, benchmarks).
    pub fn from_writer(w: Box<dyn Write + Send>) -> Sink {
        Sink { out: w, buf: Vec::with_capacity(1024), path: None, watchlist: Default::default() }
    }

    /// Records whose login holds an address on `watchlist` get severity 1 and its label.
    pub fn with_watchlist(mut self, watchlist: std::sync::Arc<crate::intel::Watchlist>) -> Sink {
        self.watchlist = watchlist;
        self
    }

    /// After log rotation (SIGHUP): flush, then open the path anew. Standard output stays.
    pub fn reopen(&mut self) -> io::Result<()> {
        let _ = self.out.flush();
        if let Some(p) = &self.path {
            self.out = open_append(p)?;
        }
        Ok(())
    }

    pub fn write(&mut self, ev: &Event) -> io::Result<()> {
        self.buf.clear();
        json::format_with(ev, &self.watchlist, &mut self.buf);
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)
    }

    pub fn write_stats(&mut self, rec: &StatsRecord) -> io::Result<()> {
        self.buf.clear();
        json::format_stats(rec, &mut self.buf);
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

//! Outputs: formatters are pure functions from an [`Event`] to bytes; a sink owns the writer.
//! One thread owns the sinks, so workers never block on a slow disk or terminal for long.

pub mod json;

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::verdict::Event;

/// Where alert records go.
pub struct Sink {
    out: Box<dyn Write + Send>,
    buf: Vec<u8>,
}

impl Sink {
    /// `-` is standard output; anything else a file, appended to (log shippers tail it).
    pub fn open(path: &str) -> io::Result<Sink> {
        let out: Box<dyn Write + Send> = if path == "-" {
            Box::new(BufWriter::new(io::stdout()))
        } else {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(Path::new(path))?;
            Box::new(BufWriter::new(f))
        };
        Ok(Sink {
            out,
            buf: Vec::with_capacity(1024),
        })
    }

    /// A sink over any writer (tests, benchmarks).
    pub fn from_writer(w: Box<dyn Write + Send>) -> Sink {
        Sink {
            out: w,
            buf: Vec::with_capacity(1024),
        }
    }

    pub fn write(&mut self, ev: &Event) -> io::Result<()> {
        self.buf.clear();
        json::format(ev, &mut self.buf);
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

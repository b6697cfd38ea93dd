//! The lists read from files: the pool list (the shipped domains plus every `--pool-list`) and
//! the wallet watchlist (every `--watchlist`). They are read once at start, and again on SIGHUP,
//! from the same paths (a `--config` file is not read again: the paths it named at start stay).
//!
//! A file is a plain list (one entry per line), a JSON array of entries, or an intelligence
//! file (MISP CSV or JSON, STIX 2.1 bundle; see [`super::feeds`]), told apart by its content or
//! a `misp:`/`stix:` before its path. A plain or JSON list feeds the list of the option that
//! named it; an intelligence file feeds both, whichever option named it: its wallets go to the
//! watchlist, its domains, addresses and ranges to the pool list. No file over
//! [`feeds::MAX_FILE_BYTES`] is read.
//!
//! A reload is all or nothing: every file is read and checked first, and only if all of them
//! load are the new lists put in force, together; one bad file (unreadable, or a bad line)
//! leaves every old list in force and is reported with its path and line. An analyst editing a
//! list on a running sensor thus never gets half an update, nor an empty list for a typo.
//!
//! The files are read on a thread of their own ([`Reloader::request`]): the collector, which
//! the workers send their records to, keeps writing while a large watchlist is read, and the
//! workers never wait for either (they load the pool list through [`SharedPools`]).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use super::feeds::{self, FeedError, Format};
use super::pools::{BadLine, PoolDomains, SharedPools};
use super::watchlist::{file_label, Watchlist, WatchlistError};

/// Why the lists could not be put in force; each message is one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: larger than {} MiB", path.display(), feeds::MAX_FILE_BYTES >> 20)]
    TooLarge { path: PathBuf },
    #[error("{}: not UTF-8 text", path.display())]
    NotText { path: PathBuf },
    #[error("{}: {source}", path.display())]
    PoolLine { path: PathBuf, source: BadLine },
    #[error("{}: {source}", path.display())]
    Watchlist { path: PathBuf, source: WatchlistError },
    /// An intelligence file (or a JSON list) that cannot be read as its format.
    #[error("{}: {source}", path.display())]
    Feed { path: PathBuf, source: FeedError },
    /// An entry of an intelligence file (or a JSON list) that its list refuses.
    #[error("{}: {format} entry {value:?}: {reason}", path.display())]
    Entry { path: PathBuf, format: &'static str, value: String, reason: String },
    /// The watchlists together are over their bound.
    #[error("{}: {source}", path.display())]
    Merge { path: PathBuf, source: super::watchlist::TooMany },
    #[error("cannot start a thread to read the lists: {0}")]
    Thread(std::io::Error),
    #[error("the thread reading the lists failed")]
    ThreadFailed,
}

/// Where the lists come from, as given at start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFiles {
    /// Added, in order, to the shipped pool list.
    pub pool_lists: Vec<PathBuf>,
    /// Merged, in order (an address in two of them keeps the later label).
    pub watchlists: Vec<PathBuf>,
}

/// Every list, loaded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lists {
    pub pools: PoolDomains,
    pub watchlist: Watchlist,
}

/// Which option named a file: where a plain or JSON list goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `--pool-list`
    Pools,
    /// `--watchlist`
    Watchlist,
}

/// What one file added, for `--test-config` to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loaded {
    pub format: Format,
    /// Pool domains new to the list.
    pub domains: usize,
    /// Pool addresses and ranges new to the list.
    pub nets: usize,
    /// Watchlist addresses in the file.
    pub wallets: usize,
    /// Entries of kinds not read (intelligence files only).
    pub skipped: usize,
}

impl ListFiles {
    /// Reads every file. The first one that fails is the error, in one line:
    /// `PATH: line N: problem`, or `PATH: why it cannot be read`.
    pub fn load(&self) -> Result<Lists, ListError> {
        let mut lists = Lists { pools: PoolDomains::builtin(), watchlist: Watchlist::default() };
        for path in &self.pool_lists {
            load_file(Role::Pools, path, &mut lists)?;
        }
        for path in &self.watchlists {
            load_file(Role::Watchlist, path, &mut lists)?;
        }
        Ok(lists)
    }
}

/// The file's text: at most [`feeds::MAX_FILE_BYTES`], UTF-8.
fn read_bounded(path: &Path) -> Result<String, ListError> {
    let read = |source| ListError::Read { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(read)?;
    if file.metadata().map_err(read)?.len() > feeds::MAX_FILE_BYTES {
        return Err(ListError::TooLarge { path: path.to_owned() });
    }
    let mut bytes = Vec::new();
    file.take(feeds::MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(read)?;
    if bytes.len() as u64 > feeds::MAX_FILE_BYTES {
        return Err(ListError::TooLarge { path: path.to_owned() });
    }
    String::from_utf8(bytes).map_err(|_| ListError::NotText { path: path.to_owned() })
}

/// Reads one file, as `role`'s option named it (a `misp:` or `stix:` before the path names its
/// format), into `lists`. The error is `PATH: reason` (with the line or entry at fault).
pub fn load_file(role: Role, given: &Path, lists: &mut Lists) -> Result<Loaded, ListError> {
    let (hint, path) = match given.to_str() {
        Some(s) => {
            let (hint, p) = feeds::split_hint(s);
            (hint, Path::new(p))
        }
        None => (None, given),
    };
    let text = read_bounded(path)?;
    let format = feeds::detect(&text, hint);
    let label = file_label(path);
    let (domains, nets) = (lists.pools.domains(), lists.pools.nets());
    let feed_err = |source| ListError::Feed { path: given.to_owned(), source };
    let entry_err = |value: &str, reason: String| ListError::Entry {
        path: given.to_owned(),
        format: format.name(),
        value: value.chars().take(80).collect(),
        reason,
    };
    let mut watch = Watchlist::default();
    let mut skipped = 0;
    match (format, role) {
        (Format::Plain, Role::Pools) => {
            lists
                .pools
                .add_list(&text)
                .map_err(|source| ListError::PoolLine { path: given.to_owned(), source })?;
        }
        (Format::Plain, Role::Watchlist) => {
            watch = Watchlist::parse_labelled(&text, &label)
                .map_err(|source| ListError::Watchlist { path: given.to_owned(), source })?;
        }
        (Format::JsonList, _) => {
            for v in feeds::json_list(&text).map_err(feed_err)? {
                let v = v.trim();
                match role {
                    Role::Pools => lists.pools.add_entry(v).map(drop).map_err(|r| entry_err(v, r.into()))?,
                    Role::Watchlist => watch.insert(v, &label).map_err(|r| entry_err(v, r))?,
                }
            }
        }
        (Format::MispCsv | Format::MispJson | Format::Stix, _) => {
            let feed = feeds::parse(format, &text).map_err(feed_err)?;
            skipped = feed.skipped;
            for v in &feed.pools {
                lists.pools.add_entry(v).map_err(|r| entry_err(v, r.into()))?;
            }
            for (v, l) in &feed.wallets {
                watch.insert(v, l.as_deref().unwrap_or(&label)).map_err(|r| entry_err(v, r))?;
            }
        }
    }
    let wallets = watch.len();
    lists.watchlist.merge(watch).map_err(|source| ListError::Merge { path: given.to_owned(), source })?;
    Ok(Loaded {
        format,
        domains: lists.pools.domains() - domains,
        nets: lists.pools.nets() - nets,
        wallets,
        skipped,
    })
}

/// What a reload put in force.
#[derive(Clone, Debug)]
pub struct Reloaded {
    /// Pool domains, addresses and ranges now in force (the shipped domains included).
    pub pools: usize,
    /// The new watchlist, for the thread that owns the outputs to put in force at once.
    pub watchlist: Arc<Watchlist>,
}

/// Reloads the lists on request, off the caller's thread; owned by the collector.
#[derive(Debug)]
pub struct Reloader {
    files: ListFiles,
    pools: Arc<SharedPools>,
    state: State,
    /// A request came while a reading was under way: read once more after it, so that an edit
    /// saved during the reading is not missed.
    again: bool,
}

#[derive(Debug)]
enum State {
    Idle,
    Reading(JoinHandle<Result<Lists, ListError>>),
    /// The reading thread could not be started; reported at the next poll.
    Failed(ListError),
}

impl Reloader {
    /// `pools` is the list the workers use, which a successful reload replaces.
    pub fn new(files: ListFiles, pools: Arc<SharedPools>) -> Reloader {
        Reloader { files, pools, state: State::Idle, again: false }
    }

    /// Starts reading every file on a thread of its own. [`poll`](Self::poll) gives the outcome.
    pub fn request(&mut self) {
        if !matches!(self.state, State::Idle) {
            self.again = true;
            return;
        }
        let files = self.files.clone();
        self.state = match thread::Builder::new().name("minewatch-reload".into()).spawn(move || files.load())
        {
            Ok(h) => State::Reading(h),
            Err(e) => State::Failed(ListError::Thread(e)),
        };
    }

    /// Whether a reading is under way or its outcome not yet taken (the caller then polls soon).
    pub fn busy(&self) -> bool {
        !matches!(self.state, State::Idle)
    }

    /// The outcome of a finished reading, once; `None` while it runs or when none was asked
    /// for. On success the new pool list is already in force, and the caller must put the
    /// returned watchlist in force before it handles another record; on failure nothing changed.
    pub fn poll(&mut self) -> Option<Result<Reloaded, ListError>> {
        let outcome = match std::mem::replace(&mut self.state, State::Idle) {
            State::Idle => return None,
            State::Reading(h) if !h.is_finished() => {
                self.state = State::Reading(h);
                return None;
            }
            State::Reading(h) => match h.join() {
                Ok(loaded) => loaded.map(|l| self.install(l)),
                Err(_) => Err(ListError::ThreadFailed),
            },
            State::Failed(why) => Err(why),
        };
        if std::mem::take(&mut self.again) {
            self.request();
        }
        Some(outcome)
    }

    /// Reads every file now, on the caller's thread, and puts the lists in force if all load.
    pub fn reload_now(&mut self) -> Result<Reloaded, ListError> {
        self.files.load().map(|l| self.install(l))
    }

    fn install(&self, lists: Lists) -> Reloaded {
        let pools = lists.pools.len();
        self.pools.store(Arc::new(lists.pools));
        Reloaded { pools, watchlist: Arc::new(lists.watchlist) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    const OLD_WALLET: &str = "48oldwalletaddress";
    const NEW_WALLET: &str = "48newwalletaddress";

    struct Files {
        _dir: tempfile::TempDir,
        pools_a: PathBuf,
        pools_b: PathBuf,
        watch: PathBuf,
    }

    fn files() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let f = Files {
            pools_a: dir.path().join("a.txt"),
            pools_b: dir.path().join("b.txt"),
            watch: dir.path().join("watch.txt"),
            _dir: dir,
        };
        std::fs::write(&f.pools_a, "old-a.example\n").unwrap();
        std::fs::write(&f.pools_b, "old-b.example\n").unwrap();
        std::fs::write(&f.watch, format!("{OLD_WALLET} old label\n")).unwrap();
        f
    }

    /// A reloader as a sensor has it after start-up: the lists loaded from `f`, in force.
    fn started(f: &Files) -> (Reloader, Arc<SharedPools>, Arc<Watchlist>) {
        let list_files = ListFiles {
            pool_lists: vec![f.pools_a.clone(), f.pools_b.clone()],
            watchlists: vec![f.watch.clone()],
        };
        let lists = list_files.load().unwrap();
        let shared = Arc::new(SharedPools::new(Arc::new(lists.pools)));
        (Reloader::new(list_files, shared.clone()), shared, Arc::new(lists.watchlist))
    }

    #[test]
    fn good_files_are_all_put_in_force() {
        let f = files();
        let (mut r, shared, old_watch) = started(&f);
        let before = shared.len();
        assert_eq!(shared.matches("x.old-a.example").as_deref(), Some("old-a.example"));
        std::fs::write(&f.pools_a, "new-a.example\n").unwrap();
        std::fs::write(&f.pools_b, "old-b.example\nnew-b.example\n").unwrap();
        std::fs::write(&f.watch, format!("{NEW_WALLET} new label\n")).unwrap();
        let done = r.reload_now().unwrap();
        assert_eq!(done.pools, before + 1);
        assert_eq!(shared.len(), before + 1);
        assert_eq!(shared.matches("x.new-a.example").as_deref(), Some("new-a.example"));
        assert_eq!(shared.matches("new-b.example").as_deref(), Some("new-b.example"));
        assert_eq!(shared.matches("x.old-a.example"), None, "a domain taken out of a list is gone");
        assert!(shared.matches("xmr-eu1.nanopool.org").is_some(), "the shipped list stays");
        assert_eq!(done.watchlist.lookup(Some(NEW_WALLET), None), Some("new label"));
        assert_eq!(done.watchlist.lookup(Some(OLD_WALLET), None), None);
        // What the outputs held is untouched until they take the new one.
        assert_eq!(old_watch.lookup(Some(OLD_WALLET), None), Some("old label"));
    }

    #[test]
    fn one_bad_file_keeps_every_old_list() {
        let f = files();
        let (mut r, shared, _) = started(&f);
        let before = shared.load();
        // The first pool list is good and new; the second has a bad line.
        std::fs::write(&f.pools_a, "new-a.example\n").unwrap();
        std::fs::write(&f.pools_b, "fine.example\nnot a domain\n").unwrap();
        let e = r.reload_now().unwrap_err().to_string();
        assert!(e.starts_with(&f.pools_b.display().to_string()) && e.contains("line 2"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        assert_eq!(*shared.load(), *before);
        assert_eq!(shared.matches("new-a.example"), None);

        // Good pool lists, a bad watchlist: the pool lists are not swapped in either.
        std::fs::write(&f.pools_b, "old-b.example\n").unwrap();
        std::fs::write(&f.watch, format!("{NEW_WALLET}.rig1 worker, not an address\n")).unwrap();
        let e = r.reload_now().unwrap_err().to_string();
        assert!(e.starts_with(&f.watch.display().to_string()) && e.contains("line 1"), "{e}");
        assert_eq!(*shared.load(), *before);

        // A list that is gone.
        std::fs::write(&f.watch, format!("{NEW_WALLET}\n")).unwrap();
        std::fs::remove_file(&f.pools_a).unwrap();
        let e = r.reload_now().unwrap_err().to_string();
        assert!(e.starts_with(&f.pools_a.display().to_string()), "{e}");
        assert!(matches!(r.reload_now(), Err(ListError::Read { .. })));
        assert_eq!(*shared.load(), *before);
    }

    /// A STIX bundle of one indicator with `pattern`.
    fn bundle(pattern: &str) -> String {
        serde_json::json!({"type": "bundle", "id": "bundle--1", "objects": [
            {"type": "indicator", "name": "case 7", "pattern": pattern, "pattern_type": "stix"}
        ]})
        .to_string()
    }

    #[test]
    fn intelligence_files_reload_like_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let stix = dir.path().join("feed.json");
        let misp = dir.path().join("wallets.csv");
        std::fs::write(&stix, bundle("[ipv4-addr:value ISSUBSET '203.0.113.0/24']")).unwrap();
        std::fs::write(&misp, format!("type,value\nxmr,{OLD_WALLET}\n")).unwrap();
        let files = ListFiles { pool_lists: vec![stix.clone()], watchlists: vec![misp.clone()] };
        let lists = files.load().unwrap();
        assert_eq!(lists.watchlist.lookup(Some(OLD_WALLET), None), Some("wallets"));
        let shared = Arc::new(SharedPools::new(Arc::new(lists.pools)));
        let mut r = Reloader::new(files, shared.clone());
        assert!(shared.matches_addr("203.0.113.9".parse().unwrap()).is_some());

        std::fs::write(
            &stix,
            bundle("[ipv6-addr:value = '2001:db8::7' OR domain-name:value = 'new.example']"),
        )
        .unwrap();
        std::fs::write(&misp, format!("type,value\nbtc,{NEW_WALLET}\n")).unwrap();
        let done = r.reload_now().unwrap();
        assert_eq!(shared.matches_addr("203.0.113.9".parse().unwrap()), None);
        assert!(shared.matches_addr("2001:db8::7".parse().unwrap()).is_some());
        assert!(shared.matches("x.new.example").is_some());
        assert_eq!(done.watchlist.lookup(Some(NEW_WALLET), None), Some("wallets"));

        // A bundle cut short: refused in one line naming it, the lists in force untouched.
        std::fs::write(&stix, "{\"type\": \"bundle\", \"objects\": [").unwrap();
        let e = r.reload_now().unwrap_err().to_string();
        assert!(e.starts_with(&stix.display().to_string()) && e.contains("STIX"), "{e}");
        assert!(shared.matches_addr("2001:db8::7".parse().unwrap()).is_some());
    }

    #[test]
    fn a_requested_reload_reads_off_the_callers_thread_and_reports_once() {
        let f = files();
        let (mut r, shared, _) = started(&f);
        assert!(r.poll().is_none(), "nothing was asked for");
        std::fs::write(&f.pools_a, "new-a.example\n").unwrap();
        r.request();
        // A second request during the reading asks for one more reading after it.
        r.request();
        let mut outcomes = Vec::new();
        let give_up = Instant::now() + Duration::from_secs(60);
        while outcomes.len() < 2 && Instant::now() < give_up {
            if let Some(o) = r.poll() {
                outcomes.push(o.map(|d| d.pools));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(outcomes.len(), 2, "{outcomes:?}");
        assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
        assert!(!r.busy());
        assert!(r.poll().is_none(), "each outcome is given once");
        assert!(shared.matches("new-a.example").is_some());

        std::fs::write(&f.watch, "bad.address label\n").unwrap();
        r.request();
        let give_up = Instant::now() + Duration::from_secs(60);
        let outcome = loop {
            if let Some(o) = r.poll() {
                break o;
            }
            assert!(Instant::now() < give_up, "the reading never finished");
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(outcome.is_err_and(|e| e.to_string().contains("line 1")));
        assert!(shared.matches("new-a.example").is_some(), "the good lists stay in force");
    }
}

//! The wallet watchlist (`--watchlist FILE`): addresses an analyst wants flagged, each with an
//! optional label. A session whose login holds a listed address gets `severity` 1 and the
//! entry's `watchlist_label` in its records.
//!
//! File format: one address per line, an optional label after the first run of whitespace
//! (space or tab), `#` starts a comment line, blank lines are ignored. An entry without a label
//! of its own carries the file's: the first `# label: TEXT` line, else the file's name without
//! its extension (so the OFAC lists, one bare address per line, load as they are, each address
//! labelled `sanctioned_addresses_XMR` and so on). Example:
//!
//! ```text
//! # label: incident 2024-117
//! 48edfHu7V9Z84YzzMa6f...   xmrig botnet (IR-117)
//! 0x5a0b54d5dc17e0aadc383d2db43b0a0d3e029c4c
//! ```
//!
//! A JSON array of address strings, and MISP and STIX 2.1 files, are read by
//! [`super::lists`] (see [`super::feeds`]) into the same table through [`Watchlist::insert`].
//!
//! Matching: the login is cut at the separators pools use between wallet, worker and options
//! (`.`, `/`, `+`, `:`, `,`, `;`, `@`, whitespace) and each piece is looked up in a hash set, so
//! `WALLET.rig01`, `WALLET+50000` and `WALLET/worker/mail` all match `WALLET`. Ethereum and
//! bech32 addresses are case-insensitive, so they are compared in lower case; everything else
//! (base58 is case-sensitive) exactly. Cost per lookup: one hash per piece, whatever the list size.
//!
//! Limits: at most [`MAX_ENTRIES`] entries and [`MAX_LINE`] bytes per line; a file that breaks
//! them is refused at start-up (or at a reload, see [`super::lists`]) with the line number,
//! never silently cut.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

/// Most addresses a watchlist may hold (memory stays a few tens of MB at most).
pub const MAX_ENTRIES: usize = 1_000_000;
/// Longest line accepted.
pub const MAX_LINE: usize = 1024;
/// Longest label kept.
pub const MAX_LABEL: usize = 256;

/// A loaded watchlist. Empty when none was given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Watchlist {
    /// Normalised address -> label (empty when the line had none).
    entries: HashMap<String, String, ahash::RandomState>,
}

/// Why a watchlist file was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct WatchlistError {
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for WatchlistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "line {}: {}", self.line, self.reason)
        }
    }
}

impl std::error::Error for WatchlistError {}

/// The watchlists together are over the bound of one ([`MAX_ENTRIES`]).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the watchlists together hold more than {MAX_ENTRIES} entries")]
pub struct TooMany;

/// The comparison key: lower case for formats that are case-insensitive (hex Ethereum
/// addresses, bech32), the string itself otherwise.
fn normalise(addr: &str) -> std::borrow::Cow<'_, str> {
    let lower_prefix = addr.get(..4).map(|p| p.to_ascii_lowercase()).unwrap_or_default();
    let case_free = lower_prefix.starts_with("0x")
        || lower_prefix.starts_with("bc1")
        || lower_prefix.starts_with("tb1")
        || lower_prefix.starts_with("ltc1")
        || lower_prefix.starts_with("bitc");
    if case_free {
        std::borrow::Cow::Owned(addr.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(addr)
    }
}

/// Separators between wallet, worker and options in a login.
fn is_separator(c: char) -> bool {
    matches!(c, '.' | '/' | '+' | ':' | ',' | ';' | '@') || c.is_whitespace()
}

/// The label a file gives its unlabelled entries when it has no `# label:` line: its name
/// without directories and extension.
pub fn file_label(path: &Path) -> String {
    path.file_stem()
        .or_else(|| path.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A label as kept: at most [`MAX_LABEL`] bytes, cut on a character boundary.
fn capped(label: &str) -> String {
    let mut end = label.len().min(MAX_LABEL);
    while !label.is_char_boundary(end) {
        end -= 1;
    }
    label.get(..end).unwrap_or_default().to_string()
}

impl Watchlist {
    /// Reads a plain watchlist file; unlabelled entries carry its `# label:` or its name.
    pub fn load(path: &Path) -> Result<Watchlist, WatchlistError> {
        let text = std::fs::read(path).map_err(|e| WatchlistError { line: 0, reason: e.to_string() })?;
        let text = String::from_utf8(text)
            .map_err(|_| WatchlistError { line: 0, reason: "not UTF-8 text".into() })?;
        Watchlist::parse_labelled(&text, &file_label(path))
    }

    /// A plain list's text: an entry without a label of its own gets the first `# label:`
    /// line's text, else `default_label` (empty: no label).
    pub fn parse_labelled(text: &str, default_label: &str) -> Result<Watchlist, WatchlistError> {
        let file_label = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix('#'))
            .find_map(|c| {
                let c = c.trim_start();
                let (key, rest) = c.split_at_checked(6)?;
                key.eq_ignore_ascii_case("label:").then(|| rest.trim())
            })
            .filter(|l| !l.is_empty())
            .unwrap_or(default_label);
        let mut w = Watchlist::default();
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            if raw.len() > MAX_LINE {
                return Err(WatchlistError {
                    line: line_no,
                    reason: format!("longer than {MAX_LINE} bytes"),
                });
            }
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (addr, label) = match line.find(char::is_whitespace) {
                Some(i) => (line.get(..i).unwrap_or(line), line.get(i..).unwrap_or("").trim()),
                None => (line, ""),
            };
            let label = if label.is_empty() { file_label } else { label };
            w.insert(addr, label).map_err(|reason| WatchlistError { line: line_no, reason })?;
        }
        Ok(w)
    }

    /// Adds one address with its label (cut to [`MAX_LABEL`] bytes); a repeated address takes
    /// the later label. Refused: an address holding a login separator, an empty or overlong
    /// one, or one past [`MAX_ENTRIES`].
    pub fn insert(&mut self, addr: &str, label: &str) -> Result<(), String> {
        if addr.is_empty() || addr.len() > MAX_LINE {
            return Err(format!("an address must have 1 to {MAX_LINE} bytes"));
        }
        if addr.contains(is_separator) {
            return Err(format!("{addr:?} is not a bare address (it holds a separator such as '.' or '+')"));
        }
        let key = normalise(addr);
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(key.as_ref()) {
            return Err(format!("more than {MAX_ENTRIES} entries"));
        }
        self.entries.insert(key.into_owned(), capped(label));
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Adds every entry of `other` (`--watchlist` is repeatable); an address in both keeps
    /// `other`'s label, so a later file can relabel an address of an earlier one. The bound of
    /// one list holds for the lists together: past it nothing is added and the error says so.
    pub fn merge(&mut self, other: Watchlist) -> Result<(), TooMany> {
        let new = other.entries.keys().filter(|k| !self.entries.contains_key(*k)).count();
        if self.entries.len().saturating_add(new) > MAX_ENTRIES {
            return Err(TooMany);
        }
        self.entries.extend(other.entries);
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The label of the first listed address found in `login` (or in `wallet`), `Some("")`
    /// for an entry without a label; `None` when nothing is listed.
    pub fn lookup(&self, login: Option<&str>, wallet: Option<&str>) -> Option<&str> {
        if self.entries.is_empty() {
            return None;
        }
        let pieces = wallet.into_iter().chain(login.into_iter().flat_map(|l| l.split(is_separator)));
        pieces
            .filter(|p| !p.is_empty())
            .find_map(|p| self.entries.get(normalise(p).as_ref()))
            .map(String::as_str)
    }
}

/// A plain list without a default label (entries carry their own, or a `# label:` line's).
impl std::str::FromStr for Watchlist {
    type Err = WatchlistError;

    fn from_str(text: &str) -> Result<Watchlist, WatchlistError> {
        Watchlist::parse_labelled(text, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XMR: &str =
        "48edfHu7V9Z84YzzMa6fUueoELZ9ZRXq9VetWzYGzKt52XU5xvqgzYnDK9URnRoJMk1j8nLwEVsaSWJ4fhdUyZijBGUicoD";

    fn list() -> Watchlist {
        format!(
            "# comment\n\n{XMR}   xmrig botnet (IR-117)\n0x5A0b54D5dc17e0AAdC383d2db43B0a0D3E029c4c\tknown drop\r\nbc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4\n"
        )
        .parse()
        .unwrap()
    }

    #[test]
    fn parses_labels_comments_and_crlf() {
        let w = list();
        assert_eq!(w.len(), 3);
        assert_eq!(w.lookup(Some(XMR), None), Some("xmrig botnet (IR-117)"));
        assert_eq!(w.lookup(Some("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4.rig"), None), Some(""));
    }

    #[test]
    fn merged_lists_keep_every_address_and_the_later_label() {
        let mut w = list();
        let later: Watchlist = format!("{XMR} relabelled\n0xabc extra\n").parse().unwrap();
        w.merge(later).unwrap();
        assert_eq!(w.len(), 4);
        assert_eq!(w.lookup(Some(XMR), None), Some("relabelled"));
        assert_eq!(w.lookup(Some("0xABC"), None), Some("extra"));
        assert_eq!(w.lookup(Some("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"), None), Some(""));
    }

    #[test]
    fn matches_login_conventions_and_case_rules() {
        let w = list();
        for login in [
            format!("{XMR}.rig01"),
            format!("{XMR}+50000"),
            format!("{XMR}/worker/me@example.org"),
            format!("x {XMR}"),
        ] {
            assert_eq!(w.lookup(Some(&login), None), Some("xmrig botnet (IR-117)"), "{login}");
        }
        assert_eq!(
            w.lookup(Some("0x5a0b54d5dc17e0aadc383d2db43b0a0d3e029c4c.rig2"), None),
            Some("known drop")
        );
        assert_eq!(w.lookup(Some("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"), None), Some(""));
        // Base58 is case-sensitive: a different case is a different address.
        assert_eq!(w.lookup(Some(&XMR.to_ascii_lowercase()), None), None);
        // A listed address only as part of a longer token does not match.
        assert_eq!(w.lookup(Some(&format!("{XMR}x")), None), None);
        assert_eq!(w.lookup(None, Some(XMR)), Some("xmrig botnet (IR-117)"));
        assert_eq!(w.lookup(None, None), None);
        assert_eq!(Watchlist::default().lookup(Some(XMR), None), None);
    }

    #[test]
    fn refuses_bad_files_with_the_line_number() {
        let e = "ok\nwallet.worker label\n".parse::<Watchlist>().unwrap_err();
        assert_eq!(e.line, 2);
        let e = format!("a\n{}\n", "b".repeat(MAX_LINE + 1)).parse::<Watchlist>().unwrap_err();
        assert_eq!(e.line, 2);
        let w: Watchlist = format!("addr {}\n", "\u{e9}".repeat(MAX_LABEL)).parse().unwrap();
        assert!(w.lookup(Some("addr"), None).is_some_and(|l| l.len() <= MAX_LABEL));
    }

    #[test]
    fn unlabelled_entries_carry_the_files_label_or_name() {
        let text = format!("# sanctions\n#  Label:  OFAC SDN (XMR)\n{XMR}\n0xabc own label\n");
        let w = Watchlist::parse_labelled(&text, "ignored").unwrap();
        assert_eq!(w.lookup(Some(XMR), None), Some("OFAC SDN (XMR)"));
        assert_eq!(w.lookup(Some("0xabc"), None), Some("own label"));
        let w = Watchlist::parse_labelled(&format!("{XMR}\n"), "sanctioned_addresses_XMR").unwrap();
        assert_eq!(w.lookup(Some(XMR), None), Some("sanctioned_addresses_XMR"));
        assert_eq!(file_label(Path::new("/lists/sanctioned_addresses_XMR.txt")), "sanctioned_addresses_XMR");
        assert_eq!(file_label(Path::new("wallets")), "wallets");
        // A file named only by its label line still has no label without one.
        assert_eq!(format!("{XMR}\n").parse::<Watchlist>().unwrap().lookup(Some(XMR), None), Some(""));
    }
}

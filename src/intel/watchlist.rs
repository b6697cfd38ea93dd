//! The wallet watchlist (`--watchlist FILE`): addresses an analyst wants flagged, each with an
//! optional label. A session whose login holds a listed address gets `severity` 1 and the
//! entry's `watchlist_label` in its records.
//!
//! File format: one address per line, an optional label after the first run of whitespace
//! (space or tab), `#` starts a comment line, blank lines are ignored. Example:
//!
//! ```text
//! # incident 2024-117
//! 48edfHu7V9Z84YzzMa6f...   xmrig botnet (IR-117)
//! 0x5a0b54d5dc17e0aadc383d2db43b0a0d3e029c4c known ethminer drop
//! ```
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

impl Watchlist {
    pub fn load(path: &Path) -> Result<Watchlist, WatchlistError> {
        let text = std::fs::read(path).map_err(|e| WatchlistError { line: 0, reason: e.to_string() })?;
        let text = String::from_utf8(text)
            .map_err(|_| WatchlistError { line: 0, reason: "not UTF-8 text".into() })?;
        text.parse()
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

impl std::str::FromStr for Watchlist {
    type Err = WatchlistError;

    fn from_str(text: &str) -> Result<Watchlist, WatchlistError> {
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
            if addr.contains(is_separator) {
                return Err(WatchlistError {
                    line: line_no,
                    reason: format!(
                        "{addr:?} is not a bare address (it holds a separator such as '.' or '+')"
                    ),
                });
            }
            if w.entries.len() >= MAX_ENTRIES {
                return Err(WatchlistError {
                    line: line_no,
                    reason: format!("more than {MAX_ENTRIES} entries"),
                });
            }
            let mut label = label.to_string();
            if label.len() > MAX_LABEL {
                let mut end = MAX_LABEL;
                while !label.is_char_boundary(end) {
                    end -= 1;
                }
                label.truncate(end);
            }
            w.entries.insert(normalise(addr).into_owned(), label);
        }
        Ok(w)
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
}

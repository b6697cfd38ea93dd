//! Threat-intelligence files read as watchlists and pool lists: MISP exports (CSV, and JSON
//! events or attributes) and STIX 2.1 bundles of indicators, besides a JSON array of addresses
//! (the shape of the OFAC SDN address lists' `.json` files).
//!
//! What is taken:
//! - MISP attributes of type `btc` and `xmr` are wallets (for the watchlist, labelled with the
//!   event's `info`); `domain`, `hostname` and `ip-dst` (an address or a CIDR range) are pools,
//!   as are the matching halves of `domain|ip`, `hostname|port` and `ip-dst|port`. Attributes of
//!   other types are counted as skipped. JSON shapes: an event (`{"Event": {...}}`, its
//!   `Attribute` list and its objects' ones), a `restSearch` answer (`{"response": [...]}` of
//!   events or `{"response": {"Attribute": [...]}}`), an `{"Attribute": [...]}`, and arrays of
//!   events or attributes. CSV: the export's header names the columns; `type` and `value` are
//!   needed.
//! - STIX 2.1 `indicator` objects whose pattern (`pattern_type` `stix`) is one comparison or
//!   several joined by `OR`, each `=` (or `ISSUBSET` for an address range) on
//!   `domain-name:value`, `ipv4-addr:value`, `ipv6-addr:value` (pools) or a wallet object's
//!   `value` or `address` (`cryptocurrency-wallet`, or a custom `x-…wallet…` type): wallets
//!   labelled with the indicator's `name`. A pattern that joins with `AND`, `FOLLOWEDBY` or a
//!   qualifier (`WITHIN`, `REPEATS`) does not say that any one of its values is a pool, so its
//!   indicator is skipped (and counted), as are revoked indicators and other objects.
//!
//! The format is told by an explicit `misp:` or `stix:` before the path, else by the content:
//! a JSON object whose `type` is `bundle` is STIX, another JSON object or an array of objects
//! is MISP, an array of strings is a plain list in JSON, a text whose first line is a CSV header
//! with `type` and `value` columns is a MISP CSV export, and anything else a plain list.
//!
//! Bounds: the caller reads at most [`MAX_FILE_BYTES`] of a file; at most [`MAX_ENTRIES`]
//! entries are taken from one; a STIX pattern longer than [`MAX_PATTERN`] is skipped. Every
//! error is one line (the caller puts the path in front).

use serde::Deserialize;

/// Largest intelligence or list file read (a file over it is refused, not cut).
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// Most entries (wallets and pools together) taken from one file.
pub const MAX_ENTRIES: usize = 1_000_000;
/// Longest STIX pattern read.
pub const MAX_PATTERN: usize = 64 << 10;

/// How a file is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One entry per line (the original list format).
    Plain,
    /// A JSON array of strings, one entry each.
    JsonList,
    MispCsv,
    MispJson,
    Stix,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Plain => "list",
            Format::JsonList => "JSON list",
            Format::MispCsv => "MISP CSV",
            Format::MispJson => "MISP JSON",
            Format::Stix => "STIX 2.1 bundle",
        }
    }
}

/// A format named before the path (`misp:FILE`, `stix:FILE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hint {
    Misp,
    Stix,
}

/// Splits an explicit `misp:` or `stix:` off a path as given.
pub fn split_hint(path: &str) -> (Option<Hint>, &str) {
    if let Some(p) = path.strip_prefix("misp:") {
        (Some(Hint::Misp), p)
    } else if let Some(p) = path.strip_prefix("stix:") {
        (Some(Hint::Stix), p)
    } else {
        (None, path)
    }
}

/// What an intelligence file gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Feed {
    /// Wallet addresses, each with its label when the file gives one (MISP event `info`, STIX
    /// indicator `name`).
    pub wallets: Vec<(String, Option<String>)>,
    /// Pool domains, addresses and ranges, as written (checked by the pool list).
    pub pools: Vec<String>,
    /// Attributes or objects of kinds not read, and indicators whose pattern is not read.
    pub skipped: usize,
}

/// Why an intelligence file was refused.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("not valid {0} ({1})")]
    Json(&'static str, serde_json::Error),
    #[error("MISP CSV: {0}")]
    Csv(String),
    #[error("more than {MAX_ENTRIES} entries")]
    TooMany,
}

/// The format of `text`, from `hint` when given, else from the content.
pub fn detect(text: &str, hint: Option<Hint>) -> Format {
    let t = text.trim_start_matches('\u{feff}').trim_start();
    match hint {
        Some(Hint::Stix) => return Format::Stix,
        Some(Hint::Misp) if t.starts_with(['{', '[']) => return Format::MispJson,
        Some(Hint::Misp) => return Format::MispCsv,
        None => {}
    }
    if let Some(rest) = t.strip_prefix('[') {
        return if rest.trim_start().starts_with('{') { Format::MispJson } else { Format::JsonList };
    }
    if t.starts_with('{') {
        /// The top-level `type`, reading nothing else into memory.
        #[derive(Deserialize)]
        struct Top {
            #[serde(rename = "type")]
            kind: Option<String>,
        }
        return match serde_json::from_str::<Top>(t) {
            Ok(Top { kind: Some(k) }) if k == "bundle" => Format::Stix,
            Ok(_) => Format::MispJson,
            // Not JSON: the error should name what it was meant to be. A bundle says so early.
            Err(_) => {
                let head = t.as_bytes().get(..4096).unwrap_or(t.as_bytes());
                if memchr::memmem::find(head, b"\"bundle\"").is_some() {
                    Format::Stix
                } else {
                    Format::MispJson
                }
            }
        };
    }
    let first = t.lines().next().unwrap_or("");
    if first.contains(',') && csv_header(first).is_some() {
        return Format::MispCsv;
    }
    Format::Plain
}

/// The `type` and `value` columns (and `comment`, unused) of a MISP CSV header line.
fn csv_header(line: &str) -> Option<(usize, usize)> {
    let cols: Vec<&str> = line.split(',').map(|c| c.trim().trim_matches('"')).collect();
    let at = |name: &str| cols.iter().position(|c| c.eq_ignore_ascii_case(name));
    Some((at("type")?, at("value")?))
}

/// A JSON array of strings.
pub fn json_list(text: &str) -> Result<Vec<String>, FeedError> {
    let list: Vec<String> = serde_json::from_str(text).map_err(|e| FeedError::Json("JSON list", e))?;
    if list.len() > MAX_ENTRIES {
        return Err(FeedError::TooMany);
    }
    Ok(list)
}

/// Reads a MISP or STIX file (`format` from [`detect`]; a plain format gives an empty feed).
pub fn parse(format: Format, text: &str) -> Result<Feed, FeedError> {
    let text = text.trim_start_matches('\u{feff}');
    let mut feed = Feed::default();
    match format {
        Format::Plain | Format::JsonList => {}
        Format::MispCsv => misp_csv(text, &mut feed)?,
        Format::MispJson => misp_json(text, &mut feed)?,
        Format::Stix => stix(text, &mut feed)?,
    }
    if feed.wallets.len() + feed.pools.len() > MAX_ENTRIES {
        return Err(FeedError::TooMany);
    }
    Ok(feed)
}

/// One MISP attribute, as an export writes it (other fields ignored).
#[derive(Debug, Deserialize)]
struct MispAttribute {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

#[derive(Debug, Default, Deserialize)]
struct MispObject {
    #[serde(rename = "Attribute", default)]
    attributes: Vec<MispAttribute>,
}

#[derive(Debug, Default, Deserialize)]
struct MispEvent {
    info: Option<String>,
    #[serde(rename = "Attribute", default)]
    attributes: Vec<MispAttribute>,
    #[serde(rename = "Object", default)]
    objects: Vec<MispObject>,
}

/// Any of the JSON shapes MISP exports: an event wrapper, an attribute list, a `restSearch`
/// answer, or a bare attribute (inside an array).
#[derive(Debug, Default, Deserialize)]
struct MispDoc {
    #[serde(rename = "Event")]
    event: Option<MispEvent>,
    #[serde(rename = "Attribute")]
    attributes: Option<Vec<MispAttribute>>,
    response: Option<MispResponse>,
    #[serde(rename = "type")]
    kind: Option<String>,
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum MispResponse {
    Many(Vec<MispDoc>),
    One(Box<MispDoc>),
}

fn misp_json(text: &str, feed: &mut Feed) -> Result<(), FeedError> {
    let docs: Vec<MispDoc> = if text.trim_start().starts_with('[') {
        serde_json::from_str(text).map_err(|e| FeedError::Json("MISP JSON", e))?
    } else {
        vec![serde_json::from_str(text).map_err(|e| FeedError::Json("MISP JSON", e))?]
    };
    for doc in &docs {
        misp_doc(doc, None, feed, 0);
    }
    Ok(())
}

/// Takes what `doc` holds; `depth` bounds the nesting of `response` (one level in MISP).
fn misp_doc(doc: &MispDoc, label: Option<&str>, feed: &mut Feed, depth: u8) {
    if let Some(ev) = &doc.event {
        let label = ev.info.as_deref().filter(|i| !i.trim().is_empty()).map(str::trim);
        for a in ev.attributes.iter().chain(ev.objects.iter().flat_map(|o| o.attributes.iter())) {
            misp_attribute(&a.kind, &a.value, label, feed);
        }
    }
    for a in doc.attributes.iter().flatten() {
        misp_attribute(&a.kind, &a.value, label, feed);
    }
    if let (Some(kind), Some(value)) = (&doc.kind, &doc.value) {
        misp_attribute(kind, value, label, feed);
    }
    if depth < 2 {
        match &doc.response {
            Some(MispResponse::Many(docs)) => docs.iter().for_each(|d| misp_doc(d, label, feed, depth + 1)),
            Some(MispResponse::One(d)) => misp_doc(d, label, feed, depth + 1),
            None => {}
        }
    }
}

/// Sorts one attribute into wallets, pools or skipped.
fn misp_attribute(kind: &str, value: &str, label: Option<&str>, feed: &mut Feed) {
    let value = value.trim();
    let (first, second) = value.split_once('|').unwrap_or((value, ""));
    match kind.trim() {
        "btc" | "xmr" => feed.wallets.push((value.to_string(), label.map(str::to_string))),
        "domain" | "hostname" | "ip-dst" => feed.pools.push(value.to_string()),
        "domain|ip" => {
            feed.pools.push(first.to_string());
            feed.pools.push(second.to_string());
        }
        "hostname|port" | "ip-dst|port" => feed.pools.push(first.to_string()),
        _ => feed.skipped += 1,
    }
}

fn misp_csv(text: &str, feed: &mut Feed) -> Result<(), FeedError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| FeedError::Csv(e.to_string()))?;
    let at = |name: &str| headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let (Some(kind), Some(value)) = (at("type"), at("value")) else {
        return Err(FeedError::Csv("the header line has no `type` and `value` columns".into()));
    };
    for record in reader.records() {
        let record = record.map_err(|e| FeedError::Csv(e.to_string()))?;
        match (record.get(kind), record.get(value)) {
            (Some(k), Some(v)) => misp_attribute(k, v, None, feed),
            _ => feed.skipped += 1,
        }
        if feed.wallets.len() + feed.pools.len() > MAX_ENTRIES {
            return Err(FeedError::TooMany);
        }
    }
    Ok(())
}

/// A STIX object, with the few properties read (others ignored).
#[derive(Debug, Deserialize)]
struct StixObject {
    #[serde(rename = "type")]
    kind: String,
    name: Option<String>,
    pattern: Option<String>,
    pattern_type: Option<String>,
    #[serde(default)]
    revoked: bool,
}

#[derive(Debug, Deserialize)]
struct Bundle {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    objects: Vec<StixObject>,
}

fn stix(text: &str, feed: &mut Feed) -> Result<(), FeedError> {
    let bundle: Bundle = serde_json::from_str(text).map_err(|e| FeedError::Json("STIX bundle", e))?;
    if bundle.kind != "bundle" {
        return Err(FeedError::Json(
            "STIX bundle",
            serde::de::Error::custom(format!("its type is {:?}, not \"bundle\"", bundle.kind)),
        ));
    }
    for o in &bundle.objects {
        let pattern = match (&*o.kind, &o.pattern, o.pattern_type.as_deref()) {
            ("indicator", Some(p), None | Some("stix")) if !o.revoked && p.len() <= MAX_PATTERN => p,
            _ => {
                feed.skipped += 1;
                continue;
            }
        };
        match pattern_values(pattern) {
            Some(values) if !values.is_empty() => {
                let label = o.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
                for (what, v) in values {
                    match what {
                        Kind::Pool => feed.pools.push(v),
                        Kind::Wallet => feed.wallets.push((v, label.map(str::to_string))),
                    }
                }
            }
            _ => feed.skipped += 1,
        }
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Pool,
    Wallet,
}

#[derive(Debug, PartialEq, Eq)]
enum Tok<'a> {
    Punct,
    Str(String),
    Word(&'a str),
}

/// STIX patterning's tokens, as far as this reader needs them: brackets and parentheses
/// (`Punct`), quoted strings (with `\'` and `\\` escapes), operators and words. `None`: an
/// unterminated string.
fn tokens(p: &str) -> Option<Vec<Tok<'_>>> {
    let mut out = Vec::new();
    let mut rest = p;
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = rest.trim_start();
        } else if matches!(c, '[' | ']' | '(' | ')') {
            out.push(Tok::Punct);
            rest = rest.get(1..)?;
        } else if c == '\'' {
            let mut s = String::new();
            let mut chars = rest.char_indices().skip(1);
            let end = loop {
                match chars.next()? {
                    (_, '\\') => s.push(chars.next()?.1),
                    (i, '\'') => break i,
                    (_, ch) => s.push(ch),
                }
            };
            out.push(Tok::Str(s));
            rest = rest.get(end + 1..)?;
        } else {
            let op = matches!(c, '=' | '!' | '<' | '>');
            let end = rest
                .find(|ch: char| {
                    ch.is_whitespace()
                        || matches!(ch, '[' | ']' | '(' | ')' | '\'')
                        || (matches!(ch, '=' | '!' | '<' | '>') != op)
                })
                .unwrap_or(rest.len());
            out.push(Tok::Word(rest.get(..end)?));
            rest = rest.get(end..)?;
        }
    }
    Some(out)
}

/// What an object path names: a pool (domain or address) or a wallet; `None` for others.
fn path_kind(path: &str) -> Option<Kind> {
    let (object, property) = path.split_once(':')?;
    match (object, property) {
        ("domain-name" | "ipv4-addr" | "ipv6-addr", "value") => Some(Kind::Pool),
        (o, "value" | "address")
            if o == "cryptocurrency-wallet" || (o.starts_with("x-") && o.contains("wallet")) =>
        {
            Some(Kind::Wallet)
        }
        _ => None,
    }
}

/// The values of a pattern made of `PATH = 'VALUE'` comparisons joined by `OR` (an address
/// path may use `ISSUBSET 'CIDR'`). Comparisons on paths not read are left out (`OR`: the
/// others still hold alone); `None` when the pattern says more than "any of these" (`AND`,
/// `FOLLOWEDBY`, `NOT`, `LIKE`, a qualifier) or cannot be read.
fn pattern_values(pattern: &str) -> Option<Vec<(Kind, String)>> {
    let toks = tokens(pattern)?;
    let mut out = Vec::new();
    let mut it = toks.into_iter();
    while let Some(t) = it.next() {
        match t {
            Tok::Punct => {}
            Tok::Word(w) if w.eq_ignore_ascii_case("OR") => {}
            Tok::Word(path) if path.contains(':') => {
                let (Some(Tok::Word(op)), Some(Tok::Str(v))) = (it.next(), it.next()) else {
                    return None;
                };
                let kind = path_kind(path);
                let ok = op == "=" || (op.eq_ignore_ascii_case("ISSUBSET") && path.ends_with("-addr:value"));
                if !ok {
                    return None;
                }
                if let Some(k) = kind {
                    out.push((k, v));
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats_from_the_content_or_the_prefix() {
        assert_eq!(detect("pool.example\n", None), Format::Plain);
        assert_eq!(detect("# comment, with a comma\npool.example\n", None), Format::Plain);
        assert_eq!(detect("[\n  \"49Hq\",\n  \"884B\"\n]", None), Format::JsonList);
        assert_eq!(detect("[]", None), Format::JsonList);
        assert_eq!(detect(" [{\"Event\": {}}]", None), Format::MispJson);
        assert_eq!(detect("{\"Event\": {\"info\": \"x\"}}", None), Format::MispJson);
        assert_eq!(detect("\u{feff}{\"type\": \"bundle\", \"objects\": []}", None), Format::Stix);
        assert_eq!(detect("{\"type\": \"bundle\", \"objects\": [", None), Format::Stix, "cut short");
        assert_eq!(detect("uuid,event_id,category,type,value,comment\n", None), Format::MispCsv);
        assert_eq!(detect("x,y\n", Some(Hint::Misp)), Format::MispCsv);
        assert_eq!(detect("{}", Some(Hint::Stix)), Format::Stix);
        assert_eq!(split_hint("misp:/a/b.csv"), (Some(Hint::Misp), "/a/b.csv"));
        assert_eq!(split_hint("stix:b.json"), (Some(Hint::Stix), "b.json"));
        assert_eq!(split_hint("/a/misp:b"), (None, "/a/misp:b"));
    }

    #[test]
    fn stix_patterns_read_only_plain_alternatives() {
        let v = pattern_values;
        assert_eq!(
            v("[domain-name:value = 'pool.example']"),
            Some(vec![(Kind::Pool, "pool.example".into())])
        );
        assert_eq!(
            v("[ipv4-addr:value ISSUBSET '203.0.113.0/24' OR ipv6-addr:value='2001:db8::1'] OR [file:name = 'x']"),
            Some(vec![(Kind::Pool, "203.0.113.0/24".into()), (Kind::Pool, "2001:db8::1".into())])
        );
        assert_eq!(v("[x-crypto-wallet:address = 'it\\'s']"), Some(vec![(Kind::Wallet, "it's".into())]));
        assert_eq!(v("[cryptocurrency-wallet:value = 'bc1q']"), Some(vec![(Kind::Wallet, "bc1q".into())]));
        assert_eq!(v("[domain-name:value = 'a.example' AND network-traffic:dst_port = 3333]"), None);
        assert_eq!(v("[domain-name:value = 'a.example'] FOLLOWEDBY [domain-name:value = 'b.example']"), None);
        assert_eq!(v("[domain-name:value = 'a.example'] WITHIN 300 SECONDS"), None);
        assert_eq!(v("[domain-name:value NOT = 'a.example']"), None);
        assert_eq!(v("[domain-name:value LIKE '%.example']"), None);
        assert_eq!(v("[domain-name:value = 'unterminated]"), None);
        assert_eq!(v("[url:value = 'http://x']"), Some(vec![]));
    }

    #[test]
    fn hostile_text_is_an_error_or_nothing_never_a_panic() {
        for t in ["{", "[{", "{\"type\": \"bundle\", \"objects\": 5}", "[1, 2]", "'", "[[[[", "\u{feff}"] {
            for f in [Format::MispJson, Format::Stix, Format::MispCsv] {
                let _ = parse(f, t);
            }
            let _ = json_list(t);
            let _ = pattern_values(t);
        }
        assert!(matches!(parse(Format::MispCsv, "a,b\n1,2\n"), Err(FeedError::Csv(_))));
        let e = parse(Format::Stix, "{\"type\": \"indicator\"}").unwrap_err().to_string();
        assert!(e.contains("not \"bundle\""), "{e}");
        assert!(!e.contains('\n'));
    }
}

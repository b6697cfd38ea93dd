//! Borrowed JSON-RPC message types, parsed with serde_json only for candidate lines.
//!
//! Why hand-written visitors instead of `#[derive(Deserialize)]` on the message struct:
//! - A derived struct rejects duplicate keys, and a peer (or an evader) that repeats `"method"`
//!   would turn a mining line into "not JSON". Here the last occurrence wins, as in the JSON
//!   parsers pools are written with (JavaScript, Python).
//! - A derived struct rejects a `method` that is not a string; here such a line is still valid
//!   JSON, it just carries no method.
//! - Keys are compared after unescaping, so `"me\u0074hod"` is `method`.
//!
//! Invariants: nothing here builds a `serde_json::Value`; every value we do not need is skipped
//! with [`IgnoredAny`], every value we may need later is kept as a borrowed [`RawValue`] slice of
//! the line and interpreted on demand by the small typed helpers below. The only allocations are
//! the batch vector (at most [`MAX_BATCH`] entries) and strings that had to be unescaped, which
//! are no longer than the line itself. serde_json's recursion limit (128) bounds nesting, and
//! its value skipper is iterative, so no line can exhaust the stack.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Most batch elements looked at per line; the rest of an absurd batch is validated and skipped.
pub const MAX_BATCH: usize = 64;

/// A string off the wire: borrowed from the line when it had no escapes, owned otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Str<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// One JSON-RPC message (request, notification or response), borrowing from the line.
///
/// `null` is folded into `None` for `id`, `result` and `error`, because Stratum pools write
/// `"error": null` on success and `"id": null` on notifications.
#[derive(Clone, Debug, Default)]
pub struct Message<'a> {
    pub id: Option<&'a RawValue>,
    /// The method name after JSON unescaping; `None` when absent or not a string.
    pub method: Option<Cow<'a, str>>,
    pub params: Option<&'a RawValue>,
    pub result: Option<&'a RawValue>,
    pub error: Option<&'a RawValue>,
    /// ethminer's eth-proxy adds a top-level `"worker"` name to its requests.
    pub worker: Option<Cow<'a, str>>,
    /// The web-miner dialect (Coinhive and its successors) names its messages by `"type"`
    /// rather than `"method"`: `{"type":"auth","params":{...}}`.
    pub kind: Option<Cow<'a, str>>,
}

impl<'a> Message<'a> {
    /// A response: no method, and a result or an error.
    pub fn is_response(&self) -> bool {
        self.method.is_none() && (self.result.is_some() || self.error.is_some())
    }
}

/// A parsed line: one message, or the first [`MAX_BATCH`] objects of a batch.
#[derive(Debug)]
pub enum Line<'a> {
    /// A JSON object (or, defensively, a scalar the probe would not have passed: `None`).
    Single(Option<Message<'a>>),
    /// A JSON array: its object elements, in order. Non-object elements are skipped.
    Batch(Vec<Message<'a>>),
}

impl<'a> Line<'a> {
    pub fn messages(&self) -> std::slice::Iter<'_, Message<'a>> {
        match self {
            Line::Single(Some(m)) => std::slice::from_ref(m).iter(),
            Line::Single(None) => [].iter(),
            Line::Batch(v) => v.iter(),
        }
    }
}

/// Why a line was not JSON. Deliberately small and `Copy`: detail is not worth keeping per line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotJson;

/// Parses one line (a trailing `\r` or other JSON whitespace is fine). Any syntax error,
/// invalid UTF-8, trailing garbage or nesting deeper than serde_json's limit is [`NotJson`].
pub fn parse_line(line: &[u8]) -> Result<Line<'_>, NotJson> {
    // JSON text is UTF-8. Validating the whole line up front (fast) also covers the values we
    // skip, which serde_json's slice reader would not check.
    let text = std::str::from_utf8(line).map_err(|_| NotJson)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = LineSeed.deserialize(&mut de).map_err(|_| NotJson)?;
    de.end().map_err(|_| NotJson)?;
    Ok(parsed)
}

struct LineSeed;

impl<'de> DeserializeSeed<'de> for LineSeed {
    type Value = Line<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(LineVisitor)
    }
}

struct LineVisitor;

impl<'de> Visitor<'de> for LineVisitor {
    type Value = Line<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-RPC object or batch")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        MessageVisitor.visit_map(map).map(|m| Line::Single(Some(m)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        let mut seen = 0usize;
        while seen < MAX_BATCH {
            match seq.next_element_seed(ElementSeed)? {
                Some(Some(m)) => out.push(m),
                Some(None) => {}
                None => return Ok(Line::Batch(out)),
            }
            seen += 1;
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Line::Batch(out))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Line::Single(None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Line::Single(None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Line::Single(None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Line::Single(None))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Line::Single(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Line::Single(None))
    }
}

/// A batch element: an object becomes a message, anything else is skipped (`None`).
struct ElementSeed;

impl<'de> DeserializeSeed<'de> for ElementSeed {
    type Value = Option<Message<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ElementVisitor)
    }
}

struct ElementVisitor;

impl<'de> Visitor<'de> for ElementVisitor {
    type Value = Option<Message<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        MessageVisitor.visit_map(map).map(Some)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A `null` raw value means "absent" for our purposes.
fn non_null(v: &RawValue) -> Option<&RawValue> {
    (v.get() != "null").then_some(v)
}

struct MessageVisitor;

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = Message<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-RPC object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut m = Message::default();
        while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
            match key.as_ref() {
                "id" => m.id = non_null(map.next_value()?),
                "method" => m.method = as_str(map.next_value()?),
                "params" => m.params = non_null(map.next_value()?),
                "result" => m.result = non_null(map.next_value()?),
                "error" => m.error = non_null(map.next_value()?),
                "worker" => m.worker = as_str(map.next_value()?),
                "type" => m.kind = as_str(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(m)
    }
}

/// The value as a string (unescaped), or `None` if it is not a JSON string.
///
/// A raw value begins at its first byte (serde_json skips the whitespace before it), so one
/// that does not begin with a quote is no string: said at once, because serde_json's answer
/// for it is an error whose message it formats and allocates (a number where a name was
/// expected, as in `"type": 1`, cost ~2,000 instructions a line on the edge benchmark).
pub fn as_str(v: &RawValue) -> Option<Cow<'_, str>> {
    if !v.get().starts_with('"') {
        return None;
    }
    serde_json::from_str::<Str<'_>>(v.get()).ok().map(|s| s.0)
}

/// The value as a finite number, or `None`.
pub fn as_f64(v: &RawValue) -> Option<f64> {
    serde_json::from_str::<f64>(v.get()).ok().filter(|f| f.is_finite())
}

/// Whether the value is the literal `true`.
pub fn is_true(v: &RawValue) -> bool {
    v.get() == "true"
}

/// Whether the value is the literal `false`.
pub fn is_false(v: &RawValue) -> bool {
    v.get() == "false"
}

/// Whether the value is a JSON object (judged by its first byte; the line was already validated).
pub fn is_object(v: &RawValue) -> bool {
    v.get().starts_with('{')
}

/// The values of the named keys of a JSON object, in `keys` order (last duplicate wins;
/// keys compared after unescaping); `None` when `v` is not an object. Other keys are skipped
/// without allocation.
pub fn fields<'a, const N: usize>(v: &'a RawValue, keys: &[&str; N]) -> Option<[Option<&'a RawValue>; N]> {
    if !is_object(v) {
        return None;
    }
    let mut de = serde_json::Deserializer::from_str(v.get());
    de.deserialize_map(FieldsVisitor { keys }).ok()
}

struct FieldsVisitor<'k, const N: usize> {
    keys: &'k [&'k str; N],
}

impl<'de, const N: usize> Visitor<'de> for FieldsVisitor<'_, N> {
    type Value = [Option<&'de RawValue>; N];
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = [None; N];
        while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
            let slot = self.keys.iter().position(|k| *k == key.as_ref()).and_then(|i| out.get_mut(i));
            match slot {
                Some(slot) => *slot = non_null(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// The first `N` elements of a JSON array and its total length; `None` when `v` is not an
/// array. Elements past `N` are skipped without allocation, so a huge `params` costs nothing.
pub fn elements<const N: usize>(v: &RawValue) -> Option<([Option<&RawValue>; N], usize)> {
    if !v.get().starts_with('[') {
        return None;
    }
    let mut de = serde_json::Deserializer::from_str(v.get());
    de.deserialize_seq(ElementsVisitor::<N>).ok()
}

struct ElementsVisitor<const N: usize>;

impl<'de, const N: usize> Visitor<'de> for ElementsVisitor<N> {
    type Value = ([Option<&'de RawValue>; N], usize);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = [None; N];
        let mut len = 0usize;
        while len < N {
            match seq.next_element::<&'de RawValue>()? {
                Some(v) => {
                    if let Some(slot) = out.get_mut(len) {
                        *slot = non_null(v);
                    }
                    len += 1;
                }
                None => return Ok((out, len)),
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {
            len = len.saturating_add(1);
        }
        Ok((out, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(line: &[u8]) -> Message<'_> {
        match parse_line(line) {
            Ok(Line::Single(Some(m))) => m,
            other => panic!("not a single message: {other:?}"),
        }
    }

    #[test]
    fn parses_request_with_borrowed_fields() {
        let m = single(br#"{"id": 1, "method": "mining.subscribe", "params": ["cpuminer/2.5.1"]}"#);
        assert_eq!(m.id.map(|v| v.get()), Some("1"));
        assert!(matches!(m.method, Some(Cow::Borrowed("mining.subscribe"))));
        assert_eq!(m.params.map(|v| v.get()), Some(r#"["cpuminer/2.5.1"]"#));
        assert!(!m.is_response());
    }

    #[test]
    fn escaped_keys_and_method_are_unescaped() {
        let m = single(br#"{"me\u0074hod":"mining\u002esubscribe","\u0069d":7}"#);
        assert_eq!(m.method.as_deref(), Some("mining.subscribe"));
        assert_eq!(m.id.map(|v| v.get()), Some("7"));
    }

    #[test]
    fn null_fields_are_absent_and_responses_recognised() {
        let m = single(b"{\"id\":null,\"result\":true,\"error\":null}\r");
        assert!(m.id.is_none());
        assert!(m.error.is_none());
        assert!(m.is_response());
        assert!(is_true(m.result.unwrap()));
    }

    #[test]
    fn duplicate_keys_last_wins_and_non_string_method_is_no_method() {
        let m = single(br#"{"method":"a","method":"b"}"#);
        assert_eq!(m.method.as_deref(), Some("b"));
        let m = single(br#"{"method":5,"params":[]}"#);
        assert!(m.method.is_none());
    }

    #[test]
    fn batches_keep_objects_and_cap_length() {
        let Ok(Line::Batch(v)) = parse_line(br#"[{"method":"a"}, 3, [1], {"id":2,"result":1}]"#) else {
            panic!("batch")
        };
        assert_eq!(v.len(), 2);
        let mut big = b"[".to_vec();
        for i in 0..200 {
            if i > 0 {
                big.push(b',');
            }
            big.extend_from_slice(br#"{"method":"x"}"#);
        }
        big.push(b']');
        let Ok(Line::Batch(v)) = parse_line(&big) else { panic!("batch") };
        assert_eq!(v.len(), MAX_BATCH);
    }

    #[test]
    fn rejects_non_json() {
        assert_eq!(parse_line(b"{\"id\":1").err(), Some(NotJson));
        assert_eq!(parse_line(b"{\"id\":1} x").err(), Some(NotJson));
        assert_eq!(parse_line(b"{\"m\":\"\xff\"}").err(), Some(NotJson));
        assert_eq!(parse_line(b"").err(), Some(NotJson));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let mut deep = b"{\"params\":".to_vec();
        deep.extend(std::iter::repeat(b'[').take(100_000));
        deep.extend(std::iter::repeat(b']').take(100_000));
        deep.push(b'}');
        // Inside a raw value serde_json skips iteratively: valid, and no stack overflow.
        assert!(parse_line(&deep).is_ok());
        let mut deep2: Vec<u8> = vec![b'['; 100_000];
        deep2.extend(std::iter::repeat(b']').take(100_000));
        let _ = parse_line(&deep2);
        let mut deep3 = b"{\"x\":".to_vec();
        deep3.extend(std::iter::repeat(b'{').take(50_000));
        let _ = parse_line(&deep3);
    }

    #[test]
    fn helpers_read_fields_and_elements() {
        let v: &RawValue = serde_json::from_str(
            r#"{ "login" : "w\u0061llet", "pass":"x", "pass":"y", "other": [1,{"a":2}] }"#,
        )
        .unwrap();
        let [login, pass, agent] = fields(v, &["login", "pass", "agent"]).unwrap();
        assert_eq!(login.and_then(as_str).as_deref(), Some("wallet"));
        assert_eq!(pass.and_then(as_str).as_deref(), Some("y"));
        assert!(agent.is_none());
        let a: &RawValue = serde_json::from_str(r#"[ "a", 2.5, null, 4, 5 ]"#).unwrap();
        let ([x, y, z], len) = elements::<3>(a).unwrap();
        assert_eq!(x.and_then(as_str).as_deref(), Some("a"));
        assert_eq!(y.and_then(as_str), None, "a number is no string");
        assert_eq!(y.and_then(as_f64), Some(2.5));
        assert!(z.is_none());
        assert_eq!(len, 5);
        assert!(elements::<2>(v).is_none());
        assert!(fields(a, &["x"]).is_none());
        // A raw value begins at its first byte, whitespace around it or not.
        let spaced: &RawValue = serde_json::from_str(" \t\n \"x\" ").unwrap();
        assert_eq!(as_str(spaced).as_deref(), Some("x"));
        for other in ["1", "-2.5e3", "null", "true", "{\"a\":\"b\"}", "[\"a\"]"] {
            let v: &RawValue = serde_json::from_str(other).unwrap();
            assert_eq!(as_str(v), None, "{other}");
        }
    }
}

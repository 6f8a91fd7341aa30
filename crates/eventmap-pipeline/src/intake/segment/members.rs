//! A JSON object read as its members: each key (unescaped; borrowed from the body when it
//! has no escapes) and its value's text exactly as it came. The intake reads and changes
//! a handful of an event's top-level members and passes the rest through as text, so it
//! never builds a `serde_json::Value` of the event (parsing into one and writing it back
//! was most of the intake's time).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// An object's members, in the order written; a key written twice keeps its last value
/// (as `serde_json` does).
#[derive(Debug)]
pub(crate) struct Members<'a>(pub Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Members<'a> {
    /// The value's text of `key`.
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    pub fn remove(&mut self, key: &str) -> Option<&'a RawValue> {
        let at = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(at).1)
    }

    /// The string value of `key` (unescaped), when it is a string.
    pub fn string(&self, key: &str) -> Option<Cow<'a, str>> {
        let raw = self.get(key)?;
        if !raw.get().starts_with('"') {
            return None;
        }
        serde_json::from_str::<Cow<'a, str>>(raw.get()).ok()
    }

    /// Keeps the last of each key written more than once.
    fn keep_last_of_each_key(&mut self) {
        let members = &mut self.0;
        if members.len() <= 32 {
            let mut i = 0;
            while i < members.len() {
                if members[i + 1..].iter().any(|(k, _)| *k == members[i].0) {
                    members.remove(i);
                } else {
                    i += 1;
                }
            }
            return;
        }
        // Linear for an object with many keys (a hostile body may have thousands).
        let last: HashMap<&str, usize> = members
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.as_ref(), i))
            .collect();
        let keep: Vec<bool> = members
            .iter()
            .enumerate()
            .map(|(i, (k, _))| last.get(k.as_ref()) == Some(&i))
            .collect();
        let mut flags = keep.into_iter();
        members.retain(|_| flags.next().unwrap_or(true));
    }
}

/// Reads `text` as a JSON object's members. An error says whether the text was not JSON
/// at all (`classify()` is syntax or EOF) or JSON that is not an object (data).
pub(crate) fn object(text: &str) -> Result<Members<'_>, serde_json::Error> {
    let mut members: Members<'_> = serde_json::from_str(text)?;
    members.keep_last_of_each_key();
    Ok(members)
}

/// Whether `text` holds a `\uD800`–`\uDFFF` escape (half of a surrogate pair, or a
/// lone one). A backslash before the `u` may itself be escaped (`\\uD800` is text, not an
/// escape); counting it as one only costs a needless check.
pub(crate) fn has_surrogate_escape(text: &str) -> bool {
    let bytes = text.as_bytes();
    text.match_indices("\\u").any(|(at, _)| {
        matches!(bytes.get(at + 2), Some(b'd' | b'D'))
            && matches!(
                bytes.get(at + 3),
                Some(b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
            )
    })
}

/// Appends `"key":value` (with a comma unless it is the first member) to `out`.
pub(crate) fn write_member(out: &mut Vec<u8>, first: &mut bool, key: &str, value: &str) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    write_string(out, key);
    out.push(b':');
    out.extend_from_slice(value.as_bytes());
}

/// `text` as a JSON string.
pub(crate) fn write_string(out: &mut Vec<u8>, text: &str) {
    // Writing a string to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MembersVisitor)
    }
}

struct MembersVisitor;

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Members<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(16));
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let value: &'de RawValue = map.next_value()?;
            members.push((key, value));
        }
        Ok(Members(members))
    }
}

/// A key, borrowed from the text when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Borrowed(key)))
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(key.to_owned())))
    }

    fn visit_string<E: de::Error>(self, key: String) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_keep_their_text_order_and_the_last_of_a_repeated_key() {
        let members =
            object(r#"{"a": {"x" : 1}, "b\n": "s\u00e9", "a": [1,2]}"#).expect("an object");
        let keys: Vec<&str> = members.0.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["b\n", "a"]);
        assert_eq!(members.get("a").map(RawValue::get), Some("[1,2]"));
        assert_eq!(members.string("b\n").as_deref(), Some("sé"));
        assert_eq!(members.string("a"), None);
        let many: String = (0..100)
            .map(|i| format!("\"k{}\":{i}", i % 40))
            .collect::<Vec<_>>()
            .join(",");
        let text = format!("{{{many}}}");
        let members = object(&text).expect("an object");
        assert_eq!(members.0.len(), 40);
        assert_eq!(members.get("k0").map(RawValue::get), Some("80"));
    }

    #[test]
    fn what_is_not_an_object_or_not_json_is_told_apart() {
        use serde_json::error::Category;
        assert_eq!(object("[1]").unwrap_err().classify(), Category::Data);
        assert_eq!(object("{nope").unwrap_err().classify(), Category::Syntax);
        assert_eq!(object(r#"{"a":"#).unwrap_err().classify(), Category::Eof);
    }

    #[test]
    fn surrogate_escapes_are_noticed() {
        assert!(has_surrogate_escape(r#"{"a":"\ud83d\ude00"}"#));
        assert!(has_surrogate_escape(r#"{"a":"\uDC00"}"#));
        assert!(!has_surrogate_escape(r#"{"a":"\u00e9 \u0041 \ud"}"#));
    }

    #[test]
    fn written_members_are_json() {
        let mut out = b"{".to_vec();
        let mut first = true;
        write_member(&mut out, &mut first, "q\"", "1");
        write_member(&mut out, &mut first, "b", r#"{"c": true}"#);
        out.push(b'}');
        let value: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(value, serde_json::json!({"q\"": 1, "b": {"c": true}}));
    }
}

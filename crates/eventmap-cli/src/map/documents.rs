//! `--explain`'s input: JSON documents one after another, each on one line (NDJSON) or
//! spread over many (a pretty-printed event pasted from a log or a ticket).

use serde_json::Value;

/// One document of the input, or why it is not an event; `line` is where it starts.
#[derive(Debug)]
pub(crate) struct Document {
    pub line: u64,
    pub event: Result<Value, String>,
}

/// Splits `text` into its documents. After a document that does not parse, reading
/// resumes at the next line that starts with `{` (where the next NDJSON line or the next
/// pretty-printed document begins), so one bad document does not hide the rest.
pub(crate) fn documents(text: &str) -> Vec<Document> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(start) = next_start(text, at) {
        let line = line_of(text, start);
        let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(value)) => {
                at = start + stream.byte_offset();
                let event = if value.is_object() {
                    Ok(value)
                } else {
                    Err(format!(
                        "not an event: an event is a JSON object, this is {}",
                        kind(&value)
                    ))
                };
                found.push(Document { line, event });
            }
            Some(Err(e)) => {
                found.push(Document {
                    line,
                    event: Err(format!(
                        "invalid JSON: {e} (counting from the document's start)"
                    )),
                });
                at = resume_after(text, start);
            }
            None => break,
        }
    }
    found
}

/// Where the next document starts: the next character that is not whitespace.
fn next_start(text: &str, from: usize) -> Option<usize> {
    text.get(from..)?
        .find(|c: char| !c.is_whitespace())
        .map(|i| from + i)
}

/// After a broken document: the next line that starts with `{`, or the end.
fn resume_after(text: &str, start: usize) -> usize {
    let mut offset = start;
    for line in text[start..].split_inclusive('\n') {
        if offset > start && line.starts_with('{') {
            return offset;
        }
        offset += line.len();
    }
    text.len()
}

fn line_of(text: &str, offset: usize) -> u64 {
    1 + text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "a list",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndjson_and_pretty_documents_are_found_with_their_lines() {
        let text = "{\"a\": 1}\n{\n  \"b\": {\n    \"c\": 2\n  }\n}\n\n{\"d\": 3}\n";
        let docs = documents(text);
        let lines: Vec<u64> = docs.iter().map(|d| d.line).collect();
        assert_eq!(lines, [1, 2, 8]);
        assert_eq!(docs[1].event.as_ref().unwrap()["b"]["c"], 2);
    }

    #[test]
    fn a_broken_document_is_reported_and_the_next_one_still_read() {
        let text = "{\n  \"a\": oops\n}\n[1, 2]\n{\"b\": 1}\n";
        let docs = documents(text);
        assert_eq!(docs.len(), 2, "{docs:?}");
        assert!(docs[0].event.as_ref().unwrap_err().contains("invalid JSON"));
        assert_eq!(docs[1].line, 5);
        assert!(docs[1].event.is_ok());
        let docs = documents("[1, 2]\n");
        assert!(docs[0].event.as_ref().unwrap_err().contains("a list"));
    }
}

//! `eventmap explain-error CODE`: what an error code means, an example and the fix, as
//! docs/errors.md says (the page is built into the binary, so the two cannot differ).
//! Without a code, the list of codes and their titles.

use eventmap::Code;

use crate::exit;

/// docs/errors.md, whole.
const ERRORS_PAGE: &str = include_str!("../../../docs/errors.md");

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The code, as printed after a message: `E0104` (or `e0104`, `0104`). Without it,
    /// every code with its title.
    code: Option<String>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<u8> {
    let Some(text) = &args.code else {
        for code in Code::all() {
            println!("{code}  {}", code.title());
        }
        return Ok(exit::OK);
    };
    let Some(code) = Code::parse(text) else {
        eprintln!(
            "eventmap: `{text}` is not an error code; `eventmap explain-error` lists them \
             (E0101 to E0117 for mappings, E0201 to E0205 for events, E0300 to E0303 for \
             pipeline files)"
        );
        return Ok(exit::ERROR);
    };
    match section_of(ERRORS_PAGE, code) {
        Some(section) => {
            println!("{}", section.trim_end());
            Ok(exit::OK)
        }
        // The tests hold the page to the codes; a binary built without a section still
        // says what it knows.
        None => {
            println!("{code}: {}", code.title());
            Ok(exit::OK)
        }
    }
}

/// The section of `page` that explains `code`: from its `## CODE:` heading to the next
/// heading of that level.
pub(crate) fn section_of(page: &str, code: Code) -> Option<&str> {
    let heading = format!("\n## {code}:");
    let start = page.find(&heading)? + 1;
    let rest = &page[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |at| at + 4);
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_section_with_its_title_an_example_and_a_fix() {
        for code in Code::all() {
            let section = section_of(ERRORS_PAGE, code)
                .unwrap_or_else(|| panic!("docs/errors.md has no section for {code}"));
            let first_line = section.lines().next().unwrap_or_default();
            assert_eq!(first_line, format!("## {code}: {}", code.title()));
            assert!(section.contains("**Fix:**"), "{code} has no fix");
            // E0300 is a file that cannot be read: no file to show.
            if code != Code::FileUnreadable {
                assert!(section.contains("```yaml "), "{code} has no example");
            }
            assert!(!section[3..].contains("\n## "), "{code}'s section runs on");
        }
        let headings = ERRORS_PAGE
            .lines()
            .filter(|l| l.starts_with("## E"))
            .count();
        assert_eq!(headings, Code::all().count(), "a section explains no code");
    }
}

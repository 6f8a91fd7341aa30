//! ISO 3166-1 alpha-2 codes from the many ways people write a country.
//!
//! celes matches alpha-2, alpha-3, numeric codes and English names case-insensitively, but
//! does not trim and knows few local names; we try it on the value, then on its letters
//! only ("United States" -> "unitedstates"), then celes' alias table, then our own short
//! list of common local names and abbreviations.

use std::str::FromStr;

use celes::Country;
use serde_json::Value;

use super::recent::Recent;
use super::transform::{expect_str, TransformError};

/// Names celes does not know, written as lowercase letters only.
const ALIASES: &[(&str, &str)] = &[
    ("uk", "GB"),
    ("britain", "GB"),
    ("deutschland", "DE"),
    ("españa", "ES"),
    ("espana", "ES"),
    ("brasil", "BR"),
    ("méxico", "MX"),
    ("italia", "IT"),
    ("nederland", "NL"),
    ("schweiz", "CH"),
    ("suisse", "CH"),
    ("österreich", "AT"),
    ("osterreich", "AT"),
    ("belgië", "BE"),
    ("belgique", "BE"),
    ("sverige", "SE"),
    ("norge", "NO"),
    ("danmark", "DK"),
    ("suomi", "FI"),
    ("polska", "PL"),
    ("türkiye", "TR"),
    ("turkiye", "TR"),
    ("côtedivoire", "CI"),
    ("cotedivoire", "CI"),
    ("ivorycoast", "CI"),
    ("korea", "KR"),
    ("southkorea", "KR"),
    ("northkorea", "KP"),
    ("russia", "RU"),
    ("vietnam", "VN"),
    ("czechia", "CZ"),
    ("czechrepublic", "CZ"),
    ("unitedstatesofamerica", "US"),
    ("america", "US"),
    ("uae", "AE"),
];

/// Longer spellings are looked up each time rather than remembered.
const REMEMBERED_LEN: usize = 64;

/// The alpha-2 code of a country name or code, or `None` when it is not recognised.
/// The last spellings seen on this thread are remembered (`recent.rs`): celes lowercases
/// and hashes the value into several tables, and a stream repeats a few spellings.
pub fn country_alpha2(input: &str) -> Option<&'static str> {
    use std::cell::RefCell;
    thread_local! {
        static RECENT: RefCell<Recent<String, Option<&'static str>>> = const { RefCell::new(Recent::new()) };
    }
    if input.len() > REMEMBERED_LEN {
        return look_up(input);
    }
    RECENT.with(|recent| {
        recent
            .borrow_mut()
            .get_or_find(input, str::to_owned, || look_up(input))
    })
}

fn look_up(input: &str) -> Option<&'static str> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return None;
    }
    if let Ok(country) = Country::from_str(trimmed) {
        return Some(country.alpha2);
    }
    let letters: String = trimmed
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    Country::from_str(&letters)
        .or_else(|_| Country::from_alias(&letters))
        .map(|c| c.alpha2)
        .ok()
        .or_else(|| {
            ALIASES
                .iter()
                .find(|(alias, _)| *alias == letters)
                .map(|(_, code)| *code)
        })
}

pub(crate) fn country_alpha2_transform(
    value: &Value,
    _args: &[Value],
) -> Result<Option<Value>, TransformError> {
    let text = expect_str(value, "country")?;
    country_alpha2(text)
        .map(|code| Some(Value::String(code.to_string())))
        .ok_or_else(|| TransformError::new("the country is not a country name or ISO 3166-1 code"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_codes_and_aliases() {
        let cases = [
            ("US", "US"),
            ("us", "US"),
            ("USA", "US"),
            ("usa", "US"),
            ("United States", "US"),
            ("  united states ", "US"),
            ("United States of America", "US"),
            ("United Kingdom", "GB"),
            ("UK", "GB"),
            ("GBR", "GB"),
            ("Great Britain", "GB"),
            ("Deutschland", "DE"),
            ("Germany", "DE"),
            ("DEU", "DE"),
            ("South Korea", "KR"),
            ("Côte d'Ivoire", "CI"),
            ("Cote d'Ivoire", "CI"),
            ("France", "FR"),
            ("fr", "FR"),
            ("Japan", "JP"),
            ("New Zealand", "NZ"),
            ("276", "DE"),
            ("Netherlands", "NL"),
            ("NO", "NO"),
        ];
        for (input, expected) in cases {
            assert_eq!(country_alpha2(input), Some(expected), "input {input:?}");
        }
    }

    #[test]
    fn unknown_country_is_an_error() {
        assert_eq!(country_alpha2("Atlantis"), None);
        assert_eq!(country_alpha2("   "), None);
        let err = country_alpha2_transform(&Value::from("Atlantis"), &[]).unwrap_err();
        assert_eq!(
            err.0,
            "the country is not a country name or ISO 3166-1 code"
        );
        assert!(country_alpha2_transform(&Value::from(1), &[]).is_err());
    }
}

//! The `user` object: hashes, country, city, zip code, IP address, user agent, in either
//! documented shape (a value, or a list of up to three).

use std::net::IpAddr;
use std::str::FromStr;

use eventmap::Node;

use super::check::{is_uuid, At, Check, USER};
use crate::rules::Rule;

impl Check {
    pub(super) fn user(&mut self, user: Node<'_>) {
        let Some(fields) = user.as_object() else {
            self.fail(Rule::UserFieldsKnown, "user", "must be an object");
            return;
        };
        for (key, value) in fields {
            let path = At::Key(&USER, key);
            match key {
                "email_sha256" | "external_id_sha256" => self.hash(path, value),
                "emails_sha256"
                | "phone_numbers_sha256"
                | "external_ids_sha256"
                | "first_names_sha256"
                | "last_names_sha256" => self.list(path, value, |c, p, v| c.hash(p, v)),
                "country" => self.country(path, value),
                "countries" => self.list(path, value, |c, p, v| c.country(p, v)),
                "city" => self.text(path, value, 128),
                "cities" | "regions" => self.list(path, value, |c, p, v| c.text(p, v, 128)),
                "zip_code" => self.zip(path, value),
                "postal_codes" => self.list(path, value, |c, p, v| c.zip(p, v)),
                "ip_address" => match value.as_str().map(IpAddr::from_str) {
                    Some(Ok(_)) => {}
                    _ => self.fail(Rule::UserIpAddress, path, "must be an IPv4 or IPv6 address"),
                },
                "user_agent" | "obref" => self.text(path, value, usize::MAX),
                "android_advertising_id" => {
                    if !value.as_str().is_some_and(is_uuid) {
                        self.fail(Rule::UserAdvertisingIdUuid, path, "must be a UUID");
                    }
                }
                _ => self.fail(
                    Rule::UserFieldsKnown,
                    path,
                    "is not a documented user field",
                ),
            }
        }
    }

    pub(super) fn list(
        &mut self,
        path: At<'_>,
        value: Node<'_>,
        each: impl Fn(&mut Self, At<'_>, Node<'_>),
    ) {
        match value.as_array() {
            Some(items) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    each(self, At::Item(&path, i), Node::Value(item));
                }
            }
            Some(_) => self.fail(Rule::UserListShape, path, "must not be empty"),
            None => self.fail(Rule::UserListShape, path, "must be a list"),
        }
    }

    pub(super) fn hash(&mut self, path: At<'_>, value: Node<'_>) {
        // Every byte judged, no early exit: the loop is vectorized.
        let ok = value.as_str().is_some_and(|s| {
            s.len() == 64
                && s.bytes().fold(true, |ok, b| {
                    ok & (b.is_ascii_digit() | (b'a'..=b'f').contains(&b))
                })
        });
        if !ok {
            self.fail(
                Rule::UserHashSha256,
                path,
                "must be a lowercase 64-hex SHA-256 digest (never the raw value)",
            );
        }
    }

    pub(super) fn country(&mut self, path: At<'_>, value: Node<'_>) {
        let ok = value.as_str().is_some_and(|s| {
            s.len() == 2
                && s.bytes().all(|b| b.is_ascii_uppercase())
                && celes::Country::from_alpha2(s).is_ok()
        });
        if !ok {
            self.fail(
                Rule::UserCountryIso,
                path,
                "must be an uppercase ISO 3166-1 alpha-2 country code",
            );
        }
    }

    pub(super) fn text(&mut self, path: At<'_>, value: Node<'_>, max_chars: usize) {
        match value.as_str() {
            // No more bytes than the limit means no more characters: most need no count.
            Some(s)
                if !s.trim().is_empty()
                    && (s.len() <= max_chars || s.chars().count() <= max_chars) => {}
            Some(s) if s.trim().is_empty() => self.fail(Rule::UserText, path, "must not be empty"),
            Some(_) => self.fail(
                Rule::UserText,
                path,
                format!("must be at most {max_chars} characters"),
            ),
            None => self.fail(Rule::UserText, path, "must be a string"),
        }
    }

    pub(super) fn zip(&mut self, path: At<'_>, value: Node<'_>) {
        // Only ASCII is allowed, so bytes are characters.
        let ok = value.as_str().is_some_and(|s| {
            !s.is_empty()
                && s.len() <= 32
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b'-')
        });
        if !ok {
            self.fail(
                Rule::UserZipCode,
                path,
                "must be at most 32 letters, digits, spaces or hyphens",
            );
        }
    }
}

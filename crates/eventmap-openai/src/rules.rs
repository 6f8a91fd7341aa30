//! The validator's rules by stable name: what a mapping relaxes
//! (`validate: { relax: [amount_non_negative] }`), what docs/openai.md lists with each
//! rule's source, and what a violation names.

use eventmap_pipeline::destination::RuleSet;

/// One rule of the OpenAI validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    KnownFields,
    IdRequired,
    TypeSupported,
    CustomEventNameWithCustom,
    CustomEventNameCharset,
    CustomEventNameNotStandard,
    TimestampInteger,
    TimestampWindow,
    ActionSourceSupported,
    SourceUrlHttp,
    SourceUrlForWeb,
    AppEventsFromMobileApp,
    OpprefString,
    OpprefClickId,
    OptOutBoolean,
    UserFieldsKnown,
    UserListShape,
    UserHashSha256,
    UserCountryIso,
    UserText,
    UserZipCode,
    UserIpAddress,
    UserAdvertisingIdUuid,
    DataRequired,
    DataTypeMatches,
    DataFieldsAllowed,
    AmountInteger,
    AmountNonNegative,
    CurrencyIso,
    CurrencyWithAmount,
    PlanIdString,
    ContentsShape,
    ItemFieldsKnown,
    ItemText,
    QuantityPositive,
    VariantDictStrings,
}

impl Rule {
    pub const ALL: [Rule; 36] = [
        Rule::KnownFields,
        Rule::IdRequired,
        Rule::TypeSupported,
        Rule::CustomEventNameWithCustom,
        Rule::CustomEventNameCharset,
        Rule::CustomEventNameNotStandard,
        Rule::TimestampInteger,
        Rule::TimestampWindow,
        Rule::ActionSourceSupported,
        Rule::SourceUrlHttp,
        Rule::SourceUrlForWeb,
        Rule::AppEventsFromMobileApp,
        Rule::OpprefString,
        Rule::OpprefClickId,
        Rule::OptOutBoolean,
        Rule::UserFieldsKnown,
        Rule::UserListShape,
        Rule::UserHashSha256,
        Rule::UserCountryIso,
        Rule::UserText,
        Rule::UserZipCode,
        Rule::UserIpAddress,
        Rule::UserAdvertisingIdUuid,
        Rule::DataRequired,
        Rule::DataTypeMatches,
        Rule::DataFieldsAllowed,
        Rule::AmountInteger,
        Rule::AmountNonNegative,
        Rule::CurrencyIso,
        Rule::CurrencyWithAmount,
        Rule::PlanIdString,
        Rule::ContentsShape,
        Rule::ItemFieldsKnown,
        Rule::ItemText,
        Rule::QuantityPositive,
        Rule::VariantDictStrings,
    ];
}

impl RuleSet for Rule {
    const RULES: &'static [Rule] = &Rule::ALL;

    fn describe(self) -> (&'static str, &'static str) {
        match self {
            Rule::KnownFields => ("known_fields", "only the documented top-level fields"),
            Rule::IdRequired => ("id_required", "`id` is a non-empty string"),
            Rule::TypeSupported => ("type_supported", "`type` is a documented event type"),
            Rule::CustomEventNameWithCustom => (
                "custom_event_name_with_custom",
                "`custom_event_name` is present exactly when `type` is `custom`",
            ),
            Rule::CustomEventNameCharset => (
                "custom_event_name_charset",
                "`custom_event_name` is 1–64 letters, digits, `_` or `-`, starting and ending with a letter or digit",
            ),
            Rule::CustomEventNameNotStandard => (
                "custom_event_name_not_standard",
                "`custom_event_name` is not a standard event type's name",
            ),
            Rule::TimestampInteger => ("timestamp_integer", "`timestamp_ms` is an integer"),
            Rule::TimestampWindow => (
                "timestamp_window",
                "`timestamp_ms` is at most 7 days old and at most 10 minutes ahead",
            ),
            Rule::ActionSourceSupported => (
                "action_source_supported",
                "`action_source` is a documented source",
            ),
            Rule::SourceUrlHttp => ("source_url_http", "`source_url` is an http(s) URL with a host"),
            Rule::SourceUrlForWeb => ("source_url_for_web", "`web` events have a `source_url`"),
            Rule::AppEventsFromMobileApp => (
                "app_events_from_mobile_app",
                "`app_installed` and `app_opened` have `action_source: mobile_app`",
            ),
            Rule::OpprefString => ("oppref_string", "`oppref` is a non-empty string"),
            Rule::OpprefClickId => (
                "oppref_click_id",
                "`oppref` is at most 256 URL-safe characters (`A-Z a-z 0-9 . _ ~ + / -`)",
            ),
            Rule::OptOutBoolean => ("opt_out_boolean", "`opt_out` is true or false"),
            Rule::UserFieldsKnown => ("user_fields_known", "`user` is an object of documented fields"),
            Rule::UserListShape => ("user_list_shape", "list-valued user fields are non-empty lists"),
            Rule::UserHashSha256 => (
                "user_hash_sha256",
                "hashed user fields are lowercase 64-hex SHA-256 digests",
            ),
            Rule::UserCountryIso => ("user_country_iso", "countries are uppercase ISO 3166-1 alpha-2"),
            Rule::UserText => ("user_text", "text user fields are non-empty; cities at most 128 characters"),
            Rule::UserZipCode => (
                "user_zip_code",
                "zip codes are at most 32 letters, digits, spaces or hyphens",
            ),
            Rule::UserIpAddress => ("user_ip_address", "`ip_address` is an IPv4 or IPv6 address"),
            Rule::UserAdvertisingIdUuid => (
                "user_advertising_id_uuid",
                "`android_advertising_id` is a UUID",
            ),
            Rule::DataRequired => ("data_required", "`data` is present and an object"),
            Rule::DataTypeMatches => (
                "data_type_matches",
                "`data.type` is present and the one the event type requires",
            ),
            Rule::DataFieldsAllowed => ("data_fields_allowed", "`data` has only its type's fields"),
            Rule::AmountInteger => ("amount_integer", "amounts are integers in the currency's minor unit"),
            Rule::AmountNonNegative => ("amount_non_negative", "amounts are not negative"),
            Rule::CurrencyIso => ("currency_iso", "currencies are uppercase ISO 4217 codes"),
            Rule::CurrencyWithAmount => (
                "currency_with_amount",
                "an amount comes with a currency (an event-level currency covers its items)",
            ),
            Rule::PlanIdString => ("plan_id_string", "`data.plan_id` is a non-empty string"),
            Rule::ContentsShape => (
                "contents_shape",
                "`data.contents` is a list of objects with at least one field",
            ),
            Rule::ItemFieldsKnown => ("item_fields_known", "content items have only documented fields"),
            Rule::ItemText => ("item_text", "item ids, names, types and groups are non-empty strings"),
            Rule::QuantityPositive => ("quantity_positive", "item quantities are positive integers"),
            Rule::VariantDictStrings => ("variant_dict_strings", "`variant_dict` is an object of strings"),
        }
    }
}

impl Rule {
    pub(crate) fn bit(self) -> u64 {
        1 << (self as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_snake_case_and_read_back() {
        let names: std::collections::HashSet<_> = Rule::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(names.len(), Rule::ALL.len());
        for rule in Rule::ALL {
            let snake = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
            assert!(rule.name().bytes().all(snake), "{}", rule.name());
            assert_eq!(Rule::from_name(rule.name()), Some(rule));
            assert!(rule.bit().is_power_of_two());
        }
    }
}

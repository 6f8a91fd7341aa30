//! The Meta validator's rules by stable name: what a mapping relaxes, what docs/meta.md
//! lists with each rule's source, and what a violation names.

use eventmap_pipeline::destination::RuleSet;

/// One rule of the Meta validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    KnownFields,
    EventNameRequired,
    EventTimeSeconds,
    EventTimeWindow,
    ActionSourceSupported,
    SourceUrlForWebsite,
    SourceUrlHttp,
    EventIdString,
    OptOutBoolean,
    UserDataRequired,
    UserAgentForWebsite,
    UserHashSha256,
    ValueWithCurrency,
    ValueNumber,
    CurrencyIso,
    ContentsShape,
}

impl Rule {
    pub const ALL: [Rule; 16] = [
        Rule::KnownFields,
        Rule::EventNameRequired,
        Rule::EventTimeSeconds,
        Rule::EventTimeWindow,
        Rule::ActionSourceSupported,
        Rule::SourceUrlForWebsite,
        Rule::SourceUrlHttp,
        Rule::EventIdString,
        Rule::OptOutBoolean,
        Rule::UserDataRequired,
        Rule::UserAgentForWebsite,
        Rule::UserHashSha256,
        Rule::ValueWithCurrency,
        Rule::ValueNumber,
        Rule::CurrencyIso,
        Rule::ContentsShape,
    ];
}

impl RuleSet for Rule {
    const RULES: &'static [Rule] = &Rule::ALL;

    fn describe(self) -> (&'static str, &'static str) {
        match self {
            Rule::KnownFields => ("known_fields", "only the documented server event fields"),
            Rule::EventNameRequired => {
                ("event_name_required", "`event_name` is a non-empty string")
            }
            Rule::EventTimeSeconds => (
                "event_time_seconds",
                "`event_time` is an integer Unix time in seconds (not milliseconds)",
            ),
            Rule::EventTimeWindow => ("event_time_window", "`event_time` is at most 7 days old"),
            Rule::ActionSourceSupported => (
                "action_source_supported",
                "`action_source` is one of Meta's sources (`website`, `app`, …)",
            ),
            Rule::SourceUrlForWebsite => (
                "source_url_for_website",
                "`website` events have an `event_source_url`",
            ),
            Rule::SourceUrlHttp => (
                "source_url_http",
                "`event_source_url` begins with http:// or https://",
            ),
            Rule::EventIdString => ("event_id_string", "`event_id` is a non-empty string"),
            Rule::OptOutBoolean => ("opt_out_boolean", "`opt_out` is true or false"),
            Rule::UserDataRequired => {
                ("user_data_required", "`user_data` is present and an object")
            }
            Rule::UserAgentForWebsite => (
                "user_agent_for_website",
                "`website` events have `user_data.client_user_agent`",
            ),
            Rule::UserHashSha256 => (
                "user_hash_sha256",
                "hashed customer fields are lowercase 64-hex SHA-256 digests (one or a list)",
            ),
            Rule::ValueWithCurrency => (
                "value_with_currency",
                "`custom_data.value` comes with `custom_data.currency`",
            ),
            Rule::ValueNumber => (
                "value_number",
                "`custom_data.value` is a number in the currency's major unit",
            ),
            Rule::CurrencyIso => ("currency_iso", "`custom_data.currency` is an ISO 4217 code"),
            Rule::ContentsShape => (
                "contents_shape",
                "`custom_data.contents` is a list of objects with `id`, `quantity`, `item_price`",
            ),
        }
    }
}

impl Rule {
    pub(crate) fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

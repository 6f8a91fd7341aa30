//! The Conversions API event, as documented (see `shared/reference/openai-capi.md`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The event types, each with the `data` shape it requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    PageViewed,
    ContentsViewed,
    ItemsAdded,
    CheckoutStarted,
    OrderCreated,
    LeadCreated,
    RegistrationCompleted,
    AppointmentScheduled,
    AppInstalled,
    AppOpened,
    SubscriptionCreated,
    TrialStarted,
    Custom,
}

impl EventType {
    pub const ALL: [EventType; 13] = [
        Self::PageViewed,
        Self::ContentsViewed,
        Self::ItemsAdded,
        Self::CheckoutStarted,
        Self::OrderCreated,
        Self::LeadCreated,
        Self::RegistrationCompleted,
        Self::AppointmentScheduled,
        Self::AppInstalled,
        Self::AppOpened,
        Self::SubscriptionCreated,
        Self::TrialStarted,
        Self::Custom,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::PageViewed => "page_viewed",
            Self::ContentsViewed => "contents_viewed",
            Self::ItemsAdded => "items_added",
            Self::CheckoutStarted => "checkout_started",
            Self::OrderCreated => "order_created",
            Self::LeadCreated => "lead_created",
            Self::RegistrationCompleted => "registration_completed",
            Self::AppointmentScheduled => "appointment_scheduled",
            Self::AppInstalled => "app_installed",
            Self::AppOpened => "app_opened",
            Self::SubscriptionCreated => "subscription_created",
            Self::TrialStarted => "trial_started",
            Self::Custom => "custom",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The `data.type` this event type requires.
    pub fn data_type(self) -> DataType {
        match self {
            Self::PageViewed
            | Self::ContentsViewed
            | Self::ItemsAdded
            | Self::CheckoutStarted
            | Self::OrderCreated => DataType::Contents,
            Self::LeadCreated
            | Self::RegistrationCompleted
            | Self::AppointmentScheduled
            | Self::AppInstalled
            | Self::AppOpened => DataType::CustomerAction,
            Self::SubscriptionCreated | Self::TrialStarted => DataType::PlanEnrollment,
            Self::Custom => DataType::Custom,
        }
    }
}

/// The shapes of `data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataType {
    Contents,
    CustomerAction,
    PlanEnrollment,
    Custom,
}

impl DataType {
    pub fn name(self) -> &'static str {
        match self {
            Self::Contents => "contents",
            Self::CustomerAction => "customer_action",
            Self::PlanEnrollment => "plan_enrollment",
            Self::Custom => "custom",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Contents,
            Self::CustomerAction,
            Self::PlanEnrollment,
            Self::Custom,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }

    /// Which optional fields `data` of this shape may carry besides `type`.
    pub(crate) fn allows(self, field: &str) -> bool {
        match (self, field) {
            (_, "amount" | "currency") => true,
            (Self::Contents, "contents") => true,
            (Self::PlanEnrollment, "plan_id" | "contents") => true,
            // Custom data may carry anything.
            (Self::Custom, _) => true,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionSource {
    Web,
    MobileApp,
    Offline,
    PhysicalStore,
    PhoneCall,
    Email,
    Other,
}

impl ActionSource {
    pub const NAMES: [&'static str; 7] = [
        "web",
        "mobile_app",
        "offline",
        "physical_store",
        "phone_call",
        "email",
        "other",
    ];
}

/// A validated Conversions API event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapiEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_event_name: Option<String>,
    pub timestamp_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_source: Option<ActionSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oppref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_out: Option<bool>,
    /// Either documented user shape; validated field by field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Map<String, Value>>,
    pub data: EventData,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventData {
    #[serde(rename = "type")]
    pub data_type: DataType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contents: Option<Vec<ContentItem>>,
    /// Extra fields of `custom` data.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ContentItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    /// Unit price in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_dict: Option<std::collections::BTreeMap<String, String>>,
}

#[cfg(test)]
mod docs_tests {
    use super::*;

    /// docs/openai.md's table of event types says what the validator enforces: every
    /// type in it, with the `data.type` the model gives it, and no type left out.
    #[test]
    fn the_event_type_table_in_the_docs_matches_the_model() {
        let doc = include_str!("../../../docs/openai.md");
        let table = doc
            .split("## The API's event types and the data each needs")
            .nth(1)
            .and_then(|rest| {
                rest.split("\n\n")
                    .find(|block| block.starts_with("| `type`"))
            })
            .expect("docs/openai.md has the event type table");
        let mut seen = Vec::new();
        for row in table.lines().skip(2) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let data_type = cells[2].trim_matches('`');
            for name in cells[1].split(", ") {
                let name = name.trim_matches('`');
                let event_type = EventType::from_name(name)
                    .unwrap_or_else(|| panic!("`{name}` in the docs is not an event type"));
                assert_eq!(event_type.data_type().name(), data_type, "{name}");
                seen.push(event_type);
            }
        }
        for event_type in EventType::ALL {
            assert!(
                seen.contains(&event_type),
                "{} is not in the docs' table",
                event_type.name()
            );
        }
    }
}

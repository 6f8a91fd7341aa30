//! Named transforms: the built-ins and those a host registers.
//!
//! A transform takes the value being mapped plus zero or more extra arguments and returns
//! a new value, or `None` for "absent" (the key is then omitted). Every transform is usable
//! both by name in a mapping (`transform: sha256_email`) and as a function inside Rhai
//! expressions (`sha256_email(email)`).

mod click_id;
mod country;
mod hash;
mod lookup;
mod money;
mod recent;
mod registry;
mod spread;
mod text;
mod time;
mod transform;

pub use click_id::{valid_oppref, MAX_OPPREF_BYTES};
pub use country::country_alpha2;
pub use hash::{sha256_email, sha256_external_id, sha256_name, sha256_phone};
pub use money::{currency_from_code, minor_units, total_minor_units};
pub(crate) use registry::is_identifier;
pub use registry::{Registry, RegistryError};
pub(crate) use spread::spread_step;
pub use text::query_param_of;
pub use time::{format_rfc3339_ms, to_epoch_ms};
pub use transform::{Transform, TransformError, TransformFn};

#[cfg(test)]
mod tests {
    use super::transform::expect_str;
    use super::*;
    use serde_json::json;
    use serde_json::Value;

    #[test]
    fn host_transforms_are_registered_and_checked() {
        let mut registry = Registry::with_builtins();
        registry
            .register("reverse", 0..=0, "reverse a string", |v, _| {
                Ok(Some(Value::String(
                    expect_str(v, "input")?.chars().rev().collect(),
                )))
            })
            .unwrap();
        let reverse = registry.get("reverse").unwrap();
        assert_eq!(
            reverse.call(&json!("abc"), &[]).unwrap(),
            Some(json!("cba"))
        );
        assert_eq!(
            registry.register("reverse", 0..=0, "", |_, _| Ok(None)),
            Err(RegistryError::Duplicate("reverse".into()))
        );
        assert_eq!(
            registry.register("9lives", 0..=0, "", |_, _| Ok(None)),
            Err(RegistryError::InvalidName("9lives".into()))
        );
    }

    #[test]
    fn builtins_are_all_present() {
        let registry = Registry::with_builtins();
        for name in [
            "to_ms",
            "minor_units",
            "total_minor_units",
            "country_alpha2",
            "sha256_email",
            "sha256_phone",
            "sha256_name",
            "sha256_external_id",
            "trim",
            "lower",
            "upper",
            "query_param",
        ] {
            assert!(registry.get(name).is_some(), "{name} missing");
        }
    }
}

//! The operator's settings for a policy.
//!
//! An operator gives each policy a JSON value of settings (per tenant, where
//! tenants differ). The host asks the policy to check them once, when it
//! loads the policy set, through [`Policy::configure`](crate::Policy::configure);
//! a policy reads them while deciding with [`get`]. With serde, typed
//! settings are one derive and two one-line calls:
//!
//! ```
//! use portcullis_sdk::serde::Deserialize;
//! use portcullis_sdk::settings;
//!
//! #[derive(Deserialize, Default)]
//! #[serde(crate = "portcullis_sdk::serde", deny_unknown_fields, rename_all = "kebab-case")]
//! struct Limits {
//!     #[serde(default)]
//!     max_calls: u32,
//! }
//!
//! // In `configure`: a bad setting names its field.
//! let error = settings::validate::<Limits>(r#"{"max-calls": "ten"}"#).unwrap_err();
//! assert_eq!(error.field, "/max-calls");
//! assert!(settings::validate::<Limits>(r#"{"max-calls": 10}"#).is_ok());
//!
//! // In a check: the settings the host gives (natively, the ones a test set).
//! settings::set(r#"{"max-calls": 3}"#);
//! assert_eq!(settings::get::<Limits>().max_calls, 3);
//! ```
//!
//! Off `wasm32` the settings are a thread-local that a test sets with [`set`].

use serde::de::DeserializeOwned;

use crate::SettingError;
#[cfg(target_arch = "wasm32")]
use crate::bindings::portcullis::policy::host;

/// The settings of a policy that takes none: only `{}` (or `null`) is valid.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

/// Checks that `text`, the settings the host offers, reads as a `T`.
///
/// `null` reads as `{}`, so that a policy with all-default settings needs
/// no entry.
///
/// # Errors
/// Where (a JSON pointer, such as `/allowed-hosts/2`) and why `text` is not
/// a valid `T`.
pub fn validate<T: DeserializeOwned>(text: &str) -> Result<(), SettingError> {
    parse::<T>(text).map(|_| ())
}

/// The policy's settings for the current session, as a `T`.
///
/// # Panics
/// When the settings do not read as a `T`. The host only passes settings
/// that [`validate`] accepted in `configure`, so that means `configure`
/// checks another type; the panic traps, and the policy fails closed.
pub fn get<T: DeserializeOwned>() -> T {
    match parse::<T>(&raw()) {
        Ok(settings) => settings,
        Err(error) => panic!(
            "the host passed settings that do not read as this policy's settings type: {} {}",
            error.field, error.message
        ),
    }
}

/// The policy's settings for the current session, as the host gives them:
/// JSON text, `{}` when the operator gave none.
pub fn raw() -> String {
    #[cfg(target_arch = "wasm32")]
    return host::settings();
    #[cfg(not(target_arch = "wasm32"))]
    return native::SETTINGS.with(|settings| settings.borrow().clone());
}

/// Sets the settings [`get`] and [`raw`] return, on native targets only:
/// for tests of a policy with settings.
#[cfg(not(target_arch = "wasm32"))]
pub fn set(text: &str) {
    native::SETTINGS.with(|settings| *settings.borrow_mut() = text.to_owned());
}

fn parse<T: DeserializeOwned>(text: &str) -> Result<T, SettingError> {
    let text = match text.trim() {
        "null" | "" => "{}",
        text => text,
    };
    let mut reader = serde_json::Deserializer::from_str(text);
    let settings = serde_path_to_error::deserialize(&mut reader).map_err(|error| SettingError {
        field: pointer(error.path()),
        message: error.into_inner().to_string(),
    })?;
    reader.end().map_err(|error| SettingError {
        field: String::new(),
        message: error.to_string(),
    })?;
    Ok(settings)
}

/// `path` as a JSON pointer: `/allowed-hosts/2`, or empty for the root.
fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(crate::escape_pointer_segment(key)),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .map(|segment| format!("/{segment}"))
        .collect()
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::cell::RefCell;

    thread_local! {
        pub(super) static SETTINGS: RefCell<String> = RefCell::new("{}".to_owned());
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case")]
    struct Hosts {
        allowed_hosts: Vec<String>,
    }

    #[test]
    fn errors_name_the_field_as_a_json_pointer() {
        let error = validate::<Hosts>(r#"{"allowed-hosts": ["a", 2]}"#).unwrap_err();
        assert_eq!(error.field, "/allowed-hosts/1");
        assert!(
            error.message.contains("expected a string"),
            "{}",
            error.message
        );
        let error = validate::<Hosts>(r#"{"allowed-host": []}"#).unwrap_err();
        assert!(
            error.message.contains("unknown field `allowed-host`"),
            "{}",
            error.message
        );
        let error = validate::<Hosts>(r#"{"allowed-hosts": []} trailing"#).unwrap_err();
        assert_eq!(error.field, "");
    }

    #[test]
    fn a_policy_without_settings_accepts_only_an_empty_object() {
        assert!(validate::<NoSettings>("{}").is_ok());
        assert!(validate::<NoSettings>("null").is_ok());
        let error = validate::<NoSettings>(r#"{"deny": []}"#).unwrap_err();
        assert!(
            error.message.contains("unknown field `deny`"),
            "{}",
            error.message
        );
    }

    #[test]
    fn get_reads_what_a_test_set() {
        set(r#"{"allowed-hosts": ["localhost"]}"#);
        assert_eq!(
            get::<Hosts>(),
            Hosts {
                allowed_hosts: vec!["localhost".into()]
            }
        );
        set("{}");
    }
}

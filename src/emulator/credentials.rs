//! The credentials the emulator accepts, one set per vendor.
//!
//! They come from the same environment variables a real run reads, so a developer can
//! point callform at the emulator without changing anything else; every variable that is
//! missing (or empty) takes a public sandbox default, which is what `apply --sandbox`
//! uses. The defaults are deliberately recognisable: a sandbox token in a real request
//! is an obvious mistake, never a working secret.

use std::fmt;

/// Default for `XFYETA_TOKEN`.
pub const SANDBOX_XFYETA_TOKEN: &str = "sandbox-xfyeta-token";
/// Default for `LONGLONGLONG_USER_ID` (the account id in longlonglong's path).
pub const SANDBOX_LONGLONGLONG_USER_ID: &str = "00000000-5a4d-4b0c-8000-000000000001";
/// Default for `LONGLONGLONG_TOKEN`.
pub const SANDBOX_LONGLONGLONG_TOKEN: &str = "sandbox-longlonglong-token";
/// Default for `ALIBABA_CLOUD_ACCESS_KEY_ID`.
pub const SANDBOX_ALIYUN_ACCESS_KEY_ID: &str = "LTAI5tSandboxAccessKeyId";
/// Default for `ALIBABA_CLOUD_ACCESS_KEY_SECRET`.
pub const SANDBOX_ALIYUN_ACCESS_KEY_SECRET: &str = "sandbox-aliyun-access-key-secret";
/// The calling lines the Aliyun sandbox account has bought: what `CreateRobotTask`'s
/// `Caller` may name (fixed lines in Hangzhou's 0571 area, not anyone's phone).
pub const SANDBOX_ALIYUN_CALLERS: [&str; 2] = ["057100000001", "057100000002"];
/// Default for `VOLCENGINE_ACCESS_KEY`.
pub const SANDBOX_VOLCENGINE_ACCESS_KEY: &str = "AKLTSandboxAccessKey";
/// Default for `VOLCENGINE_SECRET_KEY`.
pub const SANDBOX_VOLCENGINE_SECRET_KEY: &str = "sandbox-volcengine-secret-key";

/// What the emulator accepts. `Debug` prints only the non-secret identifiers.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub xfyeta_token: String,
    pub longlonglong_user_id: String,
    pub longlonglong_token: String,
    pub aliyun_access_key_id: String,
    pub aliyun_access_key_secret: String,
    pub volcengine_access_key: String,
    pub volcengine_secret_key: String,
}

impl Credentials {
    /// Reads XFYETA_TOKEN, LONGLONGLONG_USER_ID, LONGLONGLONG_TOKEN, ALIBABA_CLOUD_ACCESS_KEY_ID,
    /// ALIBABA_CLOUD_ACCESS_KEY_SECRET, VOLCENGINE_ACCESS_KEY, VOLCENGINE_SECRET_KEY; each missing one takes its
    /// sandbox default (the `SANDBOX_*` constants). An empty or non-UTF-8 value counts as
    /// missing: an empty token would otherwise be a credential anyone can guess.
    pub fn from_env() -> Credentials {
        Credentials::from_lookup(|name| std::env::var(name).ok())
    }

    /// The sandbox defaults only.
    pub fn sandbox() -> Credentials {
        Credentials::from_lookup(|_| None)
    }

    /// Like [`Credentials::from_env`], with the variables read through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Credentials {
        let var = |name: &str, default: &str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        Credentials {
            xfyeta_token: var("XFYETA_TOKEN", SANDBOX_XFYETA_TOKEN),
            longlonglong_user_id: var("LONGLONGLONG_USER_ID", SANDBOX_LONGLONGLONG_USER_ID),
            longlonglong_token: var("LONGLONGLONG_TOKEN", SANDBOX_LONGLONGLONG_TOKEN),
            aliyun_access_key_id: var("ALIBABA_CLOUD_ACCESS_KEY_ID", SANDBOX_ALIYUN_ACCESS_KEY_ID),
            aliyun_access_key_secret: var(
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                SANDBOX_ALIYUN_ACCESS_KEY_SECRET,
            ),
            volcengine_access_key: var("VOLCENGINE_ACCESS_KEY", SANDBOX_VOLCENGINE_ACCESS_KEY),
            volcengine_secret_key: var("VOLCENGINE_SECRET_KEY", SANDBOX_VOLCENGINE_SECRET_KEY),
        }
    }
}

impl Default for Credentials {
    fn default() -> Credentials {
        Credentials::sandbox()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("xfyeta_token", &"***")
            .field("longlonglong_user_id", &self.longlonglong_user_id)
            .field("longlonglong_token", &"***")
            .field("aliyun_access_key_id", &self.aliyun_access_key_id)
            .field("aliyun_access_key_secret", &"***")
            .field("volcengine_access_key", &self.volcengine_access_key)
            .field("volcengine_secret_key", &"***")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_empty_variables_take_the_sandbox_defaults() {
        let creds = Credentials::from_lookup(|name| match name {
            "XFYETA_TOKEN" => Some("real-token".into()),
            "LONGLONGLONG_TOKEN" => Some(String::new()),
            _ => None,
        });
        assert_eq!(creds.xfyeta_token, "real-token");
        assert_eq!(creds.longlonglong_token, SANDBOX_LONGLONGLONG_TOKEN);
        assert_eq!(
            creds.aliyun_access_key_secret,
            SANDBOX_ALIYUN_ACCESS_KEY_SECRET
        );
        assert_eq!(
            Credentials::sandbox().volcengine_secret_key,
            SANDBOX_VOLCENGINE_SECRET_KEY
        );
    }

    #[test]
    fn debug_hides_secrets() {
        let shown = format!("{:?}", Credentials::sandbox());
        for secret in [
            SANDBOX_XFYETA_TOKEN,
            SANDBOX_LONGLONGLONG_TOKEN,
            SANDBOX_ALIYUN_ACCESS_KEY_SECRET,
            SANDBOX_VOLCENGINE_SECRET_KEY,
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains(SANDBOX_ALIYUN_ACCESS_KEY_ID));
    }
}

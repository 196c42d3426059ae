//! What callform reads from the world besides its files: environment variables, the clock
//! and the random number generator, behind one trait so that tests can fix them.
//!
//! Library code that needs the time or a salt takes it as an input; only the command
//! edge asks an [`Env`].

use std::collections::BTreeMap;

/// The operating system's random number generator failed.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomError(String);

/// Environment variables, the clock and randomness.
pub trait Env: Send + Sync {
    /// An environment variable; `None` when unset or not Unicode.
    fn var(&self, name: &str) -> Option<String>;
    /// The current time.
    fn now(&self) -> jiff::Timestamp;
    /// Fills `buf` with unpredictable bytes.
    fn random(&self, buf: &mut [u8]) -> Result<(), RandomError>;

    /// `bytes` random bytes as lowercase hex (a salt is 16 of them).
    fn random_hex(&self, bytes: usize) -> Result<String, RandomError> {
        let mut buf = vec![0u8; bytes];
        self.random(&mut buf)?;
        Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
    }
}

/// A fresh salt for a plan made before any state exists (the one the first apply gives
/// the new state): 16 random bytes as hex, like the state's own.
pub fn salt(env: &dyn Env) -> Result<String, RandomError> {
    env.random_hex(16)
}

/// The process's environment, the system clock and the OS generator.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealEnv;

impl Env for RealEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
    fn random(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        getrandom::fill(buf).map_err(|e| RandomError(e.to_string()))
    }
}

/// A fixed environment for tests: given variables, a fixed time, counting "random" bytes.
#[derive(Debug, Clone, Default)]
pub struct FakeEnv {
    /// The variables that are set.
    pub vars: BTreeMap<String, String>,
    /// What [`Env::now`] answers (the Unix epoch unless set).
    pub now: jiff::Timestamp,
    /// The first byte [`Env::random`] gives; each next byte is one more.
    pub seed: u8,
}

impl FakeEnv {
    /// This environment with `name` set to `value`.
    pub fn with_var(mut self, name: &str, value: &str) -> FakeEnv {
        self.vars.insert(name.to_string(), value.to_string());
        self
    }
}

impl Env for FakeEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
    fn now(&self) -> jiff::Timestamp {
        self.now
    }
    fn random(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = self.seed.wrapping_add(i as u8);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fake_is_fixed() {
        let env = FakeEnv::default().with_var("A", "b");
        assert_eq!(env.var("A").as_deref(), Some("b"));
        assert_eq!(env.var("B"), None);
        assert_eq!(env.random_hex(3).ok().as_deref(), Some("000102"));
        assert_eq!(env.now(), jiff::Timestamp::UNIX_EPOCH);
    }
}

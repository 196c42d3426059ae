//! What to do next, for every error a user can cause, and the top-level error.
//!
//! An error says what went wrong (its `Display`, naming the file, line, task or field);
//! [`Hint`] says what to do about it. They are printed as `error: …` and `hint: …` lines
//! by [`report`], the one place that joins them.

/// The next step for the user, when there is one.
pub trait Hint {
    /// One sentence, without the `hint: ` label.
    fn hint(&self) -> Option<String>;
}

/// `error: <message>` and, when there is one, `hint: <hint>` on the next line.
pub fn report<E: std::fmt::Display + Hint + ?Sized>(err: &E) -> String {
    match err.hint() {
        Some(h) => format!("error: {err}\nhint: {h}"),
        None => format!("error: {err}"),
    }
}

/// An error and its hint, for the edge where errors travel as `anyhow::Error`: displayed
/// as the message, a newline and `hint: …`.
#[derive(Debug)]
pub struct WithHint {
    message: String,
    hint: Option<String>,
}

impl WithHint {
    /// Keeps `err`'s message and hint.
    pub fn new<E: std::fmt::Display + Hint + ?Sized>(err: &E) -> WithHint {
        WithHint {
            message: err.to_string(),
            hint: err.hint(),
        }
    }
}

impl std::fmt::Display for WithHint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.hint {
            Some(h) => write!(f, "{}\nhint: {h}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for WithHint {}

/// A diagnostic's hint is its `= hint:` line.
impl Hint for crate::diag::Diagnostic {
    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }
}

/// The state's errors carry their hint in their message already.
impl Hint for crate::state::StateError {
    fn hint(&self) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct E;
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("it broke")
        }
    }
    impl Hint for E {
        fn hint(&self) -> Option<String> {
            Some("mend it".into())
        }
    }

    #[test]
    fn a_hint_is_its_own_line() {
        assert_eq!(report(&E), "error: it broke\nhint: mend it");
        assert_eq!(WithHint::new(&E).to_string(), "it broke\nhint: mend it");
    }
}

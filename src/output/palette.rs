//! The one palette: every colour callform prints comes from here, so the plan, the
//! diagnostics and the apply report look alike and are switched off by one decision
//! (per stream, see [`super::Printer`]).

/// ANSI colours, or plain text when `on` is false.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    /// Whether to colour at all.
    pub on: bool,
}

impl Palette {
    /// `s` in the SGR style `code` (`"32"`, `"1;31"`, …), reset after.
    pub fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    /// Additions and creates.
    pub fn green(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    /// Removals and blocked changes.
    pub fn red(&self, s: &str) -> String {
        self.wrap("31", s)
    }
    /// Changes, warnings, what needs a look.
    pub fn yellow(&self, s: &str) -> String {
        self.wrap("33", s)
    }
    /// Names and headings.
    pub fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    /// The `error` label of a diagnostic.
    pub fn error_label(&self, s: &str) -> String {
        self.wrap("1;31", s)
    }
    /// The `warning` label of a diagnostic.
    pub fn warning_label(&self, s: &str) -> String {
        self.wrap("1;33", s)
    }
}

#[cfg(test)]
mod tests {
    use super::Palette;

    #[test]
    fn off_is_plain_text() {
        let p = Palette { on: false };
        assert_eq!(p.red("x"), "x");
        assert_eq!(Palette { on: true }.red("x"), "\x1b[31mx\x1b[0m");
    }
}

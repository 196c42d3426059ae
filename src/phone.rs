//! Phone numbers: normalising, checking and masking.
//!
//! Numbers are personal data. They are normalised (`+86`/`0086`, spaces, dashes) before they
//! are checked or digested, and anything callform prints or stores shows them masked
//! (`137****0001`). [`mask_phones_in_text`] is the last line of defence for free text such
//! as a source line quoted under a diagnostic.

/// What kind of mainland number a normalised number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Mobile,
    FixedLine,
}

/// Normalises a mainland number: drops spaces and dashes and a `+86`/`0086` prefix, then
/// checks the result is a mobile (`1[3-9]` + 9 digits) or fixed-line (`0` + 9–11 digits)
/// number. The error never contains the number itself.
pub fn normalize(raw: &str) -> Result<(String, Kind), &'static str> {
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\u{3000}'))
        .collect();
    let digits = compact
        .strip_prefix("+86")
        .or_else(|| compact.strip_prefix("0086"))
        .unwrap_or(&compact);
    if digits.is_empty() {
        return Err("an empty phone number");
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(
            "a phone number with characters other than digits, spaces, dashes and a +86 prefix",
        );
    }
    classify(digits)
        .map(|kind| (digits.to_string(), kind))
        .ok_or("not a mainland number: expected a mobile number (11 digits starting 13–19) or a fixed line (0 and 9–11 more digits)")
}

fn classify(d: &str) -> Option<Kind> {
    let b = d.as_bytes();
    if b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) {
        Some(Kind::Mobile)
    } else if (10..=12).contains(&b.len()) && b[0] == b'0' {
        Some(Kind::FixedLine)
    } else {
        None
    }
}

/// `13700000001` → `137****0001`. Short strings keep at most their last two characters.
pub fn mask(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let n = chars.len();
    if n >= 8 {
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[n - 4..].iter().collect();
        format!("{head}****{tail}")
    } else if n > 2 {
        let tail: String = chars[n - 2..].iter().collect();
        format!("{}{tail}", "*".repeat(n - 2))
    } else {
        "*".repeat(n)
    }
}

/// Masks every number in `text` that looks like a mainland number, written any way the
/// manifests accept it: with a `+86`/`0086` prefix, with single spaces or dashes between
/// digit groups (`137 0000 0001`, `137-0000-0001`). Other numbers (ids, times, counts) are
/// left alone, and so are digits glued to letters (a hex digest), except after a percent
/// escape such as `%2C` (a comma in a URL).
pub fn mask_phones_in_text(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut last = 0;
    while i < bytes.len() {
        let starts_number = bytes[i].is_ascii_digit()
            || (bytes[i] == b'+' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit));
        let after_digit = i > 0 && bytes[i - 1].is_ascii_digit();
        if !starts_number || after_digit {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = String::new();
        if bytes[i] == b'+' {
            i += 1;
        }
        // Digits, with single separators between groups.
        while i < bytes.len() {
            if bytes[i].is_ascii_digit() {
                digits.push(char::from(bytes[i]));
                i += 1;
            } else if matches!(bytes[i], b' ' | b'-')
                && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
                && digits.len() < 15
            {
                i += 1;
            } else {
                break;
            }
        }
        let escaped = start >= 3 && bytes[start - 3] == b'%';
        let glued_before = start > 0 && bytes[start - 1].is_ascii_alphabetic() && !escaped;
        let glued_after = i < bytes.len() && bytes[i].is_ascii_alphabetic();
        if glued_before || glued_after {
            continue;
        }
        // Try the whole span, then (for a span that ran into a following number) just its
        // first 11–15 digits are not re-split: a span either is a number or is left alone.
        let body = digits
            .strip_prefix("0086")
            .filter(|_| digits.len() >= 13)
            .or_else(|| digits.strip_prefix("86").filter(|_| digits.len() == 13))
            .unwrap_or(&digits);
        if classify(body).is_some() {
            out.push_str(&text[last..start]);
            out.push_str(&mask(&digits));
            last = i;
        }
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_prefixes_spaces_and_dashes() {
        assert_eq!(
            normalize("+86 137-0000-0001").unwrap(),
            ("13700000001".into(), Kind::Mobile)
        );
        assert_eq!(normalize("0086 13700000001").unwrap().0, "13700000001");
        assert_eq!(
            normalize("0551-69101407").unwrap(),
            ("055169101407".into(), Kind::FixedLine)
        );
    }

    #[test]
    fn rejects_non_mainland_numbers() {
        for bad in [
            "12345678901",
            "1370000000",
            "137000000012",
            "+1 415 555 0100",
            "1370000000x",
            "",
            "0123",
        ] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
        // The error never quotes the number.
        assert!(!normalize("23700000001").unwrap_err().contains("237"));
    }

    #[test]
    fn masks() {
        assert_eq!(mask("13700000001"), "137****0001");
        assert_eq!(mask("12345"), "***45");
        assert_eq!(
            mask_phones_in_text("call 13700000001 or 055169101407, id 215870475195883520 at 09:00"),
            "call 137****0001 or 055****1407, id 215870475195883520 at 09:00"
        );
        assert_eq!(mask_phones_in_text("+8613700000001"), "861****0001");
        assert_eq!(
            mask_phones_in_text("号码13700000001。"),
            "号码137****0001。"
        );
        // Digits inside a hex digest are left alone.
        let digest = "hmac-sha256:0a88c0400ce08206811959f5726f";
        assert_eq!(mask_phones_in_text(digest), digest);
        // The spellings manifests accept are masked too.
        for written in [
            "137 0000 0001",
            "137-0000-0001",
            "+86 137 0000 0001",
            "0086 13700000001",
            "0551-69101407",
        ] {
            let masked = mask_phones_in_text(&format!("callees: [{written}]"));
            assert!(
                !masked.contains("0000 0001")
                    && !masked.contains("0000-0001")
                    && !masked.contains("13700000001")
                    && !masked.contains("69101407"),
                "{written}: {masked}"
            );
        }
        assert_eq!(
            mask_phones_in_text("Caller=13700000001%2C13700000002"),
            "Caller=137****0001%2C137****0002"
        );
        assert_eq!(
            mask_phones_in_text("at 2027-01-04 09:00, 2 of 3"),
            "at 2027-01-04 09:00, 2 of 3"
        );
    }
}

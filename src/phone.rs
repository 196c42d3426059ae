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

/// What a mainland number is, for the `expected:` line under an invalid one.
pub const EXPECTED_NUMBER: &str = "a mainland number: a mobile (11 digits starting 13–19) or a fixed line (0 and 9–11 more digits); `+86`, spaces and dashes are removed first";

/// Normalises a mainland number: drops spaces and dashes and a `+86`/`0086` prefix, then
/// checks the result is a mobile (`1[3-9]` + 9 digits) or fixed-line (`0` + 9–11 digits)
/// number. The error says what is wrong with it ([`EXPECTED_NUMBER`] says what is
/// wanted), and never contains the number itself.
pub fn normalize(raw: &str) -> Result<(String, Kind), std::borrow::Cow<'static, str>> {
    normalize_in_place(raw).map(|(n, kind)| (n.into_owned(), kind))
}

/// [`normalize`], borrowing `raw` when it is already normal: most numbers are written as
/// bare digits, and a million of them are checked without making a string each.
pub fn normalize_in_place(
    raw: &str,
) -> Result<(std::borrow::Cow<'_, str>, Kind), std::borrow::Cow<'static, str>> {
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        if let Some(kind) = classify(raw) {
            return Ok((std::borrow::Cow::Borrowed(raw), kind));
        }
    }
    normalize_owned(raw).map(|(n, kind)| (std::borrow::Cow::Owned(n), kind))
}

fn normalize_owned(raw: &str) -> Result<(String, Kind), std::borrow::Cow<'static, str>> {
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\u{3000}'))
        .collect();
    let digits = compact
        .strip_prefix("+86")
        .or_else(|| compact.strip_prefix("0086"))
        .unwrap_or(&compact);
    if digits.is_empty() {
        return Err("it is empty".into());
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(
            "it holds characters other than digits, spaces, dashes and a +86 prefix".into(),
        );
    }
    // The count found is said: masked, ten or twelve digits look like a mobile's eleven
    // (`137****0001`), so "the wrong number of digits" alone would not show which.
    classify(digits)
        .map(|kind| (digits.to_string(), kind))
        .ok_or(match (digits.len(), digits.as_bytes()[0]) {
            (11, b'1') => "it starts like no mainland mobile number (13–19)".into(),
            (n, b'1') => format!("it has {n} digits; a mobile number has 11").into(),
            (n, b'0') => {
                format!("it has {n} digits; a fixed line has 10–12 (0 and 9–11 more)").into()
            }
            _ => "it starts like no mainland number (a mobile starts with 1, a fixed line with 0)"
                .into(),
        })
}

/// A normalised number as one `u64`: its digits, and its length in the top byte (so
/// `0101234567` and `101234567` differ). Callee lists and suppression lists are compared
/// by it, with no string per number.
pub fn number_key(normalised: &str) -> u64 {
    normalised.parse::<u64>().unwrap_or(u64::MAX) | ((normalised.len() as u64) << 56)
}

/// What a calling line is, for the `expected:` line under an invalid one.
pub const EXPECTED_LINE: &str = "a calling line number: a mainland number (0 and 9–11 more digits, or a mobile), a 400/800 number of 10 digits, or a 95/96/10/12 service number of 5–8 digits";

/// Normalises a calling line (xfyeta's `line_num`) as [`normalize`] does a callee, and
/// checks it: a mainland number, or a service number (`400`/`800` and 7 digits, or a
/// short `95…`/`96…`/`10…`/`12…` number of 5–8 digits). The error never contains the number.
pub fn normalize_line(raw: &str) -> Result<String, &'static str> {
    match normalize(raw) {
        Ok((n, _)) => Ok(n),
        Err(_) => {
            let compact: String = raw
                .chars()
                .filter(|c| !matches!(c, ' ' | '-' | '\u{3000}'))
                .collect();
            let b = compact.as_bytes();
            let digits = !b.is_empty() && b.iter().all(u8::is_ascii_digit);
            let service = (b.len() == 10
                && (compact.starts_with("400") || compact.starts_with("800")))
                || ((5..=8).contains(&b.len())
                    && ["95", "96", "10", "12"]
                        .iter()
                        .any(|p| compact.starts_with(p)));
            if digits && service {
                Ok(compact)
            } else if digits {
                Err("it is neither a mainland number nor a service number")
            } else {
                Err("it holds characters other than digits, spaces, dashes and a +86 prefix")
            }
        }
    }
}

fn classify(d: &str) -> Option<Kind> {
    let b = d.as_bytes();
    if b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) {
        Some(Kind::Mobile)
    } else if (10..=12).contains(&b.len())
        && b[0] == b'0'
        // The one area code that starts `01` is Beijing's `010` (eight digits after it):
        // any other `01…` is a mobile with a trunk `0`, which read as a fixed line would
        // let one person be listed twice in a task.
        && (b[1] != b'1' || (b[2] == b'0' && b.len() == 11))
    {
        Some(Kind::FixedLine)
    } else {
        None
    }
}

/// An entry that is not a valid number, as a message may show it: masked when it is
/// written only with digits, separators and `+`; otherwise not at all (a line of a file
/// that is no list of numbers could be anything, a secret included).
pub fn shown_entry(raw: &str) -> String {
    let raw = raw.trim();
    let numeric = raw
        .chars()
        .all(|c| digit_value(c).is_some() || is_separator(c) || matches!(c, '+' | '＋'));
    if numeric {
        mask(raw)
    } else {
        "(its text is not shown: it holds more than digits)".to_string()
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

/// The value of an ASCII or full-width digit.
fn digit_value(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32),
        _ => None,
    }
}

/// Characters people write between the digit groups of a number: any white space, any
/// dash, dots, slashes, underscores, commas, parentheses (full-width ones too), and the
/// invisible zero-width characters a copy from a web page or chat brings along.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '.'
                | '('
                | ')'
                | '/'
                | '_'
                | ','
                | '·'
                | '・'
                | '－'
                | '．'
                | '（'
                | '）'
                | '／'
                | '，'
                | '\u{2010}'..='\u{2015}'
                | '\u{2212}'
                | '\u{fe58}'
                | '\u{fe63}'
                | '\u{200b}'..='\u{200d}'
                | '\u{2060}'
                | '\u{feff}'
        )
}

/// Whether a run of `d` digits (a number without its prefix) is shaped like a mainland
/// number, allowing one digit too many or too few.
fn phone_shaped(d: &[char]) -> bool {
    let n = d.len();
    match d {
        ['1', '3'..='9', ..] => (10..=12).contains(&n),
        ['0', ..] => (9..=13).contains(&n),
        _ => false,
    }
}

/// The number without a `0086`/`86` country prefix, when that leaves a phone-shaped one.
fn without_prefix(d: &[char]) -> &[char] {
    for prefix in [&['0', '0', '8', '6'][..], &['8', '6'][..]] {
        if let Some(rest) = d.strip_prefix(prefix) {
            if phone_shaped(rest) {
                return rest;
            }
        }
    }
    d
}

/// Whether a long run of digits is numbers written next to each other: it splits into
/// mainland numbers from start to end.
fn glued_numbers(d: &[char]) -> bool {
    let mut rest = d;
    while !rest.is_empty() {
        let take = [11, 12]
            .into_iter()
            .find(|&len| rest.len() >= len && classify_chars(&rest[..len]).is_some());
        match take {
            Some(len) => rest = &rest[len..],
            None => return false,
        }
    }
    true
}

fn classify_chars(d: &[char]) -> Option<Kind> {
    let s: String = d.iter().collect();
    classify(&s)
}

/// Whether the run of `digits` (written with `separators` between its groups) is masked.
fn masks(digits: &[char], separated: bool) -> bool {
    let n = digits.len();
    if n < 7 {
        return false;
    }
    if phone_shaped(without_prefix(digits)) {
        return true;
    }
    if n >= 17 {
        return glued_numbers(digits) || separated;
    }
    // 7–16 digits written in groups (`6910 1407`, `(0551) 6910-1407`) are someone's number
    // however they start; a plain run of them is an id, a count or a time.
    separated
}

/// The masked form of a run of `digits`: a mainland number as [`mask`] shows it, anything
/// else with only its last four digits (two when shorter than ten).
fn masked_run(digits: &[char]) -> String {
    let body: String = without_prefix(digits).iter().collect();
    let all: String = digits.iter().collect();
    if classify(&body).is_some() && digits.len() <= 16 {
        return mask(&all);
    }
    let keep = if digits.len() >= 10 { 4 } else { 2 };
    let stars = "*".repeat(digits.len() - keep);
    let tail: String = digits[digits.len() - keep..].iter().collect();
    format!("{stars}{tail}")
}

/// Whether the characters around `at` make a token that is not a number: a UUID, a digest
/// callform labels as one (`sha256:…`, `hmac-sha256:…`), or a hex id (16 or more hex
/// characters with a letter among them) with no phone-shaped run of digits in it
/// (`deadbeef13700000001` is a number with letters glued on).
fn in_machine_token(chars: &[char], at: usize) -> bool {
    let word = |c: &char| c.is_ascii_alphanumeric();
    let token = |c: &char| c.is_ascii_alphanumeric() || *c == '-';
    let span = |ok: &dyn Fn(&char) -> bool| {
        let start = chars[..at]
            .iter()
            .rposition(|c| !ok(c))
            .map_or(0, |p| p + 1);
        let end = chars[at..]
            .iter()
            .position(|c| !ok(c))
            .map_or(chars.len(), |p| at + p);
        &chars[start..end]
    };
    let w = span(&word);
    let labelled = {
        let start = at - chars[..at].iter().rev().take_while(|c| word(c)).count();
        chars[..start].ends_with(&['s', 'h', 'a', '2', '5', '6', ':'])
    };
    let holds_a_number = w
        .split(|c| !c.is_ascii_digit())
        .any(|run| run.len() >= 10 && phone_shaped(without_prefix(run)));
    let hex = w.len() >= 16
        && w.iter().all(char::is_ascii_hexdigit)
        && w.iter().any(char::is_ascii_alphabetic)
        && (labelled || !holds_a_number);
    let t = span(&token);
    let groups: Vec<usize> = t.split(|c| *c == '-').map(<[char]>::len).collect();
    let uuid = groups == [8, 4, 4, 4, 12] && t.iter().all(|c| *c == '-' || c.is_ascii_hexdigit());
    hex || uuid
}

/// Whether `text` has enough digits (7, ASCII or full-width) for [`mask_phones_in_text`]
/// to mask anything in it: a check without allocation, for the hot paths that pass every
/// string of every task through the masker.
pub fn may_hold_number(text: &str) -> bool {
    !is_time_value(text)
        && text
            .chars()
            .filter(|c| digit_value(*c).is_some())
            .nth(6)
            .is_some()
}

/// Whether `text` is exactly a date-time callform writes (`2027-01-04`, `2027-01-04 09:00`,
/// `2027-01-04T09:00:00+08:00`, with a year 20xx) or a time window (`09:00:00-12:00:00`):
/// the masker leaves these as they are (a date is cut out of a run, `:` ends one), so they
/// are skipped without running it. Every task has several.
fn is_time_value(text: &str) -> bool {
    let b = text.as_bytes();
    let d = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let hm = |i: usize| d(i) && d(i + 1) && at(i + 2, b':') && d(i + 3) && d(i + 4);
    // The end of `HH:MM` or `HH:MM:SS` starting at `i`.
    let time = |i: usize| {
        hm(i).then(|| {
            if at(i + 5, b':') && d(i + 6) && d(i + 7) {
                i + 8
            } else {
                i + 5
            }
        })
    };
    let date = at(0, b'2')
        && at(1, b'0')
        && d(2)
        && d(3)
        && at(4, b'-')
        && d(5)
        && d(6)
        && at(7, b'-')
        && d(8)
        && d(9);
    if date {
        if b.len() == 10 {
            return true;
        }
        let Some(end) = (at(10, b' ') || at(10, b'T')).then(|| time(11)).flatten() else {
            return false;
        };
        return end == b.len()
            || (at(end, b'Z') && end + 1 == b.len())
            || ((at(end, b'+') || at(end, b'-')) && hm(end + 1) && end + 6 == b.len());
    }
    match time(0) {
        Some(end) if end == b.len() => true,
        Some(end) if at(end, b'-') => time(end + 1) == Some(b.len()),
        _ => false,
    }
}

/// Masks everything in `text` shaped like a phone number, erring on the side of masking.
///
/// A number is a run of digits (ASCII or full-width `１３９…`), with up to three separators
/// (spaces, `-`, `.`, parentheses, full-width ones too) between its groups, an optional
/// `+` before it, and letters or other text glued on either side (`tel13912345678`). Such a
/// run is masked when, after an optional `86`/`0086` country prefix, it is shaped like a
/// mainland number allowing a typo (a mobile `1[3-9]…` of 10–12 digits, a fixed line
/// `0…` of 9–13), when it is 7 or more digits written in groups (`6910 1407`), or when it is
/// numbers written next to each other (`1370000000113700000002`). What stays in clear:
/// plain runs of up to 16 digits that do not look like a number (ids, counts, millisecond
/// times), longer ids, dates (`2027-01-04`), and hex digests and UUIDs.
///
/// A mainland number shows as [`mask`] shows it (`137****0001`); anything else keeps only
/// its last four digits (two for fewer than ten).
pub fn mask_phones_in_text(text: &str) -> String {
    mask_runs(text, false)
}

/// [`mask_phones_in_text`] for a source line shown under a caret: what it masks is hidden
/// digit by digit, each by a star of the same width (`*` for an ASCII digit, `＊` for a
/// full-width one), separators kept, so that every column of the line stays where it was.
/// Only the last four digits of a run stay (two when it has fewer than ten). Any run of
/// seven digits or more is hidden, shaped like a number or not: an invalid number (one
/// digit short) is shaped like none.
pub fn mask_phones_in_line(line: &str) -> String {
    mask_runs(line, true)
}

/// `line` with every digit in the characters `from..to` hidden as
/// [`mask_phones_in_line`] hides them: for the value under a caret that is known to be a
/// number, whatever its shape.
pub fn hide_digits(line: &str, from: usize, to: usize) -> String {
    line.chars()
        .enumerate()
        .map(|(i, c)| if (from..to).contains(&i) { star(c) } else { c })
        .collect()
}

/// A digit's same-width star; other characters as they are.
fn star(c: char) -> char {
    match c {
        '0'..='9' => '*',
        '０'..='９' => '＊',
        _ => c,
    }
}

/// The run `span` masked in place: every digit but the last few a star of its width.
fn masked_in_place(span: &[char]) -> String {
    let digits = span.iter().filter(|c| digit_value(**c).is_some()).count();
    let keep = if digits >= 10 { 4 } else { 2 };
    let mut seen = 0;
    span.iter()
        .map(|&c| {
            if digit_value(c).is_some() {
                seen += 1;
                if seen + keep <= digits {
                    return star(c);
                }
            }
            c
        })
        .collect()
}

fn mask_runs(text: &str, in_place: bool) -> String {
    if !may_hold_number(text) {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let plus = matches!(chars[i], '+' | '＋')
            && chars.get(i + 1).and_then(|c| digit_value(*c)).is_some();
        if digit_value(chars[i]).is_none() && !plus {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // The run: digit groups and the separators between them, `start..end`.
        let start = i;
        if plus {
            i += 1;
        }
        let mut groups: Vec<(usize, usize)> = Vec::new();
        let mut seps: Vec<Vec<char>> = Vec::new();
        loop {
            let g = i;
            while i < chars.len() && digit_value(chars[i]).is_some() {
                i += 1;
            }
            groups.push((g, i));
            let mut j = i;
            while j < chars.len() && j - i < 3 && is_separator(chars[j]) {
                j += 1;
            }
            // A comma or slash after a whole number (`139…,139…`) separates two numbers of
            // a list, each masked on its own; after a short group it is inside one.
            let lists = chars[i..j]
                .iter()
                .any(|c| matches!(c, ',' | '，' | '/' | '／'));
            if lists && i - g > 4 {
                break;
            }
            if j > i && j < chars.len() && digit_value(chars[j]).is_some() {
                seps.push(chars[i..j].to_vec());
                i = j;
            } else {
                break;
            }
        }
        // Dates (`2027-01-04`, `2027.01.04`) are cut out of the run and kept.
        let mut pieces: Vec<(usize, usize, bool)> = Vec::new(); // (first group, end group, is date)
        let mut k = 0;
        let mut from = 0;
        while k < groups.len() {
            let len = |g: usize| groups.get(g).map_or(0, |(a, b)| b - a);
            let value = |g: usize| {
                groups.get(g).map_or(0, |&(a, b)| {
                    chars[a..b]
                        .iter()
                        .filter_map(|c| digit_value(*c)?.to_digit(10))
                        .fold(0, |n, d| n * 10 + d)
                })
            };
            // Only a year 2000–2099: no mainland number starts with `20`, so a date cut
            // out can never hide one (`1370-00-00-001` is a number). The month and day
            // may be anything, so that an invalid date in a message stays readable.
            let date = len(k) == 4
                && len(k + 1) == 2
                && len(k + 2) == 2
                && (2000..=2099).contains(&value(k))
                && matches!(
                    (
                        seps.get(k).map(Vec::as_slice),
                        seps.get(k + 1).map(Vec::as_slice)
                    ),
                    (Some(['-']), Some(['-'])) | (Some(['.']), Some(['.']))
                );
            if date {
                if from < k {
                    pieces.push((from, k, false));
                }
                pieces.push((k, k + 3, true));
                k += 3;
                from = k;
            } else {
                k += 1;
            }
        }
        if from < groups.len() {
            pieces.push((from, groups.len(), false));
        }
        let mut cursor = start;
        for (a, b, date) in pieces {
            let (first, last) = (groups[a].0, groups[b - 1].1);
            let lead = if a == 0 { start } else { first };
            out.extend(&chars[cursor..lead]);
            let span = &chars[lead..last];
            let digits: Vec<char> = span.iter().filter_map(|c| digit_value(*c)).collect();
            let separated = b - a > 1;
            // A source line is shown to find a field, not to read ids: there, any run of
            // seven digits or more is hidden (an invalid number is shaped like none).
            let hide = masks(&digits, separated) || (in_place && digits.len() >= 7);
            if !date && hide && !in_machine_token(&chars, first) {
                if in_place {
                    out.push_str(&masked_in_place(span));
                } else {
                    out.push_str(&masked_run(&digits));
                }
            } else {
                out.extend(span);
            }
            cursor = last;
        }
        out.extend(&chars[cursor..i]);
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_mobile_with_a_trunk_zero_is_not_a_fixed_line() {
        // Read as a fixed line, it would be a second entry for the same person.
        assert!(normalize("013700000001").is_err());
        assert!(normalize("0137 0000 0001").is_err());
        assert_eq!(normalize("01012345678").unwrap().1, Kind::FixedLine);
        assert_eq!(normalize("02112345678").unwrap().1, Kind::FixedLine);
        assert_eq!(normalize("13700000001").unwrap().1, Kind::Mobile);
    }

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
    fn calling_lines() {
        assert_eq!(normalize_line("0551-6910 1407").unwrap(), "055169101407");
        assert_eq!(normalize_line("+86 13700000001").unwrap(), "13700000001");
        assert_eq!(normalize_line("400-123-4567").unwrap(), "4001234567");
        assert_eq!(normalize_line("95588").unwrap(), "95588");
        for bad in [
            "line-a",
            "055169101407x",
            "12345678901",
            "4001234",
            "",
            "0551;0552",
        ] {
            assert!(normalize_line(bad).is_err(), "{bad}");
        }
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

    /// Every way a number is written that reached a message, a warning, a request id or an
    /// excerpt in clear: each must come out without its digits.
    #[test]
    fn time_values_are_skipped_only_when_the_masker_would_keep_them() {
        for t in [
            "2027-01-04",
            "2027-01-04 09:00",
            "2027-01-04 09:00:00",
            "2027-01-04T09:00:00+08:00",
            "2027-01-04T09:00:00Z",
            "09:00:00-12:00:00",
            "13:30-20:00",
        ] {
            assert!(is_time_value(t), "{t}");
            assert_eq!(mask_phones_in_text(t), t);
        }
        for t in [
            "2027-01-04 13912345678",
            "1990-01-04 09:00",
            "2027-01-04 09:00 13912345678",
            "09:00:00-13912345678",
        ] {
            assert!(!is_time_value(t), "{t}");
        }
        assert_ne!(
            mask_phones_in_text("2027-01-04 13912345678"),
            "2027-01-04 13912345678"
        );
    }

    #[test]
    fn masks_numbers_behind_any_separator_hex_letters_or_a_false_date() {
        let forms = [
            "137/0000/0001",
            "137_0000_0001",
            "137,0000,0001",
            "137\t0000\t0001",
            "137\u{2013}0000\u{2013}0001",
            "137\u{2014}0000\u{2014}0001",
            "137\u{2009}0000\u{2009}0001",
            "137\u{202f}0000\u{202f}0001",
            "137\u{200b}0000\u{200b}0001",
            "137\u{2212}0000\u{2212}0001",
            "1370-00-00-001",
            "deadbeef13700000001",
            "13700000001abcdef",
        ];
        for form in forms {
            let masked = mask_phones_in_text(form);
            let digits: String = masked.chars().filter(char::is_ascii_digit).collect();
            assert!(
                !digits.contains("13700000001") && !digits.contains("0000"),
                "{form:?} -> {masked:?}"
            );
        }
        // What callform labels as a digest, and real dates, stay as they are.
        for kept in [
            "sha256:deadbeef13700000001deadbeef13700000001deadbeef1370000000100aa",
            "hmac-sha256:13700000001abcdef13700000001abcdef",
            "2027-01-04",
            "2027.12.31",
        ] {
            assert_eq!(mask_phones_in_text(kept), kept);
        }
    }

    #[test]
    fn masks_every_way_a_number_is_written() {
        let corpus = [
            ("13912345678", "139****5678"),
            ("tel13912345678", "tel139****5678"),
            ("13912345678abc", "139****5678abc"),
            ("ID-13912345678-X", "ID-139****5678-X"),
            ("１３９１２３４５６７８", "139****5678"),
            ("电话：１３９ １２３４ ５６７８。", "电话：139****5678。"),
            ("139123456789", "********6789"),
            ("1391234567", "******4567"),
            ("139.1234.5678", "139****5678"),
            ("139 1234 5678", "139****5678"),
            ("139-1234-5678", "139****5678"),
            ("(0551) 6910-1407", "(055****1407"),
            ("（0551）69101407", "（055****1407"),
            ("+86 139 1234 5678", "861****5678"),
            ("+8613912345678", "861****5678"),
            ("008613912345678", "008****5678"),
            ("8613912345678", "861****5678"),
            ("86-139-1234-5678", "861****5678"),
            ("6910 1407", "******07"),
            ("13912345678 13912345679", "******************5679"),
            ("1391234567813912345679", "******************5679"),
            ("13912345678,13912345679", "139****5678,139****5679"),
            ("13912345678、13912345679", "139****5678、139****5679"),
        ];
        for (written, want) in corpus {
            let got = mask_phones_in_text(written);
            assert_eq!(got, want, "{written}");
            let digits: String = got.chars().filter(char::is_ascii_digit).collect();
            assert!(!digits.contains("12345"), "{written}: {got}");
        }
        // What a reviewer needs stays: ids, counts, times, dates, digests, UUIDs.
        for kept in [
            "task 4001000001 created",
            "dialog_id = 1234567",
            "time_begin: 1796086800000",
            "id 215870475195883520",
            "2027-01-04 09:00:00",
            "2026-11-22T00:00:00Z",
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "lineage 12345678-1234-4567-8901-123456789012",
            "0a88c0400ce082068119598726f13912",
            "http://127.0.0.1:38291/",
            "3 task(s) in 12 file(s)",
        ] {
            assert_eq!(mask_phones_in_text(kept), kept);
        }
    }
}

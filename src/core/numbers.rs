//! Numbers as models write them, read by value: "1,000", "$1000" and "1000.00" are 1000;
//! ".5" is 0.5; "3/4", "6/8" and "0.75" are one value, as are "1 1/2" and "1.5"; "1e3" is
//! 1000; "7%" is 7; "−5" (U+2212) and "is -5" are negative while "16-3" and "20 - 3" are
//! subtractions; number words up to the thousands ("eighteen", "twenty-one", "a hundred").
//!
//! A value's canonical form is exact: an integer or a terminating decimal ("18", "0.75",
//! "-2.5"), else a reduced fraction ("1/3").

/// A number found in a text: where it stands and its canonical value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    pub value: String,
}

/// Every number written with digits in `text`, in order.
pub fn scan(text: &str) -> Vec<Found> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts =
            b[i].is_ascii_digit() || (b[i] == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit));
        let glued = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if !starts || glued {
            i += 1;
            while i < b.len() && b[i - 1].is_ascii_alphanumeric() && b[i].is_ascii_digit() {
                i += 1; // the rest of a word like "x2" or "3rd" is not a number either
            }
            continue;
        }
        match number_at(text, i) {
            Some((end, value)) if value.is_empty() => i = end,
            Some((end, value)) => {
                let start = sign_start(text, i);
                let negative = start < i && !is_zero(&value);
                let value = if negative { format!("-{value}") } else { value };
                out.push(Found { start, end, value });
                i = end;
            }
            None => i += 1,
        }
    }
    out
}

/// The first number in `text` written with digits or, when a number word comes first, in
/// words.
pub fn first(text: &str) -> Option<Found> {
    let digits = scan(text).into_iter().next();
    let words = first_word_number(text);
    match (digits, words) {
        (Some(d), Some(w)) if w.start < d.start => Some(w),
        (Some(d), _) => Some(d),
        (None, w) => w,
    }
}

/// Where the number starting at `i` really starts: at a minus sign (ASCII or U+2212) written
/// right before it (or before its "$") that does not follow a digit, a letter-free operand or
/// a closing bracket — a sign, not a subtraction.
fn sign_start(text: &str, i: usize) -> usize {
    let before = &text[..i];
    let before_dollar = before.strip_suffix('$').unwrap_or(before);
    for minus in ['-', '\u{2212}'] {
        if let Some(rest) = before_dollar.strip_suffix(minus) {
            let prev = rest.chars().next_back();
            let operand = prev.is_some_and(|c| c.is_ascii_digit() || matches!(c, ')' | ']'));
            let glued_word = prev.is_some_and(char::is_alphanumeric);
            if !operand && !glued_word {
                return rest.len();
            }
        }
    }
    i
}

fn is_zero(v: &str) -> bool {
    v == "0"
}

/// Parses the number starting at byte `i` (a digit or ".digit"): its end and canonical value
/// (empty for what only looks like one: a date, a version).
fn number_at(text: &str, i: usize) -> Option<(usize, String)> {
    let b = text.as_bytes();
    let digits = |mut j: usize| {
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        j
    };
    // Integer part, with thousands separators only in groups of three.
    let mut j = digits(i);
    let mut int: String = text[i..j].to_string();
    if j - i <= 3 && j > i {
        while b.get(j) == Some(&b',')
            && digits(j + 1) == j + 4
            && !b.get(j + 4).is_some_and(u8::is_ascii_digit)
        {
            int.push_str(&text[j + 1..j + 4]);
            j += 4;
        }
    }
    // Dates and versions ("12/14/2026", "1.2.3") are not numbers.
    if b.get(j) == Some(&b'/') && b.get(j + 1).is_some_and(u8::is_ascii_digit) {
        let k = digits(j + 1);
        if b.get(k) == Some(&b'/') && b.get(k + 1).is_some_and(u8::is_ascii_digit) {
            return Some((digits(k + 1), String::new()));
        }
        // A fraction, perhaps the fractional part of a mixed number "1 1/2".
        let num = int.parse::<i128>().ok()?;
        let den = text[j + 1..k].parse::<i128>().ok()?;
        if den == 0 {
            return Some((k, int_value(&int)));
        }
        return Some((k, Ratio::new(num, den).to_string()));
    }
    let mut frac = String::new();
    if b.get(j) == Some(&b'.') && b.get(j + 1).is_some_and(u8::is_ascii_digit) {
        let k = digits(j + 1);
        if b.get(k) == Some(&b'.') && b.get(k + 1).is_some_and(u8::is_ascii_digit) {
            let mut end = k;
            while b.get(end) == Some(&b'.') && b.get(end + 1).is_some_and(u8::is_ascii_digit) {
                end = digits(end + 1);
            }
            return Some((end, String::new())); // "1.2.3"
        }
        frac = text[j + 1..k].to_string();
        j = k;
    }
    let mut exp = 0i32;
    if matches!(b.get(j), Some(b'e' | b'E')) && !int.is_empty() {
        let mut k = j + 1;
        let negative = b.get(k) == Some(&b'-');
        if matches!(b.get(k), Some(b'-' | b'+')) {
            k += 1;
        }
        let e_end = digits(k);
        let glued = b.get(e_end).is_some_and(u8::is_ascii_alphabetic);
        if e_end > k && e_end - k <= 2 && !glued {
            exp = text[k..e_end].parse::<i32>().ok()?;
            if negative {
                exp = -exp;
            }
            j = e_end;
        }
    }
    // "1 1/2": a whole number followed by a proper fraction.
    if frac.is_empty() && exp == 0 && b.get(j) == Some(&b' ') {
        let k = digits(j + 1);
        if k > j + 1 && b.get(k) == Some(&b'/') && b.get(k + 1).is_some_and(u8::is_ascii_digit) {
            let d_end = digits(k + 1);
            let after_is_slash = b.get(d_end) == Some(&b'/');
            let (whole, num, den) = (
                int.parse::<i128>().ok(),
                text[j + 1..k].parse::<i128>().ok(),
                text[k + 1..d_end].parse::<i128>().ok(),
            );
            if let (Some(w), Some(n), Some(d)) = (whole, num, den)
                && !after_is_slash
                && d > 0
                && n < d
            {
                return Some((d_end, Ratio::new(w * d + n, d).to_string()));
            }
        }
    }
    let end = if b.get(j) == Some(&b'%') { j + 1 } else { j };
    Some((end, decimal_value(&int, &frac, exp)?))
}

fn int_value(int: &str) -> String {
    let t = int.trim_start_matches('0');
    if t.is_empty() { "0".into() } else { t.into() }
}

/// The canonical value of digits `int`.`frac` × 10^`exp`.
fn decimal_value(int: &str, frac: &str, exp: i32) -> Option<String> {
    let digits = format!("{int}{frac}");
    let point = int.len() as i64 + i64::from(exp); // position of the decimal point
    if !(-60..=60).contains(&point) {
        return None;
    }
    let (mut whole, mut fraction) = if point <= 0 {
        (
            String::new(),
            format!("{}{digits}", "0".repeat((-point) as usize)),
        )
    } else if point as usize >= digits.len() {
        (
            format!("{digits}{}", "0".repeat(point as usize - digits.len())),
            String::new(),
        )
    } else {
        (
            digits[..point as usize].to_string(),
            digits[point as usize..].to_string(),
        )
    };
    whole = int_value(&whole);
    while fraction.ends_with('0') {
        fraction.pop();
    }
    Some(if fraction.is_empty() {
        whole
    } else {
        format!("{whole}.{fraction}")
    })
}

/// A reduced fraction, shown as a terminating decimal when it is one.
struct Ratio {
    num: i128,
    den: i128,
}

impl Ratio {
    fn new(num: i128, den: i128) -> Ratio {
        let g = gcd(num.abs(), den.abs()).max(1);
        let sign = if den < 0 { -1 } else { 1 };
        Ratio {
            num: sign * num / g,
            den: sign * den / g,
        }
    }
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (mut d, mut twos, mut fives) = (self.den, 0u32, 0u32);
        while d % 2 == 0 {
            d /= 2;
            twos += 1;
        }
        while d % 5 == 0 {
            d /= 5;
            fives += 1;
        }
        if d != 1 {
            return write!(f, "{}/{}", self.num, self.den);
        }
        let places = twos.max(fives);
        let scaled = self.num * 10i128.pow(places) / self.den;
        let digits = scaled.abs().to_string();
        let padded = format!("{digits:0>width$}", width = places as usize + 1);
        let (w, fr) = padded.split_at(padded.len() - places as usize);
        let value = decimal_value(w, fr, 0).unwrap_or_default();
        if scaled < 0 && value != "0" {
            write!(f, "-{value}")
        } else {
            f.write_str(&value)
        }
    }
}

fn gcd(a: i128, b: i128) -> i128 {
    if b == 0 { a } else { gcd(b, a % b) }
}

const UNITS: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 8] = [
    "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// The value of one number word ("zero" … "nineteen", "twenty" … "ninety").
pub(crate) fn word_value(w: &str) -> Option<u64> {
    if let Some(i) = UNITS.iter().position(|u| *u == w) {
        return Some(i as u64);
    }
    TENS.iter()
        .position(|t| *t == w)
        .map(|i| 20 + 10 * i as u64)
}

/// The first number written in words ("eighteen", "twenty-one", "one hundred and five",
/// "a hundred", "two thousand"), as a canonical value.
pub fn first_word_number(text: &str) -> Option<Found> {
    let lower = text.to_lowercase();
    if lower.len() != text.len() {
        return None; // offsets would not map back; such texts are not word numbers
    }
    let words: Vec<(usize, usize)> = word_spans(&lower);
    let mut k = 0;
    while k < words.len() {
        let w = &lower[words[k].0..words[k].1];
        let starts_hundred = w == "a"
            && words
                .get(k + 1)
                .is_some_and(|&(s, e)| matches!(&lower[s..e], "hundred" | "thousand"));
        if word_value(w).is_none() && !starts_hundred {
            k += 1;
            continue;
        }
        let (mut total, mut current, mut end) = (0u64, 0u64, words[k].1);
        let (mut any, mut a_pending) = (false, false);
        for &(ws, we) in &words[k..] {
            let w = &lower[ws..we];
            let scale = matches!(w, "hundred" | "thousand") && (any || a_pending);
            match w {
                "a" if !any && !a_pending => {
                    a_pending = true;
                    continue;
                }
                "and" if any => continue,
                "hundred" if scale => current = current.max(1) * 100,
                "thousand" if scale => {
                    total += current.max(1) * 1000;
                    current = 0;
                }
                _ => {
                    let Some(v) = word_value(w) else { break };
                    let rem = current % 100;
                    let joins = !any || rem == 0 || (rem >= 20 && rem % 10 == 0 && v < 10);
                    if !joins || (any && v == 0) {
                        break;
                    }
                    current += v;
                }
            }
            any = true;
            end = we;
        }
        if any {
            return Some(Found {
                start: words[k].0,
                end,
                value: (total + current).to_string(),
            });
        }
        k += 1;
    }
    None
}

/// Byte spans of the words of `text` (letters; "twenty-one" is two words).
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphabetic(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn values(text: &str) -> Vec<String> {
        scan(text).into_iter().map(|f| f.value).collect()
    }

    #[test]
    fn forms_of_one_value() {
        for (text, want) in [
            ("1,000", "1000"),
            ("$1000", "1000"),
            ("1000.00", "1000"),
            (".5", "0.5"),
            ("0.50", "0.5"),
            ("3/4", "0.75"),
            ("6/8", "0.75"),
            ("1 1/2", "1.5"),
            ("1/3", "1/3"),
            ("2/6", "1/3"),
            ("1e3", "1000"),
            ("1.5e-3", "0.0015"),
            ("7%", "7"),
            ("\u{2212}5", "-5"),
            ("-0.0", "0"),
            ("007", "7"),
            ("-$5", "-5"),
        ] {
            assert_eq!(values(text), vec![want.to_string()], "{text}");
        }
    }

    #[test]
    fn signs_and_subtractions() {
        assert_eq!(values("the temperature is -5"), ["-5"]);
        assert_eq!(values("16-3"), ["16", "3"]);
        assert_eq!(values("20 - 3"), ["20", "3"]);
        assert_eq!(values("x = -3"), ["-3"]);
        assert_eq!(values("(4)-2"), ["4", "2"]);
    }

    #[test]
    fn not_numbers() {
        assert!(values("12/14/2026").is_empty(), "a date");
        assert!(values("version 1.2.3").is_empty());
        assert!(values("x2 and a4").is_empty());
        assert_eq!(values("1,2,3"), ["1", "2", "3"], "a list, not thousands");
        assert_eq!(values("1,0000"), ["1", "0"]);
        assert_eq!(values("5/0"), ["5"]);
    }

    #[test]
    fn words() {
        let w = |t: &str| first_word_number(t).map(|f| f.value);
        assert_eq!(w("eighteen dollars").as_deref(), Some("18"));
        assert_eq!(w("It is twenty-one.").as_deref(), Some("21"));
        assert_eq!(w("one hundred and five").as_deref(), Some("105"));
        assert_eq!(w("a hundred").as_deref(), Some("100"));
        assert_eq!(w("ninety nine").as_deref(), Some("99"));
        assert_eq!(w("two thousand three hundred").as_deref(), Some("2300"));
        assert_eq!(w("no number"), None);
        assert_eq!(
            first("three apples, 4 pears").map(|f| f.value).as_deref(),
            Some("3")
        );
        assert_eq!(
            first("4 pears, three").map(|f| f.value).as_deref(),
            Some("4")
        );
    }

    proptest! {
        #[test]
        fn integers_read_back(n in -10_000_000i64..10_000_000) {
            prop_assert_eq!(values(&format!("is {n}.")), vec![n.to_string()]);
        }

        #[test]
        fn fractions_equal_their_decimals(num in 0i64..1000, pow2 in 0u32..6, pow5 in 0u32..4) {
            let den = 2i64.pow(pow2) * 5i64.pow(pow5);
            let frac = values(&format!("{num}/{den}"));
            let dec = values(&format!("{}", num as f64 / den as f64));
            prop_assert_eq!(frac, dec);
        }

        #[test]
        fn never_panics(text in "\\PC{0,80}") {
            let _ = scan(&text);
            let _ = first(&text);
        }
    }
}

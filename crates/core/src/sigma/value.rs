//! Sigma string values: wildcards, escapes and the value-changing modifiers (`base64`,
//! `base64offset`, `utf16*`/`wide`, `windash`), and how a value becomes a laneguard operator.
//!
//! A Sigma string is a sequence of characters and wildcards (`*` any run, `?` one character),
//! parsed with pySigma's one-character look-ahead: a backslash escapes `*`, `?` and `\`, and is
//! literal before anything else (SIGMA-SPEC §3.3). Matching is case-insensitive unless `cased`.
//! A value becomes, by its shape: `contains` (`*text*`, ASCII text — one shared automaton for all
//! rules), `glob` (anchored, case-insensitive: equality, prefix, suffix, inner wildcards), or a
//! `regex` when the text itself holds `*` or `?` (globs have no escapes) or `cased` is asked.

use base64::Engine as _;

/// One token of a Sigma string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// A literal character.
    C(char),
    /// `*`: any run of characters.
    Star,
    /// `?`: one character.
    One,
    /// `%name%` of an `expand` value.
    Placeholder(String),
}

/// A parsed Sigma string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigmaStr(pub Vec<Tok>);

impl SigmaStr {
    /// Parse a value as written (wildcards active, Sigma escapes).
    pub fn parse(s: &str) -> SigmaStr {
        let mut out = Vec::with_capacity(s.len());
        let mut escaped = false;
        for c in s.chars() {
            if escaped {
                if !matches!(c, '*' | '?' | '\\') {
                    out.push(Tok::C('\\'));
                }
                out.push(Tok::C(c));
                escaped = false;
            } else {
                match c {
                    '\\' => escaped = true,
                    '*' => out.push(Tok::Star),
                    '?' => out.push(Tok::One),
                    c => out.push(Tok::C(c)),
                }
            }
        }
        if escaped {
            out.push(Tok::C('\\'));
        }
        SigmaStr(out)
    }

    /// A literal string (no wildcards).
    pub fn literal(s: &str) -> SigmaStr {
        SigmaStr(s.chars().map(Tok::C).collect())
    }

    /// The text, when the value has no wildcard and no placeholder.
    pub fn plain(&self) -> Option<String> {
        self.0
            .iter()
            .map(|t| match t {
                Tok::C(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    /// Whether the value has `*` or `?` wildcards.
    pub fn has_wildcards(&self) -> bool {
        self.0.iter().any(|t| matches!(t, Tok::Star | Tok::One))
    }

    /// `*` added at the start and/or end unless already there (`contains`, `startswith`,
    /// `endswith`).
    pub fn wrapped(mut self, start: bool, end: bool) -> SigmaStr {
        if start && self.0.first() != Some(&Tok::Star) {
            self.0.insert(0, Tok::Star);
        }
        if end && self.0.last() != Some(&Tok::Star) {
            self.0.push(Tok::Star);
        }
        self
    }

    /// `%name%` sequences of literal characters made placeholders (`expand`).
    pub fn with_placeholders(self) -> SigmaStr {
        let mut out = Vec::with_capacity(self.0.len());
        let toks = self.0;
        let mut i = 0;
        while i < toks.len() {
            if toks[i] == Tok::C('%') {
                let name: String = toks[i + 1..]
                    .iter()
                    .map_while(|t| match t {
                        Tok::C(c) if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') => Some(*c),
                        _ => None,
                    })
                    .collect();
                let end = i + 1 + name.chars().count();
                if !name.is_empty() && toks.get(end) == Some(&Tok::C('%')) {
                    out.push(Tok::Placeholder(name));
                    i = end + 1;
                    continue;
                }
            }
            out.push(toks[i].clone());
            i += 1;
        }
        SigmaStr(out)
    }

    /// The placeholders of the value.
    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|t| match t {
            Tok::Placeholder(p) => Some(p.as_str()),
            _ => None,
        })
    }

    /// The value with placeholder `name` replaced by `with` (its own wildcards active).
    pub fn substitute(&self, name: &str, with: &SigmaStr) -> SigmaStr {
        let mut out = Vec::new();
        for t in &self.0 {
            match t {
                Tok::Placeholder(p) if p == name => out.extend(with.0.iter().cloned()),
                other => out.push(other.clone()),
            }
        }
        SigmaStr(out)
    }

    /// `*text*` with plain ASCII text: what the shared `contains` automaton matches.
    pub fn contains_text(&self) -> Option<String> {
        let inner = self.0.strip_prefix(&[Tok::Star])?.strip_suffix(&[Tok::Star])?;
        let text: String = inner
            .iter()
            .map(|t| match t {
                Tok::C(c) if c.is_ascii() && !matches!(c, '*' | '?') => Some(*c),
                _ => None,
            })
            .collect::<Option<_>>()?;
        (!text.is_empty()).then_some(text)
    }

    /// As a laneguard glob, when no literal character is a glob wildcard.
    pub fn glob(&self) -> Option<String> {
        self.0
            .iter()
            .map(|t| match t {
                Tok::C('*' | '?') | Tok::Placeholder(_) => None,
                Tok::C(c) => Some(*c),
                Tok::Star => Some('*'),
                Tok::One => Some('?'),
            })
            .collect()
    }

    /// As an anchored regex (`*` spans newlines, like a glob), case-insensitive unless `cased`.
    pub fn regex(&self, cased: bool) -> String {
        let mut out = String::from(if cased { "(?s)^" } else { "(?is)^" });
        let mut buf = [0u8; 4];
        for t in &self.0 {
            match t {
                Tok::C(c) => out.push_str(&regex::escape(c.encode_utf8(&mut buf))),
                Tok::Star => out.push_str(".*"),
                Tok::One => out.push('.'),
                Tok::Placeholder(p) => out.push_str(&regex::escape(&format!("%{p}%"))),
            }
        }
        out.push('$');
        out
    }

    /// As Sigma would write it back (wildcards bare, literal `*`, `?`, `\` escaped).
    pub fn written(&self) -> String {
        let mut out = String::new();
        for t in &self.0 {
            match t {
                Tok::C(c @ ('*' | '?' | '\\')) => {
                    out.push('\\');
                    out.push(*c);
                }
                Tok::C(c) => out.push(*c),
                Tok::Star => out.push('*'),
                Tok::One => out.push('?'),
                Tok::Placeholder(p) => {
                    out.push('%');
                    out.push_str(p);
                    out.push('%');
                }
            }
        }
        out
    }
}

/// Standard base64 (with padding) of `bytes`.
pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The three encodings of `bytes` at offsets 0, 1 and 2 inside a longer base64 text, with the
/// characters that depend on the unknown neighbours cut off (pySigma's `base64offset`).
pub fn base64_offsets(bytes: &[u8]) -> [String; 3] {
    const START: [usize; 3] = [0, 2, 3];
    const END_CUT: [usize; 3] = [0, 3, 2];
    std::array::from_fn(|i| {
        let mut padded = vec![b' '; i];
        padded.extend_from_slice(bytes);
        let enc = base64(&padded);
        let cut = END_CUT[(bytes.len() + i) % 3];
        let end = enc.len().saturating_sub(cut);
        enc.get(START[i]..end.max(START[i])).unwrap_or("").to_owned()
    })
}

/// UTF-16 encodings of the `utf16le`/`wide`, `utf16be` and `utf16` (BOM + LE) modifiers.
pub fn utf16(text: &str, modifier: &str) -> Vec<u8> {
    let units = text.encode_utf16();
    match modifier {
        "utf16be" => units.flat_map(u16::to_be_bytes).collect(),
        "utf16" => [0xFF, 0xFE]
            .into_iter()
            .chain(units.flat_map(u16::to_le_bytes))
            .collect(),
        _ => units.flat_map(u16::to_le_bytes).collect(),
    }
}

/// The dash characters `windash` permutes.
const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// Most variants one `windash` value may produce.
pub const MAX_WINDASH_VARIANTS: usize = 625;

/// Every variant of a value with each command-line flag dash (a `-` or `/` after a non-word
/// character or the start, before a word character) replaced by each of the five dashes
/// (pySigma's reading of `windash`). `Err` with the count when there would be too many.
pub fn windash(value: &SigmaStr) -> Result<Vec<SigmaStr>, usize> {
    let word = |t: Option<&Tok>| matches!(t, Some(Tok::C(c)) if c.is_alphanumeric() || *c == '_');
    let toks = &value.0;
    let positions: Vec<usize> = (0..toks.len())
        .filter(|&i| {
            matches!(toks[i], Tok::C('-' | '/'))
                && (i == 0 || !word(toks.get(i - 1)))
                && word(toks.get(i + 1))
        })
        .collect();
    let count = DASHES
        .len()
        .checked_pow(u32::try_from(positions.len()).unwrap_or(u32::MAX));
    match count {
        Some(n) if n <= MAX_WINDASH_VARIANTS => {}
        Some(n) => return Err(n),
        None => return Err(usize::MAX),
    }
    let mut out = vec![value.clone()];
    for &p in &positions {
        out = out
            .into_iter()
            .flat_map(|v| {
                DASHES.iter().map(move |d| {
                    let mut v = v.clone();
                    v.0[p] = Tok::C(*d);
                    v
                })
            })
            .collect();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_follow_pysigma() {
        let w = |s: &str| SigmaStr::parse(s).written();
        let plain = |s: &str| SigmaStr::parse(s).plain();
        assert_eq!(plain(r"C:\Windows\x").as_deref(), Some(r"C:\Windows\x"));
        assert_eq!(plain(r"x\\y").as_deref(), Some(r"x\y"));
        assert_eq!(plain(r"x\\\\y").as_deref(), Some(r"x\\y"));
        assert_eq!(plain(r"a\*b").as_deref(), Some("a*b"));
        assert_eq!(
            SigmaStr::parse(r"a\\*b").0,
            vec![Tok::C('a'), Tok::C('\\'), Tok::Star, Tok::C('b')]
        );
        assert_eq!(plain(r"a\\\*b").as_deref(), Some(r"a\*b"));
        assert_eq!(SigmaStr::parse("prog?.exe").0[4], Tok::One);
        assert_eq!(plain("trailing\\").as_deref(), Some("trailing\\"));
        assert_eq!(w(r"a\*b"), r"a\*b");
        assert_eq!(w("a*b?"), "a*b?");
    }

    #[test]
    fn shapes() {
        let s = |v: &str| SigmaStr::parse(v);
        assert_eq!(
            s("abc").wrapped(true, true).contains_text().as_deref(),
            Some("abc")
        );
        assert_eq!(s("*abc*").wrapped(true, true).0.len(), 5, "no doubled stars");
        assert_eq!(s("a*c").wrapped(true, true).contains_text(), None);
        assert_eq!(
            s("é").wrapped(true, true).contains_text(),
            None,
            "non-ASCII goes to glob"
        );
        assert_eq!(s("*").wrapped(true, true).contains_text(), None);
        assert_eq!(s("Abc*").glob().as_deref(), Some("Abc*"));
        assert_eq!(s(r"a\*b").glob(), None, "a literal star needs a regex");
        assert_eq!(s(r"a\*b?").regex(false), r"(?is)^a\*b.$");
        assert_eq!(s("a.b").regex(true), r"(?s)^a\.b$");
    }

    #[test]
    fn placeholders() {
        let v = SigmaStr::parse("%Legitimate_IP_Ranges%").with_placeholders();
        assert_eq!(v.0, vec![Tok::Placeholder("Legitimate_IP_Ranges".into())]);
        let v = SigmaStr::parse("x-%a%-%b").with_placeholders();
        assert_eq!(v.placeholders().collect::<Vec<_>>(), ["a"]);
        assert_eq!(v.written(), "x-%a%-%b");
        let sub = v.substitute("a", &SigmaStr::parse("y*"));
        assert_eq!(sub.written(), "x-y*-%b");
    }

    #[test]
    fn encodings_match_pysigma() {
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(
            base64_offsets(b"abc"),
            ["YWJj".to_owned(), "FiY".into(), "hYm".into()]
        );
        assert_eq!(
            base64_offsets(b"http://"),
            ["aHR0cDovL".to_owned(), "h0dHA6Ly".into(), "odHRwOi8v".into()]
        );
        assert_eq!(base64_offsets(b"a"), ["Y".to_owned(), "".into(), "h".into()]);
        assert_eq!(utf16("cmd", "utf16le"), [0x63, 0, 0x6d, 0, 0x64, 0]);
        assert_eq!(utf16("cmd", "wide"), [0x63, 0, 0x6d, 0, 0x64, 0]);
        assert_eq!(utf16("c", "utf16be"), [0, 0x63]);
        assert_eq!(base64(&utf16("cmd", "utf16")), "//5jAG0AZAA=");
    }

    #[test]
    fn windash_permutes_flag_dashes_only() {
        let v = windash(&SigmaStr::parse(" -foo -bar")).unwrap();
        assert_eq!(v.len(), 25);
        assert!(v.iter().any(|x| x.written() == " /foo \u{2014}bar"));
        let v = windash(&SigmaStr::parse("a-b -c")).unwrap();
        assert_eq!(v.len(), 5);
        assert!(v.iter().all(|x| x.written().starts_with("a-b ")));
        assert_eq!(windash(&SigmaStr::parse("-a -b -c -d -e")).unwrap_err(), 3125);
    }
}

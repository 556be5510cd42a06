//! A reader for the INI dialect aws-vault sees: go-ini (`gopkg.in/ini.v1` v1.67) with the options
//! aws-vault passes (`AllowNestedValues`, `InsensitiveKeys`, `SpaceBeforeInlineComment`,
//! case-sensitive section names).
//!
//! Why our own parser: existing crates disagree with go-ini on exactly the things real
//! `~/.aws/config` files contain (inline comments after URLs with `#/`, nested `s3 =` blocks,
//! section-name case). Every rule below is docs/compatibility.md §2.2; each one is
//! annotated with the go-ini code path it copies, and each has a unit test.
//!
//! The model: an ordered list of sections, each an ordered list of keys with their raw value.
//! Reading a key applies go-ini's two read-time quirks, child-section inheritance
//! (`[profile a.b]` falls back to `[profile a]`) and `%(name)s` interpolation, see [`Ini::get`].
//!
//! One deliberate difference from go-ini: a section header ends a nested-value block (docs/compatibility.md §2.2
//! and the AWS CLI agree). go-ini keeps swallowing indented lines into the previous section's
//! empty-valued key (`s3 =`), which silently drops indented keys of the next section.

use std::collections::HashMap;

/// Name of the hidden section holding keys that appear before any header (and `[DEFAULT]`).
/// Distinct from `[default]`: section names are case-sensitive.
pub const DEFAULT_SECTION: &str = "DEFAULT";

/// go-ini's `depthValues`: how many `%(name)s` substitutions one read may perform.
const INTERPOLATION_PASSES: usize = 99;

/// Interpolation stops growing a value past this size. go-ini has no such limit and a
/// self-referencing `DEFAULT` key (`a = x%(a)s`) doubles 99 times; we stop instead of exhausting
/// memory.
const INTERPOLATION_MAX_LEN: usize = 1 << 20;

/// A parse failure: the 1-based line where the offending construct starts and go-ini's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// One key of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Lower-cased, trimmed name.
    pub name: String,
    /// The raw value (before interpolation).
    pub value: String,
    /// Indented lines attached to an empty-valued key (`s3 =` blocks); kept, never interpreted.
    pub nested: Vec<String>,
}

/// One section: its name exactly as written between the brackets, and its keys in first-seen
/// order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    keys: Vec<Key>,
    index: HashMap<String, usize>,
    /// The nearest existing ancestor (`[a.b.c]` -> `[a.b]`, else `[a]`), linked once after
    /// parsing so that a key read walks a chain of indexes instead of re-deriving and hashing
    /// every shorter name on each read (which made reads in deeply nested sections cost the
    /// square of the name's length).
    parent: Option<usize>,
}

impl Section {
    fn new(name: &str) -> Section {
        Section {
            name: name.to_string(),
            keys: Vec::new(),
            index: HashMap::new(),
            parent: None,
        }
    }

    /// The section's own key (no inheritance, no interpolation).
    pub fn key(&self, name: &str) -> Option<&Key> {
        self.index.get(name).and_then(|i| self.keys.get(*i))
    }

    /// The section's own keys in first-seen order.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// go-ini `NewKey`: a repeated key keeps its position and takes the new value.
    fn set(&mut self, name: String, value: String) -> usize {
        if let Some(&i) = self.index.get(&name) {
            if let Some(k) = self.keys.get_mut(i) {
                k.value = value;
            }
            return i;
        }
        self.index.insert(name.clone(), self.keys.len());
        self.keys.push(Key {
            name,
            value,
            nested: Vec::new(),
        });
        self.keys.len() - 1
    }
}

/// A parsed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ini {
    sections: Vec<Section>,
    index: HashMap<String, usize>,
}

impl Ini {
    fn new() -> Ini {
        let mut ini = Ini {
            sections: Vec::new(),
            index: HashMap::new(),
        };
        ini.section_or_insert(DEFAULT_SECTION);
        ini
    }

    /// go-ini `NewSection`: a repeated header merges into the first occurrence.
    fn section_or_insert(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.index.insert(name.to_string(), self.sections.len());
        self.sections.push(Section::new(name));
        self.sections.len() - 1
    }

    /// All sections in file order; the hidden `DEFAULT` section is first.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// A section by exact (case-sensitive) name. As in go-ini, the empty name means `DEFAULT`.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.section_index(name).and_then(|i| self.sections.get(i))
    }

    fn section_index(&self, name: &str) -> Option<usize> {
        let name = if name.is_empty() {
            DEFAULT_SECTION
        } else {
            name
        };
        super::work::add(name.len());
        self.index.get(name).copied()
    }

    /// Reads a key the way go-ini's `Section.Key(name).String()` does: child-section inheritance,
    /// then `%(name)s` interpolation. `None` when the key exists nowhere along the inheritance
    /// path (a key present with an empty value is `Some("")`). The key name is matched
    /// case-insensitively; the section name exactly.
    pub fn get(&self, section: &str, key: &str) -> Option<String> {
        let key = key.to_lowercase();
        let sec = self.section_index(section)?;
        let (owner, k) = self.find_key(sec, &key)?;
        Some(self.interpolate(owner, &k.name, &k.value))
    }

    /// go-ini `Section.GetKey`: the section's own key, else (for a name containing `.`) the key as
    /// found from the nearest existing ancestor section, `[a.b.c]` -> `[a.b]` -> `[a]`. Returns
    /// the index of the section that owns the key, which is the context interpolation uses.
    ///
    /// A loop over the parent links, so no nesting depth can exhaust the stack.
    fn find_key(&self, sec: usize, key: &str) -> Option<(usize, &Key)> {
        let mut current = sec;
        loop {
            super::work::add(1);
            let section = self.sections.get(current)?;
            if let Some(k) = section.key(key) {
                return Some((current, k));
            }
            current = section.parent?;
        }
    }

    /// Sets every section's [`Section::parent`] to what go-ini's lookup finds: for each `.` in
    /// the name from the right, the text before it, if a section of that name exists (the empty
    /// text meaning `DEFAULT`).
    ///
    /// Linear in the total length of the names: each name is hashed once, piece by piece, and
    /// the hash of every prefix ending at a `.` is read off on the way, so a candidate parent is
    /// a lookup by hash (confirmed by comparing the names) rather than hashing the prefix anew.
    /// The hasher is randomly keyed, so crafted names cannot force collisions.
    fn link_parents(&mut self) {
        use std::hash::{BuildHasher, Hasher};
        let keys = std::collections::hash_map::RandomState::new();
        // `on_dot(position, hash of the text before it)`; returns the hash of the whole name.
        // Whole names and prefixes are fed to the hasher in the same pieces, so equal texts
        // get equal hashes.
        let hash_pieces = |name: &str, on_dot: &mut dyn FnMut(usize, u64)| -> u64 {
            let mut h = keys.build_hasher();
            let mut start = 0;
            for (dot, _) in name.match_indices('.') {
                h.write(&name.as_bytes()[start..dot]);
                on_dot(dot, h.finish());
                h.write(b".");
                start = dot + 1;
            }
            h.write(&name.as_bytes()[start..]);
            super::work::add(name.len());
            h.finish()
        };
        let mut by_hash: HashMap<u64, Vec<usize>> = HashMap::new();
        for (i, section) in self.sections.iter().enumerate() {
            let h = hash_pieces(&section.name, &mut |_, _| {});
            by_hash.entry(h).or_default().push(i);
        }
        let default = self.section_index(DEFAULT_SECTION);
        let mut dots: Vec<(usize, u64)> = Vec::new();
        for i in 0..self.sections.len() {
            dots.clear();
            let name = self.sections[i].name.as_str();
            hash_pieces(name, &mut |dot, h| dots.push((dot, h)));
            let parent = dots.iter().rev().find_map(|&(dot, h)| {
                if dot == 0 {
                    return default;
                }
                let prefix = &name[..dot];
                by_hash
                    .get(&h)?
                    .iter()
                    .copied()
                    .find(|&c| self.sections[c].name == prefix)
            });
            // A section is never its own parent (only DEFAULT could be, and it has no dot).
            self.sections[i].parent = parent.filter(|&p| p != i);
        }
    }

    /// go-ini `Key.transformValue`: repeatedly replace the first `%(name)s` with the raw value of
    /// `name` from the same section (with inheritance) or, if absent or the key itself, from
    /// `DEFAULT`. The first unresolvable reference stops all substitution.
    fn interpolate(&self, owner: usize, own_name: &str, raw: &str) -> String {
        if !raw.contains('%') {
            return raw.to_string();
        }
        let mut val = raw.to_string();
        for _ in 0..INTERPOLATION_PASSES {
            let Some((start, end)) = find_reference(&val) else {
                break;
            };
            let reference = val[start..end].to_string();
            let wanted = reference[2..reference.len() - 2].to_lowercase();
            let found = match self.find_key(owner, &wanted) {
                Some((sec, k)) if !(sec == owner && k.name == own_name) => Some(k),
                _ => self
                    .section_index(DEFAULT_SECTION)
                    .and_then(|d| self.find_key(d, &wanted))
                    .map(|(_, k)| k),
            };
            let Some(found) = found else {
                break;
            };
            let next = val.replace(&reference, &found.value);
            if next.len() > INTERPOLATION_MAX_LEN {
                break;
            }
            val = next;
        }
        val
    }
}

/// The leftmost match of go-ini's `%\(([^)]+)\)s` as a byte range.
fn find_reference(s: &str) -> Option<(usize, usize)> {
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(rel) = s.get(from..).and_then(|rest| rest.find("%(")) {
        let start = from + rel;
        let name_start = start + 2;
        if let Some(close_rel) = s.get(name_start..).and_then(|rest| rest.find(')')) {
            let close = name_start + close_rel;
            if close > name_start && bytes.get(close + 1) == Some(&b's') {
                return Some((start, close + 2));
            }
        }
        from = start + 1;
    }
    None
}

/// Go's `bufio.Reader.ReadBytes('\n')` over the text: lines keep their `\n`; the last line may
/// lack one; reading at the end yields `""` and sets `eof`, as go-ini's parser loop expects.
struct Lines<'a> {
    rest: &'a str,
    line_no: usize,
    eof: bool,
}

impl<'a> Lines<'a> {
    fn read(&mut self) -> &'a str {
        if self.eof {
            return "";
        }
        self.line_no += 1;
        match self.rest.find('\n') {
            Some(i) => {
                let (line, rest) = self.rest.split_at(i + 1);
                self.rest = rest;
                line
            }
            None => {
                self.eof = true;
                std::mem::take(&mut self.rest)
            }
        }
    }
}

/// Parses `text` as go-ini would with aws-vault's options. A leading UTF-8 BOM is skipped.
pub fn parse(text: &str) -> Result<Ini, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut ini = Ini::new();
    let mut lines = Lines {
        rest: text,
        line_no: 0,
        eof: false,
    };
    let mut section = 0usize;
    let mut auto_count = 1usize;
    // go-ini's `isLastValueEmpty` and `lastRegularKey`: an empty-valued key opens a nested block.
    let mut nested_target: Option<(usize, usize)> = None;

    while !lines.eof {
        let raw = lines.read();
        let line_no = lines.line_no;
        let err = |message: String| ParseError {
            line: line_no,
            message,
        };

        if let Some((sec, key)) = nested_target {
            if raw.starts_with([' ', '\t']) {
                if let Some(k) = ini.sections.get_mut(sec).and_then(|s| s.keys.get_mut(key)) {
                    k.nested.push(raw.trim().to_string());
                }
                continue;
            }
        }

        let line = raw.trim_start();
        if line.is_empty() {
            continue;
        }
        if line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(after_bracket) = line.strip_prefix('[') {
            // Up to the LAST ']' on the line; the name is not trimmed.
            let Some(close) = after_bracket.rfind(']') else {
                return Err(err(format!("unclosed section: {}", line.trim_end())));
            };
            let name = &after_bracket[..close];
            if name.is_empty() {
                return Err(err("empty section name".to_string()));
            }
            section = ini.section_or_insert(name);
            auto_count = 1;
            nested_target = None;
            continue;
        }

        let (name, offset) = read_key_name(line).map_err(err)?;
        let name = if name == "-" {
            // go-ini auto-increment keys: `- = x` becomes `#1`, `#2`, ... per section.
            let n = format!("#{auto_count}");
            auto_count += 1;
            n
        } else {
            name.to_lowercase()
        };
        if name.is_empty() {
            return Err(err("error creating new key: empty key name".to_string()));
        }
        let value = read_value(line.get(offset..).unwrap_or(""), &mut lines).map_err(err)?;
        let value_empty = value.is_empty();
        let Some(sec) = ini.sections.get_mut(section) else {
            continue;
        };
        let key_index = sec.set(name, value);
        nested_target = value_empty.then_some((section, key_index));
    }
    ini.link_parents();
    Ok(ini)
}

/// go-ini `readKeyName` with delimiters `=` and `:`: the name (trimmed, not yet lower-cased) and
/// the byte offset just past the delimiter. A key may be quoted with `"`, `"""` or a backtick.
fn read_key_name(line: &str) -> Result<(String, usize), String> {
    let not_found = || format!("key-value delimiter not found: {}", line.trim_end());
    let quote = if line.starts_with('"') {
        if line.len() > 6 && line.starts_with("\"\"\"") {
            "\"\"\""
        } else {
            "\""
        }
    } else if line.starts_with('`') {
        "`"
    } else {
        ""
    };

    if !quote.is_empty() {
        let start = quote.len();
        let Some(rel) = line.get(start..).and_then(|rest| rest.find(quote)) else {
            return Err(format!("missing closing key quote: {}", line.trim_end()));
        };
        let close = rel + start;
        let after = close + start;
        let Some(delim) = line.get(after..).and_then(|rest| rest.find(['=', ':'])) else {
            return Err(not_found());
        };
        let name = line.get(start..close).unwrap_or("").trim().to_string();
        return Ok((name, after + delim + 1));
    }

    let Some(delim) = line.find(['=', ':']) else {
        return Err(not_found());
    };
    Ok((line[..delim].trim().to_string(), delim + 1))
}

/// go-ini `readValue` with aws-vault's options. `input` is the rest of the line after the
/// delimiter, still carrying its `\n`; continuation and raw multi-line values read more lines.
fn read_value(input: &str, lines: &mut Lines<'_>) -> Result<String, String> {
    let line = input.trim_start();
    if line.is_empty() {
        return Ok(String::new());
    }

    // Raw quoted values: `"""..."""` or `` `...` ``, up to the LAST closing quote, maybe spanning
    // lines (kept verbatim, newlines included).
    let quote = if line.len() > 3 && line.starts_with("\"\"\"") {
        "\"\"\""
    } else if line.starts_with('`') {
        "`"
    } else {
        ""
    };
    if !quote.is_empty() {
        let body = &line[quote.len()..];
        if let Some(pos) = body.rfind(quote) {
            return Ok(body[..pos].to_string());
        }
        let mut val = body.to_string();
        loop {
            let next = lines.read();
            if let Some(pos) = next.rfind(quote) {
                val.push_str(&next[..pos]);
                return Ok(val);
            }
            val.push_str(next);
            if lines.eof {
                return Err(format!(
                    "missing closing key quote from '{}' to '{}'",
                    line.trim_end(),
                    next.trim_end()
                ));
            }
        }
    }

    let line = line.trim();

    // Continuation: a trailing backslash joins the following (trimmed) lines until one does not
    // end in a backslash or an empty line is met. Returned as-is: no comment or quote handling.
    if let Some(start) = line.strip_suffix('\\') {
        let mut val = start.to_string();
        loop {
            let next = lines.read().trim();
            if next.is_empty() {
                break;
            }
            val.push_str(next);
            if !val.ends_with('\\') {
                break;
            }
            val.pop();
        }
        return Ok(val);
    }

    // Inline comment: only after a space (" #", else " ;"), so `https://x/#/start` survives.
    let mut line = line;
    if let Some(i) = line.find(" #").or_else(|| line.find(" ;")) {
        line = line[..i].trim();
    }

    // Outer quotes: exactly one matching pair of ' or " around the whole value.
    if has_surrounded_quote(line, b'\'') || has_surrounded_quote(line, b'"') {
        return Ok(line[1..line.len() - 1].to_string());
    }
    Ok(line.to_string())
}

/// go-ini `hasSurroundedQuote`: first and last bytes are `quote` and it occurs nowhere between.
fn has_surrounded_quote(s: &str, quote: u8) -> bool {
    let b = s.as_bytes();
    b.len() >= 2
        && b[0] == quote
        && b[b.len() - 1] == quote
        && b[1..].iter().position(|&c| c == quote) == Some(b.len() - 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(text: &str, section: &str, key: &str) -> Option<String> {
        parse(text).expect("parses").get(section, key)
    }

    fn names(ini: &Ini) -> Vec<&str> {
        ini.sections().iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn bom_is_skipped() {
        assert_eq!(
            get("\u{feff}[profile a]\nregion=x\n", "profile a", "region"),
            Some("x".into())
        );
    }

    #[test]
    fn crlf_lines_work() {
        let text = "[profile a]\r\nregion = eu-west-1\r\nrole_arn=arn\r\n";
        assert_eq!(get(text, "profile a", "region"), Some("eu-west-1".into()));
        assert_eq!(get(text, "profile a", "role_arn"), Some("arn".into()));
        let ini = parse(text).unwrap();
        assert_eq!(names(&ini), vec!["DEFAULT", "profile a"]);
    }

    #[test]
    fn leading_whitespace_is_ignored() {
        let text = "  [profile a]\n\t region = x\n";
        assert_eq!(get(text, "profile a", "region"), Some("x".into()));
    }

    #[test]
    fn comment_lines() {
        let text = "# c1\n; c2\n[profile a]\n  # region = no\n;region=no\nregion=yes\n";
        assert_eq!(get(text, "profile a", "region"), Some("yes".into()));
    }

    #[test]
    fn section_header_up_to_last_bracket_untrimmed() {
        let ini = parse("[profile a] ; c [x]\nk=v\n[ profile b ]\nk=w\n").unwrap();
        assert_eq!(
            names(&ini),
            vec!["DEFAULT", "profile a] ; c [x", " profile b "]
        );
        assert_eq!(ini.get(" profile b ", "k"), Some("w".into()));
        // text after the last ']' is ignored
        let ini = parse("[profile a] trailing\nk=v\n").unwrap();
        assert_eq!(ini.get("profile a", "k"), Some("v".into()));
    }

    #[test]
    fn section_names_are_case_sensitive() {
        let ini = parse("[Default]\na=1\n[default]\na=2\n[DEFAULT]\na=3\n").unwrap();
        assert_eq!(ini.get("Default", "a"), Some("1".into()));
        assert_eq!(ini.get("default", "a"), Some("2".into()));
        assert_eq!(ini.get("DEFAULT", "a"), Some("3".into()));
    }

    #[test]
    fn duplicate_sections_merge_into_first() {
        let ini = parse("[profile a]\nx=1\n[profile b]\n[profile a]\ny=2\nx=3\n").unwrap();
        assert_eq!(names(&ini), vec!["DEFAULT", "profile a", "profile b"]);
        assert_eq!(ini.get("profile a", "x"), Some("3".into()));
        assert_eq!(ini.get("profile a", "y"), Some("2".into()));
        let keys: Vec<_> = ini
            .section("profile a")
            .unwrap()
            .keys()
            .iter()
            .map(|k| k.name.clone())
            .collect();
        assert_eq!(keys, vec!["x", "y"]);
    }

    #[test]
    fn keys_before_any_header_go_to_default_section() {
        let ini = parse("region=a\n[DEFAULT]\noutput=json\n[default]\nregion=b\n").unwrap();
        assert_eq!(ini.get(DEFAULT_SECTION, "region"), Some("a".into()));
        assert_eq!(ini.get(DEFAULT_SECTION, "output"), Some("json".into()));
        assert_eq!(ini.get("", "output"), Some("json".into()));
        assert_eq!(ini.get("default", "region"), Some("b".into()));
        assert_eq!(names(&ini), vec!["DEFAULT", "default"]);
    }

    #[test]
    fn delimiter_is_first_equals_or_colon() {
        let text = "[s]\na: b=c\nd = e:f\ng=h=i\n";
        assert_eq!(get(text, "s", "a"), Some("b=c".into()));
        assert_eq!(get(text, "s", "d"), Some("e:f".into()));
        assert_eq!(get(text, "s", "g"), Some("h=i".into()));
        // URL values with ':' after '=' are intact
        assert_eq!(
            get("[s]\nu = https://x:8443/a\n", "s", "u"),
            Some("https://x:8443/a".into())
        );
    }

    #[test]
    fn missing_delimiter_is_an_error_with_line_number() {
        let e = parse("[profile a]\nregion=x\noops\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(e.message, "key-value delimiter not found: oops");
        assert_eq!(e.to_string(), "line 3: key-value delimiter not found: oops");
        let e = parse("oops").unwrap_err();
        assert_eq!(e.line, 1);
    }

    #[test]
    fn empty_key_name_is_an_error() {
        let e = parse("[s]\n = x\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("empty key name"), "{}", e.message);
    }

    #[test]
    fn unclosed_and_empty_section_are_errors() {
        let e = parse("[profile a\nk=v\n").unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (1, "unclosed section: [profile a")
        );
        let e = parse("k=v\n[]\n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (2, "empty section name"));
    }

    #[test]
    fn keys_are_trimmed_and_lower_cased_last_value_wins() {
        let text = "[s]\n  Role_ARN  = one\nROLE_arn=two\n";
        assert_eq!(get(text, "s", "role_arn"), Some("two".into()));
        assert_eq!(get(text, "s", "ROLE_ARN"), Some("two".into()));
    }

    #[test]
    fn quoted_key_names() {
        let text = "[s]\n\"Quoted Key\" = a\n`tick`=b\n\"\"\"triple\"\"\" = c\n";
        assert_eq!(get(text, "s", "quoted key"), Some("a".into()));
        assert_eq!(get(text, "s", "tick"), Some("b".into()));
        assert_eq!(get(text, "s", "triple"), Some("c".into()));
        let e = parse("[s]\n\"open = x\n").unwrap_err();
        assert!(
            e.message.starts_with("missing closing key quote"),
            "{}",
            e.message
        );
    }

    #[test]
    fn auto_increment_keys() {
        let ini = parse("[s]\n- = a\n- = b\n[t]\n- = c\n").unwrap();
        assert_eq!(ini.get("s", "#1"), Some("a".into()));
        assert_eq!(ini.get("s", "#2"), Some("b".into()));
        assert_eq!(ini.get("t", "#1"), Some("c".into()));
    }

    #[test]
    fn value_whitespace_is_trimmed() {
        assert_eq!(get("[s]\nk =   v v  \n", "s", "k"), Some("v v".into()));
        assert_eq!(get("[s]\nk=\n", "s", "k"), Some("".into()));
        assert_eq!(get("[s]\nk=", "s", "k"), Some("".into()));
        assert_eq!(get("[s]\nk=v", "s", "k"), Some("v".into()));
    }

    #[test]
    fn raw_quoted_values() {
        assert_eq!(
            get("[s]\nk = \"\"\"a # b ; c\"\"\" # x\n", "s", "k"),
            Some("a # b ; c".into())
        );
        assert_eq!(get("[s]\nk = `a ;b`\n", "s", "k"), Some("a ;b".into()));
        // up to the LAST closing quote
        assert_eq!(get("[s]\nk = `a`b`\n", "s", "k"), Some("a`b".into()));
        // multi-line, newlines kept
        let text = "[s]\nk = \"\"\"line one\n  line two\nend\"\"\"\nafter = 1\n";
        assert_eq!(
            get(text, "s", "k"),
            Some("line one\n  line two\nend".into())
        );
        assert_eq!(get(text, "s", "after"), Some("1".into()));
        let text = "[s]\nk = `one\ntwo`\n";
        assert_eq!(get(text, "s", "k"), Some("one\ntwo".into()));
    }

    #[test]
    fn unterminated_raw_value_is_an_error() {
        let e = parse("[s]\nk = `one\ntwo\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(
            e.message.starts_with("missing closing key quote from"),
            "{}",
            e.message
        );
    }

    #[test]
    fn short_triple_quote_at_eof_is_plain_text() {
        // go-ini needs more than three characters to recognise `"""` (the newline counts).
        assert_eq!(get("[s]\nk = \"\"\"", "s", "k"), Some("\"\"\"".into()));
    }

    #[test]
    fn continuation_lines() {
        let text = "[s]\nk = one \\\n   two\\\n  three # not a comment\nnext=1\n";
        assert_eq!(
            get(text, "s", "k"),
            Some("one twothree # not a comment".into())
        );
        assert_eq!(get(text, "s", "next"), Some("1".into()));
        // an empty line stops the continuation
        let text = "[s]\nk = a\\\n\nnext = 2\n";
        assert_eq!(get(text, "s", "k"), Some("a".into()));
        assert_eq!(get(text, "s", "next"), Some("2".into()));
        // at end of file
        assert_eq!(get("[s]\nk = a\\", "s", "k"), Some("a".into()));
        // quotes are not stripped from continued values
        assert_eq!(
            get("[s]\nk = \"a\\\nb\"\n", "s", "k"),
            Some("\"ab\"".into())
        );
    }

    #[test]
    fn inline_comments_need_a_space() {
        let cases: &[(&str, &str)] = &[
            ("k = v # c", "v"),
            ("k = v ; c", "v"),
            ("k = v;c", "v;c"),
            ("k = v#c", "v#c"),
            (
                "k = https://x.awsapps.com/start/#/",
                "https://x.awsapps.com/start/#/",
            ),
            ("k = https://x/#/ # comment", "https://x/#/"),
            (
                "k = v\t# tab does not start a comment",
                "v\t# tab does not start a comment",
            ),
            ("k = a ; b # c", "a ; b"),
            ("k = # only comment", "# only comment"),
            ("k = \"quoted\" # c", "quoted"),
        ];
        for (line, want) in cases {
            let text = format!("[s]\n{line}\n");
            assert_eq!(get(&text, "s", "k").as_deref(), Some(*want), "{line}");
        }
    }

    #[test]
    fn outer_quotes_are_stripped_once() {
        let cases: &[(&str, &str)] = &[
            ("k = \"v\"", "v"),
            ("k = 'v'", "v"),
            ("k = \"\"", ""),
            ("k = \"a\"b\"", "\"a\"b\""),
            ("k = 'a\"b'", "a\"b"),
            ("k = \"v", "\"v"),
            ("k = '\"v\"'", "\"v\""),
            ("k = \"", "\""),
        ];
        for (line, want) in cases {
            let text = format!("[s]\n{line}\n");
            assert_eq!(get(&text, "s", "k").as_deref(), Some(*want), "{line}");
        }
    }

    #[test]
    fn nested_values_attach_to_empty_key() {
        let text = "[profile testing]\nregion=us-west-2\ns3=\n  max_concurrent_requests=10\n\tmax_queue_size=1000\nrole_arn = arn\n";
        let ini = parse(text).unwrap();
        let sec = ini.section("profile testing").unwrap();
        let s3 = sec.key("s3").unwrap();
        assert_eq!(s3.value, "");
        assert_eq!(
            s3.nested,
            vec!["max_concurrent_requests=10", "max_queue_size=1000"]
        );
        assert_eq!(sec.key("max_concurrent_requests"), None);
        assert_eq!(ini.get("profile testing", "role_arn"), Some("arn".into()));
        // blank and comment lines do not end the block
        let text = "[s]\ns3 =\n\n  a = 1\n# c\n  b = 2\nk = v\n";
        let ini = parse(text).unwrap();
        assert_eq!(
            ini.section("s").unwrap().key("s3").unwrap().nested,
            vec!["a = 1", "b = 2"]
        );
        assert_eq!(ini.get("s", "a"), None);
        assert_eq!(ini.get("s", "k"), Some("v".into()));
    }

    #[test]
    fn indented_lines_after_non_empty_value_are_keys() {
        let text = "[s]\nregion = x\n  role_arn = y\n";
        assert_eq!(get(text, "s", "role_arn"), Some("y".into()));
    }

    #[test]
    fn section_header_ends_nested_block() {
        let text = "[profile a]\ns3 =\n  max = 10\n[profile b]\n  region = us-east-1\n";
        let ini = parse(text).unwrap();
        assert_eq!(ini.get("profile b", "region"), Some("us-east-1".into()));
        assert_eq!(
            ini.section("profile a").unwrap().key("s3").unwrap().nested,
            vec!["max = 10"]
        );
    }

    #[test]
    fn nested_block_lines_are_not_parsed() {
        // a line without a delimiter inside a nested block is not an error
        let text = "[s]\ns3 =\n  no delimiter here\n";
        assert!(parse(text).is_ok());
    }

    #[test]
    fn child_section_inheritance() {
        let text = "[profile corp]\nregion = eu\nrole_arn = base\n[profile corp.prod]\nrole_arn = prod\n[profile corp.prod.x]\n[sso-session s]\nsso_region = r\n[sso-session s.y]\n";
        let ini = parse(text).unwrap();
        assert_eq!(ini.get("profile corp.prod", "region"), Some("eu".into()));
        assert_eq!(
            ini.get("profile corp.prod", "role_arn"),
            Some("prod".into())
        );
        assert_eq!(
            ini.get("profile corp.prod.x", "role_arn"),
            Some("prod".into())
        );
        assert_eq!(ini.get("profile corp.prod.x", "region"), Some("eu".into()));
        assert_eq!(ini.get("sso-session s.y", "sso_region"), Some("r".into()));
        assert_eq!(ini.get("profile corp.prod", "missing"), None);
    }

    #[test]
    fn inheritance_skips_missing_intermediate_sections() {
        let text = "[profile a]\nk = from-a\n[profile a.b.c]\n";
        assert_eq!(get(text, "profile a.b.c", "k"), Some("from-a".into()));
        // no ancestor at all
        assert_eq!(get("[profile x.y]\n", "profile x.y", "k"), None);
    }

    #[test]
    fn leading_dot_inherits_from_default_section() {
        // go-ini maps the empty parent name to DEFAULT
        let text = "k = top\n[.x]\n";
        assert_eq!(get(text, ".x", "k"), Some("top".into()));
    }

    #[test]
    fn interpolation() {
        let text = "base = https://corp\n[s]\nhost = h\nurl = %(base)s/%(host)s/start\nloop = %(loop)s\nmissing = %(nope)s and %(host)s\nUpper = %(HOST)s\n";
        let ini = parse(text).unwrap();
        assert_eq!(ini.get("s", "url"), Some("https://corp/h/start".into()));
        // unresolved: stays verbatim, and stops all further substitution
        assert_eq!(
            ini.get("s", "missing"),
            Some("%(nope)s and %(host)s".into())
        );
        // self reference falls back to DEFAULT, where it is absent
        assert_eq!(ini.get("s", "loop"), Some("%(loop)s".into()));
        assert_eq!(ini.get("s", "upper"), Some("h".into()));
        // not a reference
        assert_eq!(get("[s]\nk = 100%(x\n", "s", "k"), Some("100%(x".into()));
        assert_eq!(get("[s]\nk = %()s\n", "s", "k"), Some("%()s".into()));
    }

    #[test]
    fn interpolation_uses_inherited_keys_and_nested_references() {
        let text = "[profile a]\nacct = 123\n[profile a.b]\nrole = arn:aws:iam::%(acct)s:role/%(name)s\nname = %(acct)s-admin\n";
        assert_eq!(
            get(text, "profile a.b", "role"),
            Some("arn:aws:iam::123:role/123-admin".into())
        );
    }

    #[test]
    fn runaway_interpolation_is_bounded() {
        // each pass doubles the value; go-ini would try 2^99 copies
        let ini = parse("a = %(a)s%(a)s\n").unwrap();
        let v = ini.get(DEFAULT_SECTION, "a").unwrap();
        assert!(v.len() <= INTERPOLATION_MAX_LEN);
        assert!(v.len() > 1000);
        // linear growth runs all 99 passes
        let ini = parse("a = x%(a)s\n").unwrap();
        let v = ini.get(DEFAULT_SECTION, "a").unwrap();
        assert_eq!(v, format!("{}%(a)s", "x".repeat(100)));
    }

    #[test]
    fn get_reports_missing_and_empty() {
        let ini = parse("[s]\nempty =\n").unwrap();
        assert_eq!(ini.get("s", "empty"), Some(String::new()));
        assert_eq!(ini.get("s", "absent"), None);
        assert_eq!(ini.get("nosuch", "empty"), None);
    }

    #[test]
    fn line_numbers_count_consumed_lines() {
        let text = "[s]\nk = `a\nb`\nk2 = a\\\nb\nbad\n";
        assert_eq!(parse(text).unwrap_err().line, 6);
    }

    /// Deterministic pseudo-random soup of the syntax's special tokens: parsing and reading every
    /// key must never panic (slicing on multi-byte characters is the usual culprit).
    #[test]
    fn never_panics_on_random_token_soup() {
        const TOKENS: &[&str] = &[
            "[", "]", "=", ":", "\"", "`", "'", "\\", "\n", "\r\n", " ", "\t", "#", ";", "%(",
            ")s", "a", "B", ".", "\u{e9}", "\u{b5}", "\u{feff}", "\"\"\"", "profile ", "-",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let len = (next() % 40) as usize;
            let text: String = (0..len)
                .map(|_| TOKENS[(next() % TOKENS.len() as u64) as usize])
                .collect();
            if let Ok(ini) = parse(&text) {
                for section in ini.sections() {
                    for key in section.keys() {
                        let _ = ini.get(&section.name, &key.name);
                    }
                }
            }
        }
    }

    /// go-ini's lookup as written there: for each `.` from the right, the text before it, if a
    /// section of that name exists.
    fn reference_parent(ini: &Ini, sec: usize) -> Option<usize> {
        let mut name = ini.sections[sec].name.as_str();
        while let Some(dot) = name.rfind('.') {
            name = &name[..dot];
            if let Some(parent) = ini.section_index(name) {
                return (parent != sec).then_some(parent);
            }
        }
        None
    }

    #[test]
    fn parent_links_match_go_ini_lookup() {
        const PIECES: &[&str] = &["a", "b", ".", ".", "DEFAULT", "profile "];
        let mut seed: u64 = 0x1234_5678_9abc_def1;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..2000 {
            let mut text = String::new();
            for _ in 0..next(8) {
                let name: String = (0..1 + next(6))
                    .map(|_| PIECES[next(PIECES.len())])
                    .collect();
                text.push_str(&format!("[{name}]\n"));
            }
            let ini = parse(&text).unwrap();
            for sec in 0..ini.sections.len() {
                assert_eq!(
                    ini.sections[sec].parent,
                    reference_parent(&ini, sec),
                    "{:?} in {text:?}",
                    ini.sections[sec].name
                );
            }
        }
    }

    #[test]
    fn never_panics_on_odd_input() {
        let inputs = [
            "",
            "\n",
            "[",
            "]",
            "=",
            ":",
            "\"",
            "\"\"\"",
            "`",
            "\\",
            "[a]\n=\n",
            "k=\"\"\"\n",
            "[a.]\nk=1\n",
            "[.]\n",
            "[..]\nk=%(",
            "k=%(k)s%(k)s",
            "\u{feff}",
            "é=ü\n[ß]\nk=\u{b5}",
            "k = \"\"\"x",
            "\"\"\"\"\"\"\"=1",
            "k=`",
            " \t\n\t ",
            "[a]\ns3=\n",
            "[a.b.c.d]\nk=%(k)s",
        ];
        for input in inputs {
            let _ = parse(input);
        }
    }
}

//! The argument cursor the request and reply parsers share: positional
//! words, numbers, `key=value` options, and the verb split off a line.

use super::*;

pub(super) struct Args<'a> {
    verb: &'static str,
    usage: &'static str,
    words: std::iter::Peekable<std::str::SplitAsciiWhitespace<'a>>,
}

impl<'a> Args<'a> {
    pub(super) fn new(verb: &'static str, usage: &'static str, rest: &'a str) -> Self {
        Args {
            verb,
            usage,
            words: rest.split_ascii_whitespace().peekable(),
        }
    }

    pub(super) fn raw(&mut self, field: &'static str) -> Result<&'a str, ProtocolError> {
        self.words.next().ok_or(ProtocolError::Missing {
            verb: self.verb,
            field,
            usage: self.usage,
        })
    }

    pub(super) fn invalid(
        &self,
        field: &'static str,
        text: &str,
        expected: &'static str,
    ) -> ProtocolError {
        ProtocolError::Invalid {
            verb: self.verb,
            field,
            text: text.to_owned(),
            expected,
        }
    }

    pub(super) fn word(&mut self, field: &'static str) -> Result<String, ProtocolError> {
        let raw = self.raw(field)?;
        decode_word(raw).ok_or_else(|| self.invalid(field, raw, "percent-encoded UTF-8"))
    }

    pub(super) fn number<T: FromStr>(&mut self, field: &'static str) -> Result<T, ProtocolError> {
        let raw = self.raw(field)?;
        parse_number(raw).ok_or_else(|| self.invalid(field, raw, "a whole number in range"))
    }

    pub(super) fn parsed<T: FromStr>(
        &mut self,
        field: &'static str,
        expected: &'static str,
    ) -> Result<T, ProtocolError> {
        let raw = self.raw(field)?;
        raw.parse().map_err(|_| self.invalid(field, raw, expected))
    }

    /// Reads the remaining words as `key=value` options, each key at most
    /// once and from `keys`; returns the raw values in the order of `keys`.
    pub(super) fn options<const N: usize>(
        &mut self,
        keys: [&'static str; N],
    ) -> Result<[Option<&'a str>; N], ProtocolError> {
        let mut values = [None; N];
        for word in self.words.by_ref() {
            let slot = word
                .split_once('=')
                .and_then(|(key, value)| keys.iter().position(|k| *k == key).map(|i| (i, value)));
            let Some((i, value)) = slot else {
                return Err(ProtocolError::Extra {
                    verb: self.verb,
                    extra: word.to_owned(),
                    usage: self.usage,
                });
            };
            if values[i].is_some() {
                return Err(ProtocolError::Duplicate {
                    verb: self.verb,
                    key: keys[i].to_owned(),
                });
            }
            values[i] = Some(value);
        }
        Ok(values)
    }

    /// Like [`Args::options`], with every value a number.
    pub(super) fn numeric_options<const N: usize>(
        &mut self,
        keys: [&'static str; N],
    ) -> Result<[Option<u64>; N], ProtocolError> {
        let raw = self.options(keys)?;
        let mut values = [None; N];
        for (i, value) in raw.iter().enumerate() {
            if let Some(text) = value {
                values[i] = Some(
                    parse_number(text)
                        .ok_or_else(|| self.invalid(keys[i], text, "a whole number in range"))?,
                );
            }
        }
        Ok(values)
    }

    /// Narrows an option to `u32`, for version numbers and line counts.
    pub(super) fn small(
        &self,
        key: &'static str,
        value: Option<u64>,
    ) -> Result<Option<u32>, ProtocolError> {
        value
            .map(|v| {
                u32::try_from(v)
                    .map_err(|_| self.invalid(key, &v.to_string(), "a whole number in range"))
            })
            .transpose()
    }

    /// A `yes`/`no` option (absent: no).
    pub(super) fn flag(
        &self,
        key: &'static str,
        value: Option<&str>,
    ) -> Result<bool, ProtocolError> {
        match value {
            None | Some("no") => Ok(false),
            Some("yes") => Ok(true),
            Some(other) => Err(self.invalid(key, other, "yes or no")),
        }
    }

    /// A word option's value, decoded (`None` when absent).
    pub(super) fn word_option(
        &self,
        key: &'static str,
        value: Option<&str>,
    ) -> Result<Option<String>, ProtocolError> {
        value
            .map(|raw| {
                decode_word(raw).ok_or_else(|| self.invalid(key, raw, "percent-encoded UTF-8"))
            })
            .transpose()
    }

    pub(super) fn finish(mut self) -> Result<(), ProtocolError> {
        match self.words.next() {
            None => Ok(()),
            Some(extra) => Err(ProtocolError::Extra {
                verb: self.verb,
                extra: extra.to_owned(),
                usage: self.usage,
            }),
        }
    }
}

pub(super) fn split_verb(line: &str) -> Result<(&str, &str), ProtocolError> {
    let line = line.trim_start_matches(' ');
    if line.trim().is_empty() {
        return Err(ProtocolError::Empty);
    }
    Ok(line.split_once(' ').unwrap_or((line, "")))
}

/// The `<n>` of a `DATA <n>` line, in either direction.
pub(super) fn frame_length(rest: &str) -> Result<u64, ProtocolError> {
    let mut a = Args::new("DATA", "DATA <n>, then n bytes", rest);
    let n = a.number::<u64>("length")?;
    if n == 0 || n > MAX_FRAME_BYTES {
        return Err(a.invalid("length", &n.to_string(), "from 1 to 16777216"));
    }
    a.finish()?;
    Ok(n)
}

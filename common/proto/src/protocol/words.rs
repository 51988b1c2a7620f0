//! Words on a line: percent-encoding of arguments, numbers, free text, and
//! raw line bytes as text.

use super::*;

/// Encodes one argument for a line: `%`, space and control characters become
/// `%XX`; everything else, including non-ASCII letters, is sent as UTF-8.
/// The empty string is sent as a lone `%`.
///
/// Hand-written rather than the `percent-encoding` crate's: that crate
/// always escapes every non-ASCII byte (our wire form keeps `ü` readable
/// and must stay byte-identical), and its decoder passes a malformed `%`
/// through where ours must refuse the line.
pub fn encode_word(text: &str) -> Cow<'_, str> {
    if text.is_empty() {
        return Cow::Borrowed("%");
    }
    if !text.chars().any(|c| c.is_control() || c == ' ' || c == '%') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_ascii() && needs_escape(c as u8) {
            out.push_str(&format!("%{:02X}", c as u8));
        } else if c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

pub(super) fn needs_escape(b: u8) -> bool {
    b <= b' ' || b == b'%' || b == 0x7f
}

/// Decodes an argument made by [`encode_word`]. `None` if a `%` is not
/// followed by two hex digits or the result is not UTF-8.
pub fn decode_word(word: &str) -> Option<String> {
    if word == "%" {
        return Some(String::new());
    }
    if !word.contains('%') {
        return Some(word.to_owned());
    }
    let bytes = word.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = (*bytes.get(i + 1)? as char).to_digit(16)?;
            let lo = (*bytes.get(i + 2)? as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Makes free text safe to end a line with: control characters become spaces.
pub(super) fn line_text(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_control) {
        Cow::Owned(
            text.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

/// A decimal number without sign; at most 20 digits.
pub(super) fn parse_number<T: FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Turns raw line bytes into text, refusing what is not UTF-8.
pub fn line_str(line: &[u8]) -> Result<&str, ProtocolError> {
    std::str::from_utf8(line).map_err(|_| ProtocolError::NotUtf8)
}

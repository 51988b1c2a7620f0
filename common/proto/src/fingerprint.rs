//! A server's TLS identity as people compare it: `SHA256:` and the 64
//! lowercase hex digits of the SHA-256 of its certificate's DER bytes
//! (PROTOCOL.md §15). The server prints it, clients pin it.

/// The fingerprint of a certificate (its DER bytes).
pub fn cert_fingerprint(cert_der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, cert_der);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("SHA256:{hex}")
}

/// A fingerprint as [`cert_fingerprint`] writes it, from what a person
/// typed or pasted: any case, with or without the `SHA256:` prefix, with
/// or without colons between the bytes; `None` if it is not one.
pub fn normalize_fingerprint(text: &str) -> Option<String> {
    let text = text.trim();
    let hex = match text.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("sha256:") => &text[7..],
        _ => text,
    };
    let hex: String = hex
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())).then(|| format!("SHA256:{hex}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "SHA256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn a_fingerprint_is_sha256_in_hex() {
        assert_eq!(cert_fingerprint(b"abc"), A);
    }

    #[test]
    fn fingerprints_are_read_as_people_paste_them() {
        let hex = &A[7..];
        assert_eq!(normalize_fingerprint(A).as_deref(), Some(A));
        assert_eq!(normalize_fingerprint(hex).as_deref(), Some(A));
        assert_eq!(
            normalize_fingerprint(&format!(" sha256:{} ", hex.to_uppercase())).as_deref(),
            Some(A)
        );
        let pairs: Vec<&str> = (0..32).map(|i| &hex[i * 2..i * 2 + 2]).collect();
        assert_eq!(normalize_fingerprint(&pairs.join(":")).as_deref(), Some(A));
        for bad in ["", "SHA256:", "SHA256:xyz", &A[..60], "MD5:3f1c"] {
            assert_eq!(normalize_fingerprint(bad), None, "{bad}");
        }
    }
}

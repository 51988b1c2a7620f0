//! Which servers to believe: the decision ([`decide`], pure) and the
//! rustls verifier that asks it during the handshake and remembers the
//! answer, so the connect code can tell the user exactly why a server was
//! refused.

use std::sync::{Arc, Mutex, PoisonError};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use super::known_hosts::KnownHosts;
use ferry_proto::fingerprint::cert_fingerprint;

/// How a server's certificate stands with a certificate authority this
/// client trusts.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Authority {
    /// Signed by one, valid now, for the name dialled.
    Valid,
    /// Not signed by any (self-signed, or an authority this client does
    /// not trust): only a fingerprint can vouch for it.
    NotSigned,
    /// Signed by one but not acceptable; why, in words.
    Invalid(String),
}

/// What to do with a server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Go on: the server is who it claims to be.
    Accept {
        /// By which means.
        by: super::Verified,
        /// Whether to pin this address to the fingerprint afterwards.
        pin: bool,
    },
    /// Never met: the user must compare the fingerprint first.
    Unknown,
    /// The address is pinned to another fingerprint.
    Changed {
        /// The fingerprint pinned.
        pinned: String,
    },
    /// Signed by an authority, but not valid (name, dates, …).
    Invalid(String),
}

/// Decides about a server at an address that is pinned to `pinned` (if
/// at all), showing `fingerprint`:
///
/// 1. a fingerprint the user vouched for (`--trust`) is accepted, and
///    pinned — the way to update a changed pin deliberately;
/// 2. a pinned address must show its pinned fingerprint, whatever any
///    authority says (pins win, as SSH's known hosts do);
/// 3. otherwise a certificate an authority vouches for is accepted;
/// 4. a fingerprint already trusted under another address (the same
///    server by another name, a proxy, NAT) is accepted and pinned here too;
/// 5. anything else is unknown, or invalid if an authority signed it.
pub(crate) fn decide(
    fingerprint: &str,
    pinned: Option<&str>,
    vouched: bool,
    known_elsewhere: bool,
    authority: impl FnOnce() -> Authority,
) -> Decision {
    use super::Verified::{Authority as ByAuthority, Pinned};
    if vouched {
        return Decision::Accept {
            by: Pinned,
            pin: pinned != Some(fingerprint),
        };
    }
    match pinned {
        Some(p) if p == fingerprint => {
            return Decision::Accept {
                by: Pinned,
                pin: false,
            };
        }
        Some(p) => {
            return Decision::Changed {
                pinned: p.to_owned(),
            };
        }
        None => {}
    }
    match authority() {
        Authority::Valid => Decision::Accept {
            by: ByAuthority,
            pin: false,
        },
        _ if known_elsewhere => Decision::Accept {
            by: Pinned,
            pin: true,
        },
        Authority::NotSigned => Decision::Unknown,
        Authority::Invalid(why) => Decision::Invalid(why),
    }
}

/// A rustls error about a certificate, in words a user can act on.
fn authority_of(result: Result<ServerCertVerified, rustls::Error>) -> Authority {
    let error = match result {
        Ok(_) => return Authority::Valid,
        Err(rustls::Error::InvalidCertificate(e)) => e,
        Err(other) => return Authority::Invalid(other.to_string()),
    };
    let why = match error {
        CertificateError::UnknownIssuer => return Authority::NotSigned,
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "its certificate is for another host name".to_owned()
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "its certificate has expired".to_owned()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "its certificate is not valid yet (check this computer's clock)".to_owned()
        }
        CertificateError::Revoked => "its certificate was revoked".to_owned(),
        other => format!("its certificate was refused ({other:?})"),
    };
    Authority::Invalid(why)
}

/// The verifier of one connection: it knows the address's pin, asks
/// [`decide`], and keeps the fingerprint and the decision for afterwards.
#[derive(Debug)]
pub(crate) struct PinningVerifier {
    pub(crate) pinned: Option<String>,
    pub(crate) known: KnownHosts,
    pub(crate) vouched: Vec<String>,
    pub(crate) authorities: Option<Arc<WebPkiServerVerifier>>,
    pub(crate) provider: Arc<CryptoProvider>,
    /// The fingerprint seen and what was decided.
    pub(crate) outcome: Mutex<Option<(String, Decision)>>,
}

impl PinningVerifier {
    pub(crate) fn outcome(&self) -> Option<(String, Decision)> {
        self.outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fingerprint = cert_fingerprint(end_entity);
        let decision = decide(
            &fingerprint,
            self.pinned.as_deref(),
            self.vouched.contains(&fingerprint),
            self.known.knows_fingerprint(&fingerprint),
            || match &self.authorities {
                Some(webpki) => authority_of(webpki.verify_server_cert(
                    end_entity,
                    intermediates,
                    server_name,
                    ocsp_response,
                    now,
                )),
                None => Authority::NotSigned,
            },
        );
        let accepted = matches!(decision, Decision::Accept { .. });
        *self.outcome.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((fingerprint, decision));
        if accepted {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::super::Verified::{Authority as ByAuthority, Pinned};
    use super::*;

    const FP: &str = "SHA256:aa";
    const OTHER: &str = "SHA256:bb";

    fn never() -> Authority {
        panic!("the authorities are not asked")
    }

    #[test]
    fn a_pinned_address_must_show_its_pin_whatever_an_authority_says() {
        assert_eq!(
            decide(FP, Some(FP), false, true, never),
            Decision::Accept {
                by: Pinned,
                pin: false
            }
        );
        assert_eq!(
            decide(FP, Some(OTHER), false, true, never),
            Decision::Changed {
                pinned: OTHER.into()
            }
        );
    }

    #[test]
    fn a_vouched_fingerprint_is_accepted_and_pinned_even_over_an_old_pin() {
        assert_eq!(
            decide(FP, Some(OTHER), true, false, never),
            Decision::Accept {
                by: Pinned,
                pin: true
            }
        );
        assert_eq!(
            decide(FP, Some(FP), true, false, never),
            Decision::Accept {
                by: Pinned,
                pin: false
            }
        );
    }

    #[test]
    fn an_unpinned_address_is_up_to_the_authorities_then_the_other_pins() {
        let valid = || Authority::Valid;
        let unsigned = || Authority::NotSigned;
        let expired = || Authority::Invalid("its certificate has expired".into());
        assert_eq!(
            decide(FP, None, false, false, valid),
            Decision::Accept {
                by: ByAuthority,
                pin: false
            }
        );
        assert_eq!(decide(FP, None, false, false, unsigned), Decision::Unknown);
        assert_eq!(
            decide(FP, None, false, false, expired),
            Decision::Invalid("its certificate has expired".into())
        );
        assert_eq!(
            decide(FP, None, false, true, unsigned),
            Decision::Accept {
                by: Pinned,
                pin: true
            },
            "the same server by another address"
        );
    }

    #[test]
    fn certificate_errors_read_as_reasons() {
        let refused = |e| authority_of(Err(rustls::Error::InvalidCertificate(e)));
        assert_eq!(
            refused(CertificateError::UnknownIssuer),
            Authority::NotSigned
        );
        assert_eq!(
            refused(CertificateError::Expired),
            Authority::Invalid("its certificate has expired".into())
        );
        assert_eq!(
            refused(CertificateError::NotValidForName),
            Authority::Invalid("its certificate is for another host name".into())
        );
    }
}

//! Attestation certificate chains (WebAuthn 8.2, `packed` with `x5c`; 8.6,
//! `fido-u2f`).
//!
//! What is checked: the statement's signature with the leaf certificate's
//! key, the leaf's FIDO AAGUID extension against the authenticator data,
//! that the leaf is not a CA, each certificate signed by the next, and the
//! last one signed by (or equal to) one of the org's trusted roots.
//! Signature algorithms: ECDSA with SHA-256/384 over P-256/P-384, and
//! RSA PKCS#1 v1.5 with SHA-256, which covers the attestation roots of the
//! common security key vendors. Validity periods are checked at the time
//! the caller passes (enrolment: the attestation was just made, so every
//! certificate of its path must be valid then; `admin attestation --now`
//! judges a recorded one as of another time). Revocation lists are not
//! fetched: FIDO's Metadata Service status reports stand in for them.

use der::{Decode, Encode};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use sha2::{Digest, Sha256, Sha384};
use x509_cert::Certificate;

use super::WebauthnError;

const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const RSA_SHA256: &str = "1.2.840.113549.1.1.11";
/// Only for TPM attestation statements (COSE -65535, "RS1"), which WebAuthn
/// allows and Windows' TPMs use; never for a certificate's signature.
const RSA_SHA1: &str = "1.2.840.113549.1.1.5";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const P256: &str = "1.2.840.10045.3.1.7";
const P384: &str = "1.3.132.0.34";
/// id-fido-gen-ce-aaguid.
const FIDO_AAGUID: &str = "1.3.6.1.4.1.45724.1.1.4";
const BASIC_CONSTRAINTS: &str = "2.5.29.19";
const SUBJECT_ALT_NAME: &str = "2.5.29.17";
const COMMON_NAME: &str = "2.5.4.3";

fn bad(message: impl Into<String>) -> WebauthnError {
    WebauthnError::Attestation(message.into())
}

/// A parsed certificate.
pub(crate) fn parse(der: &[u8]) -> Result<Certificate, WebauthnError> {
    Certificate::from_der(der).map_err(|e| bad(format!("an attestation certificate does not parse: {e}")))
}

/// Reads PEM or DER certificates (a file of trusted roots).
pub fn read_certificates(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let text = std::str::from_utf8(bytes)
        .ok()
        .filter(|t| t.contains("-----BEGIN"));
    let Some(text) = text else {
        parse(bytes).map_err(|e| e.to_string())?;
        return Ok(vec![bytes.to_vec()]);
    };
    let certs =
        Certificate::load_pem_chain(text.as_bytes()).map_err(|e| format!("not PEM certificates: {e}"))?;
    certs
        .iter()
        .map(|c| c.to_der().map_err(|e| e.to_string()))
        .collect()
}

/// The OID of a certificate's key algorithm, and of its curve for EC keys.
fn key_type(cert: &Certificate) -> (String, Option<String>) {
    let algorithm = &cert.tbs_certificate.subject_public_key_info.algorithm;
    let curve = algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
        .map(|o| o.to_string());
    (algorithm.oid.to_string(), curve)
}

/// Verifies `signature` over `message` with the key in `signer`'s
/// certificate, under signature algorithm `algorithm` (an OID).
fn verify_with(
    signer: &Certificate,
    algorithm: &str,
    message: &[u8],
    signature: &[u8],
) -> Result<(), WebauthnError> {
    let spki = &signer.tbs_certificate.subject_public_key_info;
    let key_bytes = spki.subject_public_key.raw_bytes();
    let (key_alg, curve) = key_type(signer);
    let prehash = match algorithm {
        ECDSA_SHA256 | RSA_SHA256 => Sha256::digest(message).to_vec(),
        RSA_SHA1 => sha1::Sha1::digest(message).to_vec(),
        ECDSA_SHA384 => Sha384::digest(message).to_vec(),
        other => {
            return Err(bad(format!(
                "unsupported certificate signature algorithm {other}"
            )));
        }
    };
    let ok = match (key_alg.as_str(), curve.as_deref(), algorithm) {
        (EC_PUBLIC_KEY, Some(P256), ECDSA_SHA256 | ECDSA_SHA384) => {
            let key =
                p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes).map_err(|e| bad(e.to_string()))?;
            p256::ecdsa::Signature::from_der(signature)
                .map(|s| key.verify_prehash(&prehash, &s).is_ok())
                .unwrap_or(false)
        }
        (EC_PUBLIC_KEY, Some(P384), ECDSA_SHA256 | ECDSA_SHA384) => {
            let key =
                p384::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes).map_err(|e| bad(e.to_string()))?;
            p384::ecdsa::Signature::from_der(signature)
                .map(|s| key.verify_prehash(&prehash, &s).is_ok())
                .unwrap_or(false)
        }
        (RSA_ENCRYPTION, _, RSA_SHA256 | RSA_SHA1) => {
            use rsa::pkcs1::DecodeRsaPublicKey;
            let key = rsa::RsaPublicKey::from_pkcs1_der(key_bytes).map_err(|e| bad(e.to_string()))?;
            let scheme = if algorithm == RSA_SHA1 {
                rsa::Pkcs1v15Sign::new::<sha1::Sha1>()
            } else {
                rsa::Pkcs1v15Sign::new::<Sha256>()
            };
            key.verify(scheme, &prehash, signature).is_ok()
        }
        (key, curve, alg) => {
            return Err(bad(format!(
                "unsupported key {key} ({}) for signature algorithm {alg}",
                curve.unwrap_or("no curve")
            )));
        }
    };
    if ok {
        Ok(())
    } else {
        Err(WebauthnError::BadSignature)
    }
}

/// Whether `issuer` signed `cert`.
fn signed_by(cert: &Certificate, issuer: &Certificate) -> Result<(), WebauthnError> {
    if cert.signature_algorithm.oid.to_string() == RSA_SHA1 {
        return Err(bad("a certificate signed with SHA-1 is not accepted"));
    }
    let tbs = cert.tbs_certificate.to_der().map_err(|e| bad(e.to_string()))?;
    let signature = cert
        .signature
        .as_bytes()
        .ok_or_else(|| bad("a certificate signature is not whole bytes"))?;
    verify_with(issuer, &cert.signature_algorithm.oid.to_string(), &tbs, signature)
}

/// The COSE algorithm of an attestation statement, as a signature OID.
fn statement_algorithm(alg: i64) -> Result<&'static str, WebauthnError> {
    Ok(match alg {
        -7 => ECDSA_SHA256,
        -35 => ECDSA_SHA384,
        -257 => RSA_SHA256,
        -65535 => RSA_SHA1,
        other => return Err(bad(format!("attestation algorithm {other} is not supported"))),
    })
}

/// Verifies an attestation statement's `signature` over `message` with
/// `signer`'s key, under the statement's COSE algorithm `alg`.
pub(crate) fn verify_statement(
    signer: &Certificate,
    alg: i64,
    message: &[u8],
    signature: &[u8],
) -> Result<(), WebauthnError> {
    if alg == -65535 {
        // RS1 is for TPM statements only; `tpm` calls `verify_tpm_statement`.
        return Err(bad(
            "attestation algorithm -65535 (RS1) is accepted for `tpm` only",
        ));
    }
    verify_with(signer, statement_algorithm(alg)?, message, signature)
        .map_err(|_| bad("the attestation signature does not verify with the attestation certificate"))
}

/// The same for a TPM's statement, where RS1 (SHA-1) is allowed.
pub(crate) fn verify_tpm_statement(
    signer: &Certificate,
    alg: i64,
    message: &[u8],
    signature: &[u8],
) -> Result<(), WebauthnError> {
    verify_with(signer, statement_algorithm(alg)?, message, signature)
        .map_err(|_| bad("the TPM's attestation signature does not verify with its AIK certificate"))
}

/// The value (inner bytes) of `cert`'s extension `oid`, if it has one.
pub(crate) fn extension<'a>(cert: &'a Certificate, oid: &str) -> Option<&'a [u8]> {
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id.to_string() == oid)
        .map(|e| e.extn_value.as_bytes())
}

/// What every attestation certificate must be: no CA, and, if it names an
/// AAGUID (FIDO's extension), the one of the authenticator data. Answers
/// whether it names it: only then does a chain prove the model.
pub(crate) fn check_leaf(leaf: &Certificate, aaguid: &[u8; 16]) -> Result<bool, WebauthnError> {
    if is_ca(leaf) {
        return Err(bad("the attestation certificate is a CA certificate"));
    }
    let Some(value) = extension(leaf, FIDO_AAGUID) else {
        return Ok(false);
    };
    // An OCTET STRING wrapping the 16 bytes.
    let inner = der::asn1::OctetString::from_der(value).map_err(|e| bad(format!("AAGUID extension: {e}")))?;
    if inner.as_bytes() != aaguid {
        return Err(bad(
            "the attestation certificate is for another authenticator model (AAGUID)",
        ));
    }
    Ok(true)
}

/// Whether `cert`'s public key is the credential's key `key`.
pub(crate) fn has_key(cert: &Certificate, key: &super::CoseKey) -> bool {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let bytes = spki.subject_public_key.raw_bytes();
    match key {
        super::CoseKey::Es256(key) => {
            key_type(cert) == (EC_PUBLIC_KEY.to_owned(), Some(P256.to_owned()))
                && bytes == key.to_encoded_point(false).as_bytes()
        }
        super::CoseKey::Rs256(key) => {
            use rsa::pkcs1::DecodeRsaPublicKey;
            key_type(cert).0 == RSA_ENCRYPTION
                && rsa::RsaPublicKey::from_pkcs1_der(bytes).is_ok_and(|k| &k == key.as_ref())
        }
        super::CoseKey::EdDsa(_) => false,
    }
}

/// Checks a `packed` statement made with the leaf of `x5c`: the signature
/// over `message` (authData || clientDataHash), the AAGUID extension, and
/// the leaf not being a CA. `alg` is the statement's COSE algorithm.
/// Answers whether the leaf names the AAGUID (FIDO's
/// id-fido-gen-ce-aaguid): only then does a chain prove the model, not
/// just "a device under this root".
pub(crate) fn verify_leaf(
    x5c: &[Vec<u8>],
    alg: i64,
    message: &[u8],
    signature: &[u8],
    aaguid: &[u8; 16],
) -> Result<bool, WebauthnError> {
    let leaf = parse(x5c.first().ok_or_else(|| bad("`x5c` is empty"))?)?;
    verify_statement(&leaf, alg, message, signature)?;
    check_leaf(&leaf, aaguid)
}

/// Checks a `fido-u2f` statement: `signature` over `message` with the
/// P-256 key of the attestation certificate, which must not be a CA.
pub(crate) fn verify_u2f(certificate: &[u8], message: &[u8], signature: &[u8]) -> Result<(), WebauthnError> {
    let leaf = parse(certificate)?;
    let (key_alg, curve) = key_type(&leaf);
    if key_alg != EC_PUBLIC_KEY || curve.as_deref() != Some(P256) {
        return Err(bad("a fido-u2f attestation certificate must have a P-256 key"));
    }
    if is_ca(&leaf) {
        return Err(bad("the attestation certificate is a CA certificate"));
    }
    verify_with(&leaf, ECDSA_SHA256, message, signature)
        .map_err(|_| bad("the fido-u2f attestation signature does not verify with its certificate"))
}

/// Whether `cert` says it is a CA (basic constraints `cA`): only a CA may
/// issue the next certificate down a chain.
fn is_ca(cert: &Certificate) -> bool {
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id.to_string() == BASIC_CONSTRAINTS)
        .any(|e| {
            x509_cert::ext::pkix::BasicConstraints::from_der(e.extn_value.as_bytes()).is_ok_and(|c| c.ca)
        })
}

/// Checks that `cert` is valid at `now` (unix seconds).
fn valid_at(cert: &Certificate, now: i64, role: &str) -> Result<(), WebauthnError> {
    let validity = &cert.tbs_certificate.validity;
    let seconds =
        |t: x509_cert::time::Time| i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
    let (from, until) = (seconds(validity.not_before), seconds(validity.not_after));
    let date = |s: i64| tapprove_proto::UtcTime::from_unix(s).to_string();
    if now < from {
        return Err(bad(format!(
            "the {role} ({}) is not valid before {}: check this computer's clock",
            cert.tbs_certificate.subject,
            date(from)
        )));
    }
    if now > until {
        return Err(bad(format!(
            "the {role} ({}) expired on {}",
            cert.tbs_certificate.subject,
            date(until)
        )));
    }
    Ok(())
}

/// Checks that `x5c` chains to one of `roots` (DER certificates) and that
/// every certificate of the path, the root included, is valid at `now`
/// (unix seconds): each certificate signed by the next, every issuer in
/// the chain a CA.
pub(crate) fn chains_to(x5c: &[Vec<u8>], roots: &[Vec<u8>], now: i64) -> Result<(), WebauthnError> {
    let chain = x5c.iter().map(|c| parse(c)).collect::<Result<Vec<_>, _>>()?;
    for (i, cert) in chain.iter().enumerate() {
        valid_at(
            cert,
            now,
            if i == 0 {
                "signing certificate"
            } else {
                "intermediate certificate"
            },
        )?;
    }
    for pair in chain.windows(2) {
        if !is_ca(&pair[1]) {
            return Err(bad(
                "the attestation chain has an issuer that is not a CA certificate",
            ));
        }
        signed_by(&pair[0], &pair[1]).map_err(|_| bad("the attestation chain is broken"))?;
    }
    let last = chain.last().ok_or_else(|| bad("`x5c` is empty"))?;
    let last_der = x5c.last().map(Vec::as_slice).unwrap_or_default();
    for root in roots {
        if root.as_slice() == last_der {
            return Ok(());
        }
        let root = parse(root)?;
        if root.tbs_certificate.subject == last.tbs_certificate.issuer && signed_by(last, &root).is_ok() {
            if !is_ca(&root) {
                return Err(bad(
                    "the trusted root that signed the chain is not a CA certificate",
                ));
            }
            return valid_at(&root, now, "root certificate");
        }
    }
    Err(bad(
        "the attestation does not chain to a root the org trusts: use an authenticator model the org allows",
    ))
}

/// Verifies a JWS signature (RFC 7515) made with `signer`'s key: `RS256`,
/// `ES256` or `ES384` (ECDSA signatures as JWS writes them, `r || s`).
pub(crate) fn verify_jws(
    signer: &[u8],
    alg: &str,
    message: &[u8],
    signature: &[u8],
) -> Result<(), WebauthnError> {
    let signer = parse(signer)?;
    match alg {
        "RS256" => verify_with(&signer, RSA_SHA256, message, signature),
        "ES256" | "ES384" => {
            // The DER form of the same (r, s), which `verify_with` reads.
            let der = match alg {
                "ES256" => {
                    p256::ecdsa::Signature::from_slice(signature).map(|s| s.to_der().as_bytes().to_vec())
                }
                _ => p384::ecdsa::Signature::from_slice(signature).map(|s| s.to_der().as_bytes().to_vec()),
            }
            .map_err(|_| WebauthnError::BadSignature)?;
            let oid = if alg == "ES256" {
                ECDSA_SHA256
            } else {
                ECDSA_SHA384
            };
            verify_with(&signer, oid, message, &der)
        }
        other => Err(bad(format!(
            "JWS algorithm `{other}` is not supported (RS256, ES256, ES384 are)"
        ))),
    }
}

/// Whether `cert` (DER) is an end-entity certificate issued to `name`: not
/// a CA, and `name` exactly among its DNS subject alternative names or as
/// its subject's common name. Answers the names it does carry otherwise.
pub(crate) fn issued_to(cert: &[u8], name: &str) -> Result<(), String> {
    let cert = parse(cert).map_err(|e| e.to_string())?;
    if is_ca(&cert) {
        return Err("a CA certificate".into());
    }
    let mut names = Vec::new();
    if let Some(value) = extension(&cert, SUBJECT_ALT_NAME) {
        let san = x509_cert::ext::pkix::SubjectAltName::from_der(value).map_err(|e| e.to_string())?;
        for general in san.0 {
            if let x509_cert::ext::pkix::name::GeneralName::DnsName(dns) = general {
                names.push(dns.as_str().to_owned());
            }
        }
    }
    for rdn in cert.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter() {
            if atv.oid.to_string() != COMMON_NAME {
                continue;
            }
            let text = atv
                .value
                .decode_as::<der::asn1::Utf8StringRef<'_>>()
                .map(|s| s.as_str().to_owned())
                .or_else(|_| {
                    atv.value
                        .decode_as::<der::asn1::PrintableStringRef<'_>>()
                        .map(|s| s.as_str().to_owned())
                });
            if let Ok(text) = text {
                names.push(text);
            }
        }
    }
    if names.iter().any(|n| n == name) {
        Ok(())
    } else {
        Err(format!(
            "issued to {}",
            if names.is_empty() {
                "no name".to_owned()
            } else {
                names.join(", ")
            }
        ))
    }
}

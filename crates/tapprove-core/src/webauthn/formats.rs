//! The attestation formats of platforms (W3C WebAuthn Level 3, section 8):
//! `tpm` (Windows Hello on a TPM, 8.3), `android-key` (8.4) and `apple`
//! (8.8). Each checks the statement the way the specification lists, and
//! answers what `packed` with a certificate does: the certificate chain,
//! whose end [`super::AttestationFormat::chains_to`] judges, and whether
//! its leaf names the model.

use ciborium::Value;
use der::Decode;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::x509;
use super::{AttestationFormat, AttestationObject, CoseKey, WebauthnError};

fn bad(message: impl Into<String>) -> WebauthnError {
    WebauthnError::Attestation(message.into())
}

impl AttestationObject {
    /// The statement's `x5c`, leaf first.
    pub(crate) fn x5c(&self) -> Result<Vec<Vec<u8>>, WebauthnError> {
        let Some(Value::Array(certs)) = self.member("x5c") else {
            return Err(bad(format!("{}: `x5c` is missing or not an array", self.format)));
        };
        let x5c = certs
            .iter()
            .map(|c| match c {
                Value::Bytes(b) => Ok(b.clone()),
                _ => Err(bad("an `x5c` entry is not bytes")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if x5c.is_empty() {
            return Err(bad(format!("{}: `x5c` is empty", self.format)));
        }
        Ok(x5c)
    }

    fn bytes_member(&self, name: &str) -> Result<&[u8], WebauthnError> {
        match self.member(name) {
            Some(Value::Bytes(b)) => Ok(b),
            _ => Err(bad(format!("{} statement has no `{name}` bytes", self.format))),
        }
    }

    fn alg_member(&self) -> Result<i64, WebauthnError> {
        match self.member("alg") {
            Some(Value::Integer(i)) => {
                i64::try_from(i128::from(*i)).map_err(|_| bad("`alg` is out of range"))
            }
            _ => Err(bad(format!("{} statement has no `alg`", self.format))),
        }
    }

    fn aaguid(&self) -> [u8; 16] {
        self.auth_data
            .attested_credential
            .as_ref()
            .map(|c| c.aaguid.0)
            .unwrap_or_default()
    }

    fn signed_data(&self, client_data_hash: &[u8; 32]) -> Vec<u8> {
        let mut message = self.auth_data_bytes.clone();
        message.extend_from_slice(client_data_hash);
        message
    }

    /// 8.8: Apple's anonymous attestation. The nonce, SHA-256 of authData
    /// || clientDataHash, is in the credential certificate's extension
    /// 1.2.840.113635.100.8.2, whose key is the credential's.
    pub(crate) fn verify_apple(
        &self,
        client_data_hash: &[u8; 32],
    ) -> Result<AttestationFormat, WebauthnError> {
        let x5c = self.x5c()?;
        let leaf = x509::parse(&x5c[0])?;
        let nonce = Sha256::digest(self.signed_data(client_data_hash));
        let value = x509::extension(&leaf, APPLE_NONCE)
            .ok_or_else(|| bad("apple: the credential certificate has no nonce extension"))?;
        // SEQUENCE { [1] EXPLICIT OCTET STRING nonce }
        let sequence = Tlv::read(value)?.expect(UNIVERSAL, 16)?;
        let tagged = Tlv::read(sequence.value)?.expect(CONTEXT, 1)?;
        let octets = Tlv::read(tagged.value)?.expect(UNIVERSAL, 4)?;
        if octets.value != &nonce[..] {
            return Err(bad("apple: the certificate's nonce is not this registration's"));
        }
        if !x509::has_key(&leaf, &self.credential_key()?) {
            return Err(bad("apple: the certificate's key is not the credential's"));
        }
        let names_aaguid = x509::check_leaf(&leaf, &self.aaguid())?;
        Ok(AttestationFormat::Certified { x5c, names_aaguid })
    }

    /// 8.4: an Android Keystore key. The credential certificate signs
    /// authData || clientDataHash, holds the credential's key, and its key
    /// description names clientDataHash as the challenge; the key was
    /// generated in the TEE or StrongBox (not imported) for signing, and is
    /// not shared by all applications.
    pub(crate) fn verify_android_key(
        &self,
        client_data_hash: &[u8; 32],
    ) -> Result<AttestationFormat, WebauthnError> {
        let x5c = self.x5c()?;
        let leaf = x509::parse(&x5c[0])?;
        let alg = self.alg_member()?;
        let sig = self.bytes_member("sig")?;
        x509::verify_statement(&leaf, alg, &self.signed_data(client_data_hash), sig)?;
        if !x509::has_key(&leaf, &self.credential_key()?) {
            return Err(bad("android-key: the certificate's key is not the credential's"));
        }
        let value = x509::extension(&leaf, ANDROID_KEY_DESCRIPTION)
            .ok_or_else(|| bad("android-key: the certificate has no key description"))?;
        let description = Tlv::read(value)?.expect(UNIVERSAL, 16)?;
        let fields = Tlv::all(description.value)?;
        let [
            _version,
            level,
            _km_version,
            km_level,
            challenge,
            _unique,
            software,
            tee,
            ..,
        ] = fields.as_slice()
        else {
            return Err(bad("android-key: the key description is incomplete"));
        };
        // Attested by the TEE (1) or StrongBox (2), not by Android's
        // software keystore (0).
        for level in [level, km_level] {
            if !matches!(level.expect(UNIVERSAL, 10)?.value, [1] | [2]) {
                return Err(bad(
                    "android-key: the key was not attested by the device's secure hardware",
                ));
            }
        }
        if challenge.expect(UNIVERSAL, 4)?.value != client_data_hash {
            return Err(bad("android-key: the key was attested for another challenge"));
        }
        let software = Tlv::all(software.expect(UNIVERSAL, 16)?.value)?;
        let tee = Tlv::all(tee.expect(UNIVERSAL, 16)?.value)?;
        fn find<'a>(list: &[Tlv<'a>], tag: u32) -> Option<Tlv<'a>> {
            list.iter()
                .find(|t| t.class == CONTEXT && t.number == tag)
                .copied()
        }
        if find(&software, ALL_APPLICATIONS).is_some() || find(&tee, ALL_APPLICATIONS).is_some() {
            return Err(bad(
                "android-key: the key is shared by all applications on the device",
            ));
        }
        // Only what the secure hardware enforces counts.
        let origin = find(&tee, ORIGIN)
            .map(|t| {
                Tlv::read(t.value)
                    .and_then(|i| i.expect(UNIVERSAL, 2))
                    .map(|i| i.value.to_vec())
            })
            .transpose()?;
        if origin.as_deref() != Some(&[KM_ORIGIN_GENERATED]) {
            return Err(bad(
                "android-key: the key was not generated in the device's secure hardware",
            ));
        }
        let purposes = find(&tee, PURPOSE)
            .map(|t| {
                let set = Tlv::read(t.value)?.expect(UNIVERSAL, 17)?;
                Tlv::all(set.value)
            })
            .transpose()?
            .unwrap_or_default();
        if !purposes
            .iter()
            .any(|p| p.class == UNIVERSAL && p.number == 2 && p.value == [KM_PURPOSE_SIGN])
        {
            return Err(bad(
                "android-key: the secure hardware does not restrict the key to signing",
            ));
        }
        let names_aaguid = x509::check_leaf(&leaf, &self.aaguid())?;
        Ok(AttestationFormat::Certified { x5c, names_aaguid })
    }

    /// 8.3: a TPM 2.0 key. The AIK certificate signs `certInfo` (a
    /// TPMS_ATTEST of type certify) whose `extraData` is the hash of
    /// authData || clientDataHash and whose attested name is the hash of
    /// `pubArea`, which holds the credential's key. The AIK certificate has
    /// an empty subject, a subject alternative name and the TCG's AIK key
    /// purpose.
    pub(crate) fn verify_tpm(&self, client_data_hash: &[u8; 32]) -> Result<AttestationFormat, WebauthnError> {
        if !matches!(self.member("ver"), Some(Value::Text(v)) if v == "2.0") {
            return Err(bad("tpm: only TPM 2.0 statements (`ver` \"2.0\") are accepted"));
        }
        let x5c = self.x5c()?;
        let aik = x509::parse(&x5c[0])?;
        let alg = self.alg_member()?;
        let sig = self.bytes_member("sig")?;
        let cert_info = self.bytes_member("certInfo")?;
        let pub_area = self.bytes_member("pubArea")?;
        let public = TpmPublic::parse(pub_area)?;
        // The key was made inside this TPM and cannot leave it: fixedTPM,
        // fixedParent, sensitiveDataOrigin (TPM 2.0 Part 2, TPMA_OBJECT).
        if public.attributes & TPMA_OBJECT_MADE_INSIDE != TPMA_OBJECT_MADE_INSIDE {
            return Err(bad(
                "tpm: the key was not made inside the TPM, or can leave it (objectAttributes)",
            ));
        }
        if !public.is_key(&self.credential_key()?) {
            return Err(bad("tpm: pubArea holds another key than the credential's"));
        }
        let attest = TpmAttest::parse(cert_info)?;
        let to_be_signed = self.signed_data(client_data_hash);
        let expected = match alg {
            -65535 => sha1::Sha1::digest(&to_be_signed).to_vec(),
            -7 | -257 => Sha256::digest(&to_be_signed).to_vec(),
            -35 => Sha384::digest(&to_be_signed).to_vec(),
            other => {
                return Err(bad(format!(
                    "tpm: attestation algorithm {other} is not supported"
                )));
            }
        };
        if attest.extra_data != expected {
            return Err(bad("tpm: certInfo was made for another registration (extraData)"));
        }
        let mut name = public.name_alg.to_be_bytes().to_vec();
        name.extend_from_slice(&hash_for(public.name_alg, pub_area)?);
        if attest.name != name {
            return Err(bad("tpm: certInfo attests another key than pubArea"));
        }
        x509::verify_tpm_statement(&aik, alg, cert_info, sig)?;
        let tbs = &aik.tbs_certificate;
        if tbs.version != x509_cert::Version::V3 {
            return Err(bad("tpm: the AIK certificate is not X.509 version 3"));
        }
        if !tbs.subject.0.is_empty() {
            return Err(bad("tpm: the AIK certificate's subject must be empty"));
        }
        if x509::extension(&aik, SUBJECT_ALT_NAME).is_none() {
            return Err(bad(
                "tpm: the AIK certificate names no TPM (subject alternative name)",
            ));
        }
        let eku = x509::extension(&aik, EXTENDED_KEY_USAGE)
            .map(x509_cert::ext::pkix::ExtendedKeyUsage::from_der)
            .transpose()
            .map_err(|e| bad(format!("tpm: extended key usage: {e}")))?;
        if !eku.is_some_and(|eku| eku.0.iter().any(|oid| oid.to_string() == TCG_KP_AIK_CERTIFICATE)) {
            return Err(bad(
                "tpm: the AIK certificate is not for attestation keys (tcg-kp-AIKCertificate)",
            ));
        }
        let names_aaguid = x509::check_leaf(&aik, &self.aaguid())?;
        Ok(AttestationFormat::Certified { x5c, names_aaguid })
    }
}

const APPLE_NONCE: &str = "1.2.840.113635.100.8.2";
const ANDROID_KEY_DESCRIPTION: &str = "1.3.6.1.4.1.11129.2.1.17";
const SUBJECT_ALT_NAME: &str = "2.5.29.17";
const EXTENDED_KEY_USAGE: &str = "2.5.29.37";
const TCG_KP_AIK_CERTIFICATE: &str = "2.23.133.8.3";
/// Android's AuthorizationList tags.
const PURPOSE: u32 = 1;
const ALL_APPLICATIONS: u32 = 600;
const ORIGIN: u32 = 702;
const KM_ORIGIN_GENERATED: u8 = 0;
const KM_PURPOSE_SIGN: u8 = 2;

const UNIVERSAL: u8 = 0;
const CONTEXT: u8 = 2;

/// One DER element: Android's key description uses tag numbers above 30,
/// which the `der` crate does not read, so this walks the bytes itself.
#[derive(Debug, Clone, Copy)]
struct Tlv<'a> {
    class: u8,
    number: u32,
    value: &'a [u8],
    rest: &'a [u8],
}

impl<'a> Tlv<'a> {
    fn read(bytes: &'a [u8]) -> Result<Self, WebauthnError> {
        let malformed = || bad("malformed DER in an attestation extension");
        let (&first, mut rest) = bytes.split_first().ok_or_else(malformed)?;
        let mut number = u32::from(first & 0x1f);
        if number == 0x1f {
            number = 0;
            loop {
                let (&b, tail) = rest.split_first().ok_or_else(malformed)?;
                rest = tail;
                number = number.checked_mul(128).ok_or_else(malformed)? | u32::from(b & 0x7f);
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        let (&len, tail) = rest.split_first().ok_or_else(malformed)?;
        rest = tail;
        let len = if len < 0x80 {
            usize::from(len)
        } else {
            let count = usize::from(len & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return Err(malformed());
            }
            let (digits, tail) = rest.split_at(count);
            rest = tail;
            digits.iter().fold(0usize, |n, d| (n << 8) | usize::from(*d))
        };
        if rest.len() < len {
            return Err(malformed());
        }
        let (value, rest) = rest.split_at(len);
        Ok(Self {
            class: first >> 6,
            number,
            value,
            rest,
        })
    }

    /// Every element of a constructed value, in order.
    fn all(mut bytes: &'a [u8]) -> Result<Vec<Self>, WebauthnError> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let tlv = Self::read(bytes)?;
            bytes = tlv.rest;
            out.push(tlv);
        }
        Ok(out)
    }

    fn expect(self, class: u8, number: u32) -> Result<Self, WebauthnError> {
        if self.class == class && self.number == number {
            Ok(self)
        } else {
            Err(bad("unexpected DER element in an attestation extension"))
        }
    }
}

/// Reads TPM's big-endian structures.
struct TpmReader<'a>(&'a [u8]);

impl<'a> TpmReader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], WebauthnError> {
        if self.0.len() < n {
            return Err(bad(format!("tpm: {what} is cut short")));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u16(&mut self, what: &str) -> Result<u16, WebauthnError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, WebauthnError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A TPM2B: a 16-bit length, then that many bytes.
    fn sized(&mut self, what: &str) -> Result<&'a [u8], WebauthnError> {
        let n = self.u16(what)?;
        self.take(usize::from(n), what)
    }
}

const TPM_ALG_RSA: u16 = 0x0001;
const TPM_ALG_SHA1: u16 = 0x0004;
const TPM_ALG_SHA256: u16 = 0x000b;
const TPM_ALG_SHA384: u16 = 0x000c;
const TPM_ALG_SHA512: u16 = 0x000d;
const TPM_ALG_NULL: u16 = 0x0010;
const TPM_ALG_ECC: u16 = 0x0023;
const TPM_ECC_NIST_P256: u16 = 0x0003;
const TPM_GENERATED_VALUE: u32 = 0xff54_4347;
/// fixedTPM (bit 1), fixedParent (bit 4), sensitiveDataOrigin (bit 5).
const TPMA_OBJECT_MADE_INSIDE: u32 = 0x0000_0002 | 0x0000_0010 | 0x0000_0020;
const TPM_ST_ATTEST_CERTIFY: u16 = 0x8017;

fn hash_for(alg: u16, data: &[u8]) -> Result<Vec<u8>, WebauthnError> {
    Ok(match alg {
        TPM_ALG_SHA1 => sha1::Sha1::digest(data).to_vec(),
        TPM_ALG_SHA256 => Sha256::digest(data).to_vec(),
        TPM_ALG_SHA384 => Sha384::digest(data).to_vec(),
        TPM_ALG_SHA512 => Sha512::digest(data).to_vec(),
        other => return Err(bad(format!("tpm: name algorithm {other:#06x} is not supported"))),
    })
}

/// The key of a TPMT_PUBLIC (`pubArea`).
#[derive(Debug)]
enum TpmKey<'a> {
    Rsa { modulus: &'a [u8], exponent: u32 },
    Ecc { curve: u16, x: &'a [u8], y: &'a [u8] },
}

#[derive(Debug)]
struct TpmPublic<'a> {
    name_alg: u16,
    attributes: u32,
    key: TpmKey<'a>,
}

impl<'a> TpmPublic<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, WebauthnError> {
        let mut r = TpmReader(bytes);
        let kind = r.u16("pubArea.type")?;
        let name_alg = r.u16("pubArea.nameAlg")?;
        let attributes = r.u32("pubArea.objectAttributes")?;
        r.sized("pubArea.authPolicy")?;
        // TPMT_SYM_DEF_OBJECT, then the signing scheme: NULL, or an
        // algorithm with its details.
        if r.u16("pubArea.symmetric")? != TPM_ALG_NULL {
            r.take(4, "pubArea.symmetric")?;
        }
        if r.u16("pubArea.scheme")? != TPM_ALG_NULL {
            r.u16("pubArea.scheme")?;
        }
        let key = match kind {
            TPM_ALG_RSA => {
                r.u16("pubArea.keyBits")?;
                let exponent = r.u32("pubArea.exponent")?;
                TpmKey::Rsa {
                    exponent: if exponent == 0 { 65537 } else { exponent },
                    modulus: r.sized("pubArea.unique")?,
                }
            }
            TPM_ALG_ECC => {
                let curve = r.u16("pubArea.curveID")?;
                if r.u16("pubArea.kdf")? != TPM_ALG_NULL {
                    r.u16("pubArea.kdf")?;
                }
                TpmKey::Ecc {
                    curve,
                    x: r.sized("pubArea.unique.x")?,
                    y: r.sized("pubArea.unique.y")?,
                }
            }
            other => return Err(bad(format!("tpm: key type {other:#06x} is not supported"))),
        };
        Ok(Self {
            name_alg,
            attributes,
            key,
        })
    }

    fn is_key(&self, key: &CoseKey) -> bool {
        match (&self.key, key) {
            (TpmKey::Rsa { modulus, exponent }, CoseKey::Rs256(key)) => {
                use rsa::traits::PublicKeyParts;
                key.n().to_bytes_be() == *modulus
                    && key.e().to_bytes_be()
                        == exponent.to_be_bytes()[exponent.leading_zeros() as usize / 8..]
            }
            (TpmKey::Ecc { curve, x, y }, CoseKey::Es256(key)) => {
                let point = key.to_encoded_point(false);
                *curve == TPM_ECC_NIST_P256
                    && point.x().is_some_and(|px| &px[..] == *x)
                    && point.y().is_some_and(|py| &py[..] == *y)
            }
            _ => false,
        }
    }
}

/// The parts of a TPMS_ATTEST (`certInfo`) the check reads.
#[derive(Debug)]
struct TpmAttest<'a> {
    extra_data: &'a [u8],
    name: &'a [u8],
}

impl<'a> TpmAttest<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, WebauthnError> {
        let mut r = TpmReader(bytes);
        if r.u32("certInfo.magic")? != TPM_GENERATED_VALUE {
            return Err(bad("tpm: certInfo was not made by a TPM (magic)"));
        }
        if r.u16("certInfo.type")? != TPM_ST_ATTEST_CERTIFY {
            return Err(bad("tpm: certInfo is not a certification"));
        }
        r.sized("certInfo.qualifiedSigner")?;
        let extra_data = r.sized("certInfo.extraData")?;
        r.take(17, "certInfo.clockInfo")?;
        r.take(8, "certInfo.firmwareVersion")?;
        let name = r.sized("certInfo.attested.name")?;
        r.sized("certInfo.attested.qualifiedName")?;
        Ok(Self { extra_data, name })
    }
}

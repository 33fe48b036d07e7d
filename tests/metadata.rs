//! FIDO's Metadata Service as Tapprove trusts it: a BLOB counts only once
//! its signature chain to FIDO's root verified (the real one, FIDO's
//! production BLOB of 2024-12-02, and BLOBs the tests sign under a test
//! root); a model is proven by a chain to the roots FIDO lists for it,
//! judged at a given time; a model FIDO reports untrustworthy does not
//! enrol. Registrations from real authenticators (published by
//! py_webauthn and java-webauthn-server, `tests/vectors/real/`) are judged
//! against the real BLOB.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tapprove_core::VerifierPolicy;
use tapprove_core::enrolment::{EnrolmentError, Judged, check_new_credential};
use tapprove_core::metadata::{BlobTrust, MetadataError, is_stale, verify_blob};
use tapprove_proto::metadata::{CertificationLevel, MetadataFile};
use tapprove_proto::registry::TrustPath;
use tapprove_proto::{Aaguid, UtcTime};
use tapprove_test_support::forged::{certified, yubikey_5};
use tapprove_test_support::mds::{blob, entry, fixture};
use tapprove_test_support::{repo_root, t};

/// When the real BLOB was downloaded; its signing certificate was valid
/// from 2024-06-26 to 2025-07-28.
const BLOB_DAY: &str = "2024-12-02T00:00:00Z";
const NOW: &str = "2026-12-01T00:00:00Z";
const RP_ID: &str = "example.com";

fn real(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("tests/vectors/real").join(name)).unwrap()
}

fn real_blob() -> MetadataFile {
    verify_blob(&real("mds3-blob.jwt"), &BlobTrust::fido(), &t(BLOB_DAY)).unwrap()
}

fn test_root() -> BlobTrust {
    BlobTrust::roots(vec![fixture("fido-root.der")])
}

fn attestation_fixture(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("tests/vectors/attestation").join(name)).unwrap()
}

#[test]
fn fidos_real_blob_verifies_to_fidos_root_and_lists_the_models() {
    let file = real_blob();
    assert_eq!(file.blob_no, 121);
    assert_eq!(file.next_update, "2025-01-01");
    // 280 entries: 188 FIDO2 models with an AAGUID, 92 U2F and UAF.
    assert_eq!(file.models.len(), 188);
    assert_eq!(file.skipped_entries, 92);
    let yubikey = file
        .model(&Aaguid::parse("fa2b99dc-9e39-4257-8f92-4a30d23c4118").unwrap())
        .expect("YubiKey 5 NFC is listed");
    assert!(
        yubikey.description.contains("YubiKey 5"),
        "{}",
        yubikey.description
    );
    assert!(yubikey.distrust.is_none());
    assert!(
        yubikey.certification_level >= Some(CertificationLevel::L1),
        "{yubikey:?}"
    );
    let yubico_root =
        tapprove_core::webauthn::read_certificates(&real("yubico-u2f-root-ca-serial-457200631.pem")).unwrap();
    assert!(
        yubikey
            .attestation_roots
            .iter()
            .any(|r| r.as_bytes() == yubico_root[0])
    );
    let hello = file
        .model(&Aaguid::parse("08987058-cadc-4b81-b6e1-30de50dcbe96").unwrap())
        .expect("Windows Hello is listed");
    let microsoft =
        tapprove_core::webauthn::read_certificates(&real("microsoft-tpm-root-ca-2014.pem")).unwrap();
    assert!(
        hello
            .attestation_roots
            .iter()
            .any(|r| r.as_bytes() == microsoft[0])
    );
    // It was FIDO's current BLOB until 2025-01-01.
    assert!(!is_stale(&file, &t(BLOB_DAY)));
    assert!(is_stale(&file, &t("2025-01-02T00:00:00Z")));
}

#[test]
fn fidos_real_blob_is_refused_once_its_signing_certificate_expired_or_if_one_byte_changed() {
    let bytes = real("mds3-blob.jwt");
    let e = verify_blob(&bytes, &BlobTrust::fido(), &t(NOW)).unwrap_err();
    assert!(matches!(e, MetadataError::Untrusted(_)), "{e}");
    assert!(e.to_string().contains("expired"), "{e}");
    // One character of the payload changed: FIDO's signature no longer holds.
    let text = String::from_utf8(bytes).unwrap();
    let dot = text.find('.').unwrap();
    let mut edited = text.into_bytes();
    let i = dot + 1000;
    edited[i] = if edited[i] == b'A' { b'B' } else { b'A' };
    let e = verify_blob(&edited, &BlobTrust::fido(), &t(BLOB_DAY)).unwrap_err();
    assert_eq!(e, MetadataError::BadSignature);
    // Under another root than FIDO's, it is nobody's.
    let e = verify_blob(&real("mds3-blob.jwt"), &test_root(), &t(BLOB_DAY)).unwrap_err();
    assert!(matches!(e, MetadataError::Untrusted(_)), "{e}");
}

#[test]
fn under_a_public_root_only_the_certificate_issued_to_fidos_service_signs_a_blob() {
    // GlobalSign's root issues certificates to anyone's web site: a BLOB
    // signed under it by another name than mds.fidoalliance.org is no
    // BLOB of FIDO's. (The test signer is issued to `mds.test`.)
    let good = blob(3, "2027-01-01", vec![], "signer");
    let impostor = BlobTrust {
        roots: vec![fixture("fido-root.der")],
        signer: Some(tapprove_core::metadata::FIDO_MDS_SIGNER.to_owned()),
    };
    let e = verify_blob(good.as_bytes(), &impostor, &t(NOW)).unwrap_err();
    assert!(matches!(e, MetadataError::Untrusted(_)), "{e}");
    assert!(
        e.to_string().contains("mds.test"),
        "the error names who signed: {e}"
    );
    // FIDO's real BLOB carries the name, and records that FIDO's anchor verified it.
    assert_eq!(real_blob().anchor, "fido");
    let file = verify_blob(good.as_bytes(), &test_root(), &t(NOW)).unwrap();
    assert!(file.anchor.starts_with("roots:"), "{}", file.anchor);
}

fn yubikey_entry(statuses: &[(&str, &str)]) -> serde_json::Value {
    entry(
        yubikey_5(),
        "YubiKey 5 Series",
        &[attestation_fixture("root.der")],
        statuses,
    )
}

#[test]
fn a_blob_is_trusted_only_through_its_chain_to_the_root_and_its_signature() {
    let good = blob(
        3,
        "2027-01-01",
        vec![yubikey_entry(&[("FIDO_CERTIFIED_L1", "2026-01-01")])],
        "signer",
    );
    let file = verify_blob(good.as_bytes(), &test_root(), &t(NOW)).unwrap();
    assert_eq!(file.blob_no, 3);
    assert_eq!(file.models.len(), 1);
    assert_eq!(file.skipped_entries, 1);
    assert_eq!(file.models[0].certification_level, Some(CertificationLevel::L1));

    // Another root: refused before the payload is read.
    let e = verify_blob(
        good.as_bytes(),
        &BlobTrust::roots(vec![fixture("other-root.der")]),
        &t(NOW),
    )
    .unwrap_err();
    assert!(matches!(e, MetadataError::Untrusted(_)), "{e}");
    // The signature of another payload.
    let other = blob(4, "2027-01-01", vec![], "signer");
    let parts: Vec<&str> = good.split('.').collect();
    let spliced = format!("{}.{}.{}", parts[0], other.split('.').nth(1).unwrap(), parts[2]);
    assert_eq!(
        verify_blob(spliced.as_bytes(), &test_root(), &t(NOW)).unwrap_err(),
        MetadataError::BadSignature
    );
    // A signing certificate that expired.
    let expired = blob(3, "2027-01-01", vec![], "signer-expired");
    let e = verify_blob(expired.as_bytes(), &test_root(), &t(NOW)).unwrap_err();
    assert!(e.to_string().contains("expired"), "{e}");
    // Before the signing certificate was valid (a clock set back).
    let e = verify_blob(good.as_bytes(), &test_root(), &t("2025-06-01T00:00:00Z")).unwrap_err();
    assert!(e.to_string().contains("not valid before"), "{e}");
    // No signature at all ("alg": "none" tricks), or not a JWT.
    let unsigned = format!("{}.{}.", parts[0], parts[1]);
    assert!(verify_blob(unsigned.as_bytes(), &test_root(), &t(NOW)).is_err());
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let e = verify_blob(
        format!("{none_header}.{}.", parts[1]).as_bytes(),
        &test_root(),
        &t(NOW),
    )
    .unwrap_err();
    assert!(matches!(e, MetadataError::NotABlob(_)), "{e}");
    let e = verify_blob(b"<html>Service Unavailable</html>", &test_root(), &t(NOW)).unwrap_err();
    assert!(
        e.to_string().contains("mds3.fidoalliance.org"),
        "the error says where to get it: {e}"
    );
}

#[test]
fn status_reports_decide_the_level_and_whether_the_model_is_trusted() {
    let entries = vec![
        yubikey_entry(&[
            ("FIDO_CERTIFIED_L1", "2024-01-01"),
            ("FIDO_CERTIFIED_L2", "2025-01-01"),
        ]),
        entry(
            Aaguid([0x11; 16]),
            "Compromised Key",
            &[],
            &[
                ("FIDO_CERTIFIED_L1", "2024-01-01"),
                ("ATTESTATION_KEY_COMPROMISE", "2025-03-01"),
                ("FIDO_CERTIFIED_L1", "2025-06-01"),
            ],
        ),
    ];
    let file = verify_blob(
        blob(5, "2027-01-01", entries, "signer").as_bytes(),
        &test_root(),
        &t(NOW),
    )
    .unwrap();
    let yubikey = file.model(&yubikey_5()).unwrap();
    assert_eq!(yubikey.certification_level, Some(CertificationLevel::L2));
    assert_eq!(yubikey.status, "FIDO_CERTIFIED_L2");
    let compromised = file.model(&Aaguid([0x11; 16])).unwrap();
    let distrust = compromised
        .distrust
        .as_ref()
        .expect("a compromise is not lifted by a later report");
    assert_eq!(distrust.status, "ATTESTATION_KEY_COMPROMISE");
    assert_eq!(distrust.effective_date.as_deref(), Some("2025-03-01"));
}

fn judge(
    policy: &VerifierPolicy,
    registration: &tapprove_test_support::forged::Forged,
    now: &str,
    file: Option<&MetadataFile>,
) -> Result<tapprove_core::enrolment::CheckedCredential, EnrolmentError> {
    let now = t(now);
    let aaguid = tapprove_core::enrolment::claimed_aaguid(&registration.attestation_object).unwrap();
    check_new_credential(
        policy,
        &registration.challenge,
        &registration.client_data,
        &registration.attestation_object,
        &registration.credential_id,
        Judged {
            now: &now,
            model: file.and_then(|f| f.model(&aaguid)),
        },
    )
}

fn yubikey_registration() -> tapprove_test_support::forged::Forged {
    certified(
        RP_ID,
        yubikey_5(),
        &[
            attestation_fixture("leaf-aaguid.der"),
            attestation_fixture("intermediate.der"),
        ],
        &attestation_fixture("leaf-aaguid.key"),
    )
}

fn metadata(statuses: &[(&str, &str)]) -> MetadataFile {
    let b = blob(9, "2027-01-01", vec![yubikey_entry(statuses)], "signer");
    verify_blob(b.as_bytes(), &test_root(), &t(NOW)).unwrap()
}

#[test]
fn fidos_roots_for_a_model_prove_it_without_org_roots() {
    let mut policy = VerifierPolicy::new(RP_ID);
    policy.allow_software_authenticators = false;
    let file = metadata(&[("FIDO_CERTIFIED_L1", "2026-01-01")]);
    let checked = judge(&policy, &yubikey_registration(), NOW, Some(&file)).unwrap();
    assert!(checked.model_proven);
    assert_eq!(checked.record.trust_path, TrustPath::FidoMetadata);
    assert_eq!(checked.record.fido_blob_no, Some(9));
    assert_eq!(checked.record.certification_level, Some(CertificationLevel::L1));
    // Without the metadata (and no org roots), the same registration is a claim.
    let e = judge(&policy, &yubikey_registration(), NOW, None).unwrap_err();
    assert!(matches!(e, EnrolmentError::ModelNotProven { .. }), "{e:?}");
    // A software key claiming the model has no chain: refused even with FIDO's metadata.
    let forged = tapprove_test_support::forged::forge(RP_ID, yubikey_5(), "packed");
    let e = judge(&policy, &forged, NOW, Some(&file)).unwrap_err();
    assert!(matches!(e, EnrolmentError::ModelNotProven { .. }), "{e:?}");
    // A chain to another vendor's root than the one FIDO lists for the model.
    let other = blob(
        10,
        "2027-01-01",
        vec![entry(
            yubikey_5(),
            "YubiKey 5 Series",
            &[fixture("other-root.der")],
            &[("FIDO_CERTIFIED_L1", "2026-01-01")],
        )],
        "signer",
    );
    let other = verify_blob(other.as_bytes(), &test_root(), &t(NOW)).unwrap();
    let e = judge(
        &VerifierPolicy::new(RP_ID),
        &yubikey_registration(),
        NOW,
        Some(&other),
    )
    .unwrap_err();
    assert!(matches!(e, EnrolmentError::Untrusted(_)), "{e:?}");
}

#[test]
fn attestation_certificates_are_judged_at_the_time_given() {
    // The fixtures are valid from 2026-01-01.
    let mut policy = VerifierPolicy::new(RP_ID);
    policy.trusted_attestation_roots = Some(vec![attestation_fixture("root.der")]);
    let e = judge(&policy, &yubikey_registration(), "2025-06-01T00:00:00Z", None).unwrap_err();
    assert!(e.to_string().contains("not valid before"), "{e}");
    judge(&policy, &yubikey_registration(), NOW, None).unwrap();
    let e = judge(&policy, &yubikey_registration(), "2127-01-01T00:00:00Z", None).unwrap_err();
    assert!(e.to_string().contains("expired"), "{e}");
}

#[test]
fn a_model_fido_reports_untrustworthy_enrols_under_no_policy() {
    for status in [
        "REVOKED",
        "ATTESTATION_KEY_COMPROMISE",
        "USER_VERIFICATION_BYPASS",
        "USER_KEY_REMOTE_COMPROMISE",
        "USER_KEY_PHYSICAL_COMPROMISE",
    ] {
        let file = metadata(&[("FIDO_CERTIFIED_L1", "2025-01-01"), (status, "2026-02-01")]);
        let mut lenient = VerifierPolicy::new(RP_ID);
        lenient.accept_self_reported_models = true;
        for policy in [VerifierPolicy::new(RP_ID), lenient] {
            let e = judge(&policy, &yubikey_registration(), NOW, Some(&file)).unwrap_err();
            assert_eq!(e.code(), "model_distrusted", "{status}");
            assert!(
                e.to_string().contains(status) && e.to_string().contains("2026-02-01"),
                "{e}"
            );
        }
        // A software key merely claiming that model is refused as well.
        let forged = tapprove_test_support::forged::forge(RP_ID, yubikey_5(), "none");
        let e = judge(&VerifierPolicy::new(RP_ID), &forged, NOW, Some(&file)).unwrap_err();
        assert_eq!(e.code(), "model_distrusted");
    }
}

#[test]
fn the_org_can_require_a_certification_level() {
    let mut policy = VerifierPolicy::new(RP_ID);
    policy.min_certification_level = Some(CertificationLevel::L2);
    let l1 = metadata(&[("FIDO_CERTIFIED_L1", "2025-01-01")]);
    let e = judge(&policy, &yubikey_registration(), NOW, Some(&l1)).unwrap_err();
    assert_eq!(e.code(), "certification_too_low");
    assert!(
        e.to_string().contains("L2") && e.to_string().contains("L1"),
        "{e}"
    );
    let l2 = metadata(&[
        ("FIDO_CERTIFIED_L1", "2025-01-01"),
        ("FIDO_CERTIFIED_L2", "2025-06-01"),
    ]);
    assert!(
        judge(&policy, &yubikey_registration(), NOW, Some(&l2))
            .unwrap()
            .model_proven
    );
    // No metadata: the level cannot be known, so it is not met.
    let e = judge(&policy, &yubikey_registration(), NOW, None).unwrap_err();
    assert!(
        matches!(
            e,
            EnrolmentError::ModelNotProven { .. } | EnrolmentError::CertificationTooLow { .. }
        ),
        "{e:?}"
    );
}

/// A registration published from a real authenticator.
struct RealRegistration {
    policy: VerifierPolicy,
    challenge: Vec<u8>,
    client_data: Vec<u8>,
    attestation_object: Vec<u8>,
    credential_id: Vec<u8>,
    at: UtcTime,
}

fn real_registration(name: &str) -> RealRegistration {
    let v: serde_json::Value = serde_json::from_slice(&real(name)).unwrap();
    let b64 = |k: &str| URL_SAFE_NO_PAD.decode(v[k].as_str().unwrap()).unwrap();
    let mut policy = VerifierPolicy::new(v["rp_id"].as_str().unwrap());
    policy.extra_origins = vec![v["origin"].as_str().unwrap().to_owned()];
    let attestation_object = b64("attestation_object_b64url");
    let credential_id = tapprove_core::webauthn::AttestationObject::parse(&attestation_object)
        .unwrap()
        .auth_data
        .attested_credential
        .unwrap()
        .credential_id;
    RealRegistration {
        policy,
        challenge: b64("challenge_b64url"),
        client_data: b64("client_data_json_b64url"),
        attestation_object,
        credential_id,
        at: t(v["verified_at_hint"].as_str().unwrap()),
    }
}

impl RealRegistration {
    fn judge(
        &self,
        file: Option<&MetadataFile>,
    ) -> Result<tapprove_core::enrolment::CheckedCredential, EnrolmentError> {
        let aaguid = tapprove_core::enrolment::claimed_aaguid(&self.attestation_object).unwrap();
        check_new_credential(
            &self.policy,
            &self.challenge,
            &self.client_data,
            &self.attestation_object,
            &self.credential_id,
            Judged {
                now: &self.at,
                model: file.and_then(|f| f.model(&aaguid)),
            },
        )
    }
}

#[test]
fn a_real_yubikey_5_is_proven_by_fidos_metadata_and_a_tampered_one_is_refused() {
    let file = real_blob();
    let mut r = real_registration("packed-yubikey-5-nfc.json");
    r.policy.allow_software_authenticators = false;
    let checked = r.judge(Some(&file)).unwrap();
    assert!(checked.model_proven, "{checked:?}");
    assert_eq!(checked.record.trust_path, TrustPath::FidoMetadata);
    assert_eq!(checked.record.fido_blob_no, Some(121));
    assert!(checked.model.unwrap().description.contains("YubiKey 5"));
    // One byte of the signature changed.
    let mut tampered = real_registration("packed-yubikey-5-nfc.json");
    let len = tampered.attestation_object.len();
    let at = tampered
        .attestation_object
        .windows(3)
        .position(|w| w == b"sig")
        .unwrap()
        + 10;
    assert!(at < len);
    tampered.attestation_object[at] ^= 0x01;
    assert!(tampered.judge(Some(&file)).is_err());
}

#[test]
fn a_real_security_key_of_a_model_without_the_aaguid_extension_proves_the_vendor_only() {
    // The "Security Key by Yubico" (py_webauthn's Firefox registration):
    // FIDO lists Yubico's root for it, so the chain verifies; whether the
    // leaf names the model decides `model_proven`.
    let file = real_blob();
    let r = real_registration("packed-yubikey-firefox.json");
    let checked = r.judge(Some(&file)).unwrap();
    assert_eq!(checked.record.trust_path, TrustPath::FidoMetadata);
    let u2f = real_registration("fido-u2f-yubikey-firefox.json");
    let checked = u2f.judge(Some(&file)).unwrap();
    // U2F has no AAGUID: FIDO's metadata lists no model for it.
    assert!(checked.model.is_none());
    assert!(!checked.model_proven);
}

#[test]
fn real_windows_hello_tpm_keys_chain_to_the_roots_fido_lists_but_do_not_prove_the_model() {
    // Microsoft's AIK certificates name no AAGUID, and one Microsoft root
    // serves every Windows Hello variant: the chain proves a TPM under
    // Microsoft's CA, not which of the models FIDO lists under it.
    let file = real_blob();
    for name in [
        "tpm-windows-hello-nuvoton-rs256.json",
        "tpm-nuvoton-ecc-es256.json",
        "tpm-thinkpad-stm-es256.json",
    ] {
        let r = real_registration(name);
        let checked = r.judge(Some(&file)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(checked.record.trust_path, TrustPath::FidoMetadata, "{name}");
        assert_eq!(checked.record.format, "tpm");
        assert!(!checked.model_proven, "{name}");
        assert!(checked.model.unwrap().description.contains("Windows Hello"));
        let mut strict = real_registration(name);
        strict.policy.allow_software_authenticators = false;
        let e = strict.judge(Some(&file)).unwrap_err();
        assert!(
            matches!(e, EnrolmentError::ModelNotProven { .. }),
            "{name}: {e:?}"
        );
    }
}

//! Which authenticator model a credential comes from is believed only from
//! an attestation chain to a root the organisation trusts. An AAGUID in the
//! authenticator data is the authenticator's own claim: a software key can
//! write a YubiKey's there, sign it with its own key (`packed` self
//! attestation) or not at all (`none`), and be copied to a bot or a
//! colleague. Wherever a rule depends on the model (software forbidden, an
//! AAGUID list), such a claim is refused unless the organisation says it
//! accepts self-reported models.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

use tapprove_core::VerifierPolicy;
use tapprove_core::enrolment::{EnrolmentError, Judged, check_new_credential};
use tapprove_proto::registry::SOFTWARE_AAGUID;
use tapprove_proto::{Aaguid, UtcTime};
use tapprove_test_support::forged::{Forged, certified, forge as forge_for, u2f, yubikey_5};
use tapprove_test_support::repo_root;

const RP_ID: &str = "example.com";

fn yubikey() -> Aaguid {
    yubikey_5()
}

fn forge(aaguid: Aaguid, format: &str) -> Forged {
    forge_for(RP_ID, aaguid, format)
}

fn check(
    policy: &VerifierPolicy,
    forged: &Forged,
) -> Result<tapprove_core::enrolment::CheckedCredential, EnrolmentError> {
    check_new_credential(
        policy,
        &forged.challenge,
        &forged.client_data,
        &forged.attestation_object,
        &forged.credential_id,
        Judged {
            now: &UtcTime::parse("2026-12-01T00:00:00Z").unwrap(),
            model: None,
        },
    )
}

/// The two rules that depend on the model.
fn model_rules() -> Vec<(&'static str, VerifierPolicy)> {
    let mut no_software = VerifierPolicy::new(RP_ID);
    no_software.allow_software_authenticators = false;
    let mut listed = VerifierPolicy::new(RP_ID);
    listed.allowed_aaguids = Some([yubikey()].into_iter().collect());
    vec![("software forbidden", no_software), ("AAGUID list", listed)]
}

#[test]
fn a_software_key_claiming_a_yubikey_is_refused_where_the_model_matters() {
    for format in ["none", "packed"] {
        let forged = forge(yubikey(), format);
        for (rule, policy) in model_rules() {
            let error = check(&policy, &forged).unwrap_err();
            assert!(
                matches!(error, EnrolmentError::ModelNotProven { .. }),
                "{format} under {rule}: {error:?}"
            );
            assert!(
                error.to_string().contains("attestation"),
                "the message says what would prove the model: {error}"
            );
        }
    }
}

#[test]
fn an_organisation_may_accept_self_reported_models_explicitly() {
    for (rule, mut policy) in model_rules() {
        policy.accept_self_reported_models = true;
        let checked = check(&policy, &forge(yubikey(), "packed")).unwrap();
        assert_eq!(checked.aaguid, yubikey(), "{rule}");
        // Still: an honest software key is refused where software is.
        let software = check(&policy, &forge(SOFTWARE_AAGUID, "packed"));
        if rule == "software forbidden" {
            assert_eq!(software.unwrap_err(), EnrolmentError::SoftwareNotAllowed);
        }
    }
}

#[test]
fn without_a_rule_on_the_model_a_claim_stays_a_claim() {
    // No rule depends on the model: the credential enrols (its key is what
    // signs), and what the check reports says the model was not proven.
    let checked = check(&VerifierPolicy::new(RP_ID), &forge(yubikey(), "packed")).unwrap();
    assert_eq!(checked.aaguid, yubikey());
    assert!(!checked.model_proven);
    let checked = check(&VerifierPolicy::new(RP_ID), &forge(yubikey(), "none")).unwrap();
    assert!(!checked.model_proven);
}

/// A fixture of `tests/vectors/attestation/` (written by its `make.py`).
fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("tests/vectors/attestation").join(name)).unwrap()
}

/// A certified registration claiming `aaguid`: `leaf` (and its `.key`)
/// issued by `issuer`, fixtures both.
fn chained(aaguid: Aaguid, leaf: &str, issuer: &str) -> Forged {
    certified(
        RP_ID,
        aaguid,
        &[fixture(&format!("{leaf}.der")), fixture(issuer)],
        &fixture(&format!("{leaf}.key")),
    )
}

fn with_roots(mut policy: VerifierPolicy) -> VerifierPolicy {
    policy.trusted_attestation_roots = Some(vec![fixture("root.der")]);
    policy
}

#[test]
fn a_chain_to_a_trusted_root_whose_leaf_names_the_model_proves_it() {
    let registration = chained(yubikey(), "leaf-aaguid", "intermediate.der");
    for (rule, policy) in model_rules() {
        let checked = check(&with_roots(policy), &registration).unwrap();
        assert!(checked.model_proven, "{rule}");
        assert_eq!(checked.aaguid, yubikey());
    }
    // The leaf names the model: claiming another in the authenticator data
    // is refused whatever the rules.
    let other = Aaguid([0x42; 16]);
    let lying = chained(other, "leaf-aaguid", "intermediate.der");
    let error = check(&VerifierPolicy::new(RP_ID), &lying).unwrap_err();
    assert!(
        error.to_string().contains("another authenticator model"),
        "{error}"
    );
}

#[test]
fn a_chain_whose_leaf_names_no_model_proves_the_vendor_not_the_model() {
    let registration = chained(yubikey(), "leaf-bare", "intermediate.der");
    let checked = check(&with_roots(VerifierPolicy::new(RP_ID)), &registration).unwrap();
    assert!(!checked.model_proven);
    for (rule, policy) in model_rules() {
        let error = check(&with_roots(policy), &registration).unwrap_err();
        assert!(
            matches!(error, EnrolmentError::ModelNotProven { .. }),
            "{rule}: {error:?}"
        );
    }
}

#[test]
fn a_leaf_issued_by_a_certificate_that_is_no_ca_is_refused() {
    // The end entity's key (not a CA) issued a "model Y" leaf of its own.
    let registration = chained(yubikey(), "leaf-rogue", "not-ca.der");
    let error = check(&with_roots(VerifierPolicy::new(RP_ID)), &registration).unwrap_err();
    assert!(matches!(error, EnrolmentError::Untrusted(_)), "{error:?}");
    assert!(error.to_string().contains("not a CA"), "{error}");
}

#[test]
fn a_chain_to_another_root_is_refused_unless_self_reported_models_are_accepted() {
    let registration = chained(yubikey(), "leaf-aaguid", "intermediate.der");
    let mut policy = VerifierPolicy::new(RP_ID);
    policy.trusted_attestation_roots = Some(vec![fixture("not-ca.der")]);
    let error = check(&policy, &registration).unwrap_err();
    assert!(matches!(error, EnrolmentError::Untrusted(_)), "{error:?}");
    // The org accepts claims: it enrols, as a claim.
    policy.accept_self_reported_models = true;
    let checked = check(&policy, &registration).unwrap();
    assert!(!checked.model_proven);
}

/// WebAuthn 8.6: a U2F device's statement verifies with its certificate,
/// which chains to the vendor root; it proves the vendor, never a model
/// (U2F has no AAGUID). A statement signed by another key, a chain to
/// another root, or a second certificate is refused.
#[test]
fn fido_u2f_attestation_is_verified_and_proves_the_vendor_only() {
    use tapprove_core::webauthn::{AttestationFormat, AttestationObject};
    let registration = u2f(RP_ID, &fixture("u2f.der"), &fixture("u2f.key"));
    let checked = check(&with_roots(VerifierPolicy::new(RP_ID)), &registration).unwrap();
    assert!(
        matches!(
            checked.attestation,
            AttestationFormat::Certified {
                names_aaguid: false,
                ..
            }
        ),
        "{:?}",
        checked.attestation
    );
    assert!(!checked.model_proven);
    for (rule, policy) in model_rules() {
        let error = check(&with_roots(policy), &registration).unwrap_err();
        assert!(
            matches!(
                error,
                EnrolmentError::ModelNotProven { .. } | EnrolmentError::AaguidNotAllowed(_)
            ),
            "{rule}: {error:?}"
        );
    }

    // Signed by another key than the certificate's.
    let forged = u2f(RP_ID, &fixture("u2f.der"), &fixture("leaf-bare.key"));
    let error = check(&VerifierPolicy::new(RP_ID), &forged).unwrap_err();
    assert!(error.to_string().contains("does not verify"), "{error}");

    // Another root.
    let mut policy = VerifierPolicy::new(RP_ID);
    policy.trusted_attestation_roots = Some(vec![fixture("intermediate.der")]);
    assert!(matches!(
        check(&policy, &registration).unwrap_err(),
        EnrolmentError::Untrusted(_)
    ));

    // Two certificates where the format allows one.
    let object = AttestationObject::parse(&registration.attestation_object).unwrap();
    let mut two = registration.clone();
    two.attestation_object = AttestationObject::encode(
        "fido-u2f",
        vec![
            ("sig", AttestationObject::bytes(&[0x30, 0x00])),
            (
                "x5c",
                AttestationObject::chain(&[fixture("u2f.der"), fixture("intermediate.der")]),
            ),
        ],
        &object.auth_data_bytes,
    );
    let error = check(&VerifierPolicy::new(RP_ID), &two).unwrap_err();
    assert!(
        error.to_string().contains("exactly the attestation certificate"),
        "{error}"
    );
}

#[test]
fn the_org_can_allow_kinds_of_authenticator_and_a_claimed_kind_does_not_count() {
    use tapprove_proto::registry::AuthenticatorKind;
    // A YubiKey whose model the chain proves is a security key.
    let proven = chained(yubikey(), "leaf-aaguid", "intermediate.der");
    let mut platform_only = with_roots(VerifierPolicy::new(RP_ID));
    platform_only.allowed_kinds = Some([AuthenticatorKind::Platform].into());
    let e = check(&platform_only, &proven).unwrap_err();
    assert_eq!(e.code(), "kind_not_allowed", "{e}");
    let mut keys_only = with_roots(VerifierPolicy::new(RP_ID));
    keys_only.allowed_kinds = Some([AuthenticatorKind::SecurityKey].into());
    assert!(check(&keys_only, &proven).unwrap().model_proven);
    // A software key claiming a YubiKey: the kind is a claim, so refused.
    let mut keys_only = VerifierPolicy::new(RP_ID);
    keys_only.allowed_kinds = Some([AuthenticatorKind::SecurityKey].into());
    let e = check(&keys_only, &forge(yubikey(), "packed")).unwrap_err();
    assert!(matches!(e, EnrolmentError::ModelNotProven { .. }), "{e:?}");
}

/// Registrations published from real platform authenticators
/// (`tests/vectors/real/`, sources in its SOURCES.md): each format's
/// genuine statement verifies as of when it was made and chains to its
/// vendor's root; a changed statement, another root, or a time the
/// certificates were not valid is refused.
mod real_platforms {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ciborium::Value;
    use tapprove_core::VerifierPolicy;
    use tapprove_core::enrolment::{EnrolmentError, Judged, check_new_credential};
    use tapprove_core::webauthn::read_certificates;
    use tapprove_proto::UtcTime;
    use tapprove_proto::registry::TrustPath;
    use tapprove_test_support::repo_root;

    fn real(name: &str) -> Vec<u8> {
        std::fs::read(repo_root().join("tests/vectors/real").join(name)).unwrap()
    }

    struct Vector {
        policy: VerifierPolicy,
        challenge: Vec<u8>,
        client_data: Vec<u8>,
        object: Vec<u8>,
        at: UtcTime,
    }

    fn vector(name: &str, root: &str) -> Vector {
        let v: serde_json::Value = serde_json::from_slice(&real(name)).unwrap();
        let b64 = |k: &str| URL_SAFE_NO_PAD.decode(v[k].as_str().unwrap()).unwrap();
        let mut policy = VerifierPolicy::new(v["rp_id"].as_str().unwrap());
        policy.extra_origins = vec![v["origin"].as_str().unwrap().to_owned()];
        policy.trusted_attestation_roots = Some(read_certificates(&real(root)).unwrap());
        Vector {
            policy,
            challenge: b64("challenge_b64url"),
            client_data: b64("client_data_json_b64url"),
            object: b64("attestation_object_b64url"),
            at: UtcTime::parse(v["verified_at_hint"].as_str().unwrap()).unwrap(),
        }
    }

    impl Vector {
        fn judge_at(
            &self,
            object: &[u8],
            at: &UtcTime,
        ) -> Result<tapprove_core::enrolment::CheckedCredential, EnrolmentError> {
            let id = tapprove_core::webauthn::AttestationObject::parse(object)
                .map(|o| o.auth_data.attested_credential.unwrap().credential_id)
                .unwrap_or_default();
            check_new_credential(
                &self.policy,
                &self.challenge,
                &self.client_data,
                object,
                &id,
                Judged { now: at, model: None },
            )
        }

        fn judge(&self) -> Result<tapprove_core::enrolment::CheckedCredential, EnrolmentError> {
            self.judge_at(&self.object, &self.at)
        }

        /// The attestation object with statement member `name` changed.
        fn edited(&self, name: &str, change: impl FnOnce(&mut Value)) -> Vec<u8> {
            let mut value: Value = ciborium::de::from_reader(self.object.as_slice()).unwrap();
            let Value::Map(top) = &mut value else { panic!() };
            let (_, Value::Map(statement)) = top
                .iter_mut()
                .find(|(k, _)| k.as_text() == Some("attStmt"))
                .unwrap()
            else {
                panic!()
            };
            let (_, member) = statement
                .iter_mut()
                .find(|(k, _)| k.as_text() == Some(name))
                .unwrap();
            change(member);
            let mut out = Vec::new();
            ciborium::ser::into_writer(&value, &mut out).unwrap();
            out
        }
    }

    fn flip_last(value: &mut Value) {
        let Value::Bytes(b) = value else { panic!() };
        let last = b.len() - 1;
        b[last] ^= 0x01;
    }

    fn flip_leaf_signature(value: &mut Value) {
        let Value::Array(certs) = value else { panic!() };
        flip_last(&mut certs[0]);
    }

    /// A genuine statement verifies and chains to the vendor's root; under
    /// another root it is refused, and so it is once its certificates expired.
    fn genuine(v: &Vector, format: &str) {
        let checked = v.judge().unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(checked.record.format, format);
        assert_eq!(checked.record.trust_path, TrustPath::OrgRoots, "{format}");
        let mut other = VerifierPolicy::new(&v.policy.rp_id);
        other.extra_origins = v.policy.extra_origins.clone();
        other.trusted_attestation_roots = Some(vec![
            std::fs::read(repo_root().join("tests/vectors/attestation/root.der")).unwrap(),
        ]);
        let elsewhere = Vector {
            policy: other,
            challenge: v.challenge.clone(),
            client_data: v.client_data.clone(),
            object: v.object.clone(),
            at: v.at.clone(),
        };
        let e = elsewhere.judge().unwrap_err();
        assert_eq!(e.code(), "attestation_untrusted", "{format}: {e}");
        let e = v
            .judge_at(&v.object, &UtcTime::parse("2060-01-01T00:00:00Z").unwrap())
            .unwrap_err();
        assert!(e.to_string().contains("expired"), "{format}: {e}");
    }

    #[test]
    fn apple_anonymous_attestation() {
        for name in ["apple-passkey-dontneeda.json", "apple-ios-demo-yubico.json"] {
            let v = vector(name, "apple-webauthn-root-ca.pem");
            genuine(&v, "apple");
            // The nonce binds the certificate to this registration: another
            // clientDataJSON (a replayed certificate) is refused.
            let mut replay = vector(name, "apple-webauthn-root-ca.pem");
            let text = String::from_utf8(replay.client_data.clone()).unwrap();
            replay.client_data = text.replacen('{', "{\"x\":1,", 1).into_bytes();
            let e = replay.judge().unwrap_err();
            assert!(e.to_string().contains("nonce"), "{e}");
            // A certificate whose signature was changed does not chain.
            let e = v
                .judge_at(&v.edited("x5c", flip_leaf_signature), &v.at)
                .unwrap_err();
            assert_eq!(e.code(), "attestation_untrusted", "{e}");
        }
    }

    #[test]
    fn android_key_attestation() {
        let v = vector(
            "android-key-pixel-8a.json",
            "google-hardware-attestation-root-2.pem",
        );
        genuine(&v, "android-key");
        let e = v.judge_at(&v.edited("sig", flip_last), &v.at).unwrap_err();
        assert!(e.to_string().contains("signature"), "{e}");
        let e = v
            .judge_at(&v.edited("x5c", flip_leaf_signature), &v.at)
            .unwrap_err();
        assert_eq!(e.code(), "attestation_untrusted", "{e}");
        // The key description names this registration's challenge.
        let mut replay = vector(
            "android-key-pixel-8a.json",
            "google-hardware-attestation-root-2.pem",
        );
        let text = String::from_utf8(replay.client_data.clone()).unwrap();
        replay.client_data = text.replacen('{', "{\"x\":1,", 1).into_bytes();
        assert!(replay.judge().is_err());
    }

    #[test]
    fn tpm_attestation_of_four_real_windows_machines() {
        for name in [
            "tpm-windows-hello-nuvoton-rs256.json",
            "tpm-nuvoton-ecc-es256.json",
            "tpm-thinkpad-stm-es256.json",
            "tpm-surface-pro-4-intel-rs256.json",
        ] {
            let v = vector(name, "microsoft-tpm-root-ca-2014.pem");
            genuine(&v, "tpm");
            let e = v.judge_at(&v.edited("sig", flip_last), &v.at).unwrap_err();
            assert!(e.to_string().contains("signature"), "{name}: {e}");
            let e = v.judge_at(&v.edited("certInfo", flip_last), &v.at).unwrap_err();
            assert_eq!(e.code(), "attestation_invalid", "{name}: {e}");
            let e = v.judge_at(&v.edited("pubArea", flip_last), &v.at).unwrap_err();
            assert!(
                e.to_string().contains("pubArea") || e.to_string().contains("another key"),
                "{name}: {e}"
            );
            let e = v
                .judge_at(&v.edited("x5c", flip_leaf_signature), &v.at)
                .unwrap_err();
            assert_eq!(e.code(), "attestation_untrusted", "{name}: {e}");
        }
    }
}

//! Shared helpers for Tapprove's integration suites: a sample request, a
//! harness that enrols software credentials into an in-memory registry and
//! signs decisions with them, a raw signer for assertions no honest
//! authenticator would make, a prompt that counts what it was asked, and
//! the runner for the Node-based independent verifier; and the local peers
//! that stand in for AWS where moto does not check what AWS checks (a
//! Lambda function URL's IAM auth: [`function_url`]).
//!
//! This is test code compiled as a library: a panic is how it reports a
//! broken expectation, so unwrapping is allowed here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod desktop;
pub mod fake_sso;
pub mod function_url;
pub mod moto;
pub mod oidc;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use p256::ecdsa::{Signature, SigningKey, signature::Signer};
use rand_core::OsRng;
use sha2::{Digest, Sha256};
use tapprove_authn::software::{MemoryKeyStore, SoftwareAuthenticator};
use tapprove_authn::{
    Authenticator, CredentialRequest, PinRequest, Prompt, SigningRequest, UserPrompt, UserVerification,
    sign_decision,
};
use tapprove_core::canonical::{creation_client_data_json, origin_for};
use tapprove_core::enrolment::check_new_credential;
use tapprove_core::registry::{CredentialRecord, MemoryRegistry};
use tapprove_core::webauthn::CoseKey;
use tapprove_core::{VerifiedDecision, Verifier, VerifierPolicy, VerifyError};
use tapprove_proto::registry::{AuthenticatorKind, CredentialStatus};
use tapprove_proto::{Aaguid, Base64Url, Decision, Request, UtcTime, Verdict};
use zeroize::Zeroizing;

pub const RP_ID: &str = "example.com";
pub const CREATED: &str = "2026-11-21T10:00:00Z";
pub const SIGNED: &str = "2026-11-21T10:03:12Z";
pub const VERIFIED: &str = "2026-11-21T10:03:30Z";

pub fn t(text: &str) -> UtcTime {
    UtcTime::parse(text).unwrap()
}

/// The sample request of docs/protocol.md, as JSON.
pub fn request_json() -> serde_json::Value {
    serde_json::json!({
        "tapprove": "request/v1",
        "execution": "arn:aws:states:eu-west-1:123456789012:execution:deploy:7f3c",
        "nonce": "0b6f5f9e-4a8e-4c1e-9d59-2b1f1c0f7a11",
        "created": CREATED,
        "timeout_seconds": 3600,
        "title": "Deploy api v2.3 to prod",
        "requested_by": "alice@example.com",
        "approvers": "prod-approvers",
        "quorum": 1,
        "details": {"commit": "4f1c2e9", "service": "api", "to": "prod"}
    })
}

pub fn request() -> Request {
    Request::from_json(&serde_json::to_vec(&request_json()).unwrap()).unwrap()
}

/// A [`UserPrompt`] that answers PIN requests with a fixed PIN (or cancels)
/// and counts every interaction.
#[derive(Debug, Default)]
pub struct CountingPrompt {
    pin: Option<String>,
    cancel: bool,
    shown: AtomicUsize,
    pins_asked: AtomicUsize,
    last: Mutex<Option<Prompt>>,
}

impl CountingPrompt {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn with_pin(pin: &str) -> Self {
        Self {
            pin: Some(pin.to_owned()),
            ..Self::default()
        }
    }
    pub fn cancelling() -> Self {
        Self {
            cancel: true,
            ..Self::default()
        }
    }
    /// Prompts shown plus PINs asked.
    pub fn interactions(&self) -> usize {
        self.shown.load(Ordering::SeqCst) + self.pins_asked.load(Ordering::SeqCst)
    }
    pub fn pins_asked(&self) -> usize {
        self.pins_asked.load(Ordering::SeqCst)
    }
    pub fn last(&self) -> Option<Prompt> {
        self.last.lock().unwrap().clone()
    }
}

impl UserPrompt for CountingPrompt {
    fn show(&self, prompt: Prompt) {
        self.shown.fetch_add(1, Ordering::SeqCst);
        *self.last.lock().unwrap() = Some(prompt);
    }
    fn pin(&self, _request: &PinRequest) -> Option<Zeroizing<String>> {
        self.pins_asked.fetch_add(1, Ordering::SeqCst);
        if self.cancel {
            return None;
        }
        self.pin.clone().map(Zeroizing::new)
    }
    fn cancelled(&self) -> bool {
        self.cancel
    }
}

/// Software credentials in memory, registered in an in-memory registry.
#[derive(Debug)]
pub struct Harness {
    pub policy: VerifierPolicy,
    pub registry: MemoryRegistry,
    pub keys: MemoryKeyStore,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    pub fn new() -> Self {
        Self {
            policy: VerifierPolicy::new(RP_ID),
            registry: MemoryRegistry::new(),
            keys: MemoryKeyStore::new(),
        }
    }

    pub fn authenticator(&self) -> SoftwareAuthenticator<&MemoryKeyStore> {
        SoftwareAuthenticator::new(&self.keys, t(CREATED))
    }

    /// Enrols a software credential for `user` (with a PIN if given), the
    /// way the enrolment service would, and adds the user to `groups`.
    pub fn enrol(&self, user: &str, groups: &[&str], pin: Option<&str>) -> Base64Url {
        let challenge = [7u8; 32];
        let client_data = creation_client_data_json(&challenge, &origin_for(RP_ID));
        let prompt = pin.map(CountingPrompt::with_pin).unwrap_or_default();
        let created = self
            .authenticator()
            .make_credential(
                &CredentialRequest {
                    rp_id: RP_ID.into(),
                    user_name: user.into(),
                    user_handle: user.as_bytes().to_vec(),
                    client_data_json: client_data.clone(),
                    exclude_credentials: vec![],
                    user_verification: if pin.is_some() {
                        UserVerification::Required
                    } else {
                        UserVerification::Discouraged
                    },
                    label: format!("{user} laptop"),
                },
                &prompt,
            )
            .unwrap();
        let checked = check_new_credential(
            &self.policy,
            &challenge,
            &client_data,
            &created.attestation_object,
            created.credential_id.as_bytes(),
            tapprove_core::enrolment::Judged {
                now: &tapprove_proto::UtcTime::now(),
                model: None,
            },
        )
        .unwrap();
        self.registry
            .add_approver(user, groups.iter().map(|g| (*g).to_owned()));
        self.registry.add_credential(CredentialRecord {
            credential_id: checked.credential_id.clone(),
            owner: user.into(),
            public_key: checked.public_key,
            counter: checked.counter,
            aaguid: checked.aaguid,
            kind: AuthenticatorKind::Software,
            status: CredentialStatus::Active,
            label: format!("{user} laptop"),
            model_proven: checked.model_proven,
            attestation: None,
        });
        checked.credential_id
    }

    /// Signs `verdict` on `request` as `approver` with their software key.
    pub fn sign(
        &self,
        request: &Request,
        verdict: Verdict,
        approver: &str,
        credential: &Base64Url,
        signed_at: &str,
    ) -> Decision {
        self.sign_with(
            request,
            verdict,
            approver,
            credential,
            signed_at,
            &CountingPrompt::new(),
            UserVerification::Discouraged,
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub fn sign_with(
        &self,
        request: &Request,
        verdict: Verdict,
        approver: &str,
        credential: &Base64Url,
        signed_at: &str,
        prompt: &CountingPrompt,
        user_verification: UserVerification,
    ) -> Decision {
        sign_decision(
            &self.authenticator(),
            prompt,
            &SigningRequest {
                request,
                verdict,
                reason: (verdict == Verdict::Deny).then(|| "not during the freeze".to_owned()),
                reason_code: None,
                approver: approver.into(),
                rp_id: RP_ID.into(),
                signed_at: t(signed_at),
                allow_credentials: vec![credential.clone()],
                user_verification,
            },
        )
        .unwrap()
    }

    /// Runs the verifier on JSON bytes at `now`.
    pub fn verify_bytes(
        &self,
        request: &[u8],
        decision: &[u8],
        now: &str,
    ) -> Result<VerifiedDecision, VerifyError> {
        let verifier = Verifier::new(&self.policy, &self.registry, &self.registry);
        block_on(verifier.verify_json(request, decision, &t(now)))
    }

    pub fn verify(
        &self,
        request: &Request,
        decision: &Decision,
        now: &str,
    ) -> Result<VerifiedDecision, VerifyError> {
        self.verify_bytes(
            &serde_json::to_vec(request).unwrap(),
            &serde_json::to_vec(decision).unwrap(),
            now,
        )
    }
}

pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

/// A bare P-256 key that signs whatever authenticator data it is given:
/// for assertions an honest authenticator would never produce (no user
/// presence, a counter going backwards, malformed extensions).
#[derive(Debug)]
pub struct RawSigner {
    key: SigningKey,
    pub credential_id: Base64Url,
}

impl RawSigner {
    /// Creates a key and registers it (as a security key whose model an
    /// attestation chain proved) for `user`.
    pub fn register(harness: &Harness, user: &str, groups: &[&str]) -> Self {
        Self::register_as(harness, user, groups, true)
    }

    /// The same, the model `proven` or only claimed.
    pub fn register_as(harness: &Harness, user: &str, groups: &[&str], proven: bool) -> Self {
        let key = SigningKey::random(&mut OsRng);
        let credential_id = Base64Url::new(Sha256::digest(key.verifying_key().to_sec1_bytes()).to_vec());
        harness
            .registry
            .add_approver(user, groups.iter().map(|g| (*g).to_owned()));
        harness.registry.add_credential(CredentialRecord {
            credential_id: credential_id.clone(),
            owner: user.into(),
            public_key: Base64Url::new(CoseKey::encode_es256(key.verifying_key())),
            counter: 0,
            aaguid: Aaguid([0x42; 16]),
            kind: AuthenticatorKind::SecurityKey,
            status: CredentialStatus::Active,
            label: format!("{user} raw key"),
            model_proven: proven,
            attestation: None,
        });
        Self { key, credential_id }
    }

    /// authenticatorData: SHA-256(rp_id) || flags || counter, then `tail`.
    pub fn authenticator_data(rp_id: &str, flags: u8, counter: u32, tail: &[u8]) -> Vec<u8> {
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend_from_slice(&counter.to_be_bytes());
        data.extend_from_slice(tail);
        data
    }

    /// `approver`'s approval of `request`, with the clientDataJSON that
    /// `client_data` builds from the statement's challenge and the given
    /// authenticator data, validly signed by this key.
    pub fn approve(
        &self,
        request: &Request,
        approver: &str,
        client_data: impl FnOnce(&tapprove_proto::Sha256Digest) -> Vec<u8>,
        auth_data: Vec<u8>,
    ) -> Decision {
        let statement = statement(request, Verdict::Approve, approver, SIGNED);
        let challenge = tapprove_core::canonical::statement_challenge(&statement).unwrap();
        let client_data = client_data(&challenge);
        self.decision(statement, auth_data, client_data)
    }

    /// A decision over `statement` with the given authenticator data and
    /// clientDataJSON, validly signed by this key.
    pub fn decision(
        &self,
        statement: tapprove_proto::Statement,
        auth_data: Vec<u8>,
        client_data: Vec<u8>,
    ) -> Decision {
        let mut message = auth_data.clone();
        message.extend_from_slice(&Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&message);
        Decision {
            tapprove: Default::default(),
            statement,
            assertion: tapprove_proto::Assertion {
                credential_id: self.credential_id.clone(),
                authenticator_data: Base64Url::new(auth_data),
                client_data_json: Base64Url::new(client_data),
                signature: Base64Url::new(signature.to_der().as_bytes().to_vec()),
                user_handle: None,
            },
        }
    }
}

/// Tapprove's clientDataJSON for `origin` (use with [`RawSigner::approve`]).
pub fn client_data_for(origin: &str) -> impl FnOnce(&tapprove_proto::Sha256Digest) -> Vec<u8> + '_ {
    move |challenge| tapprove_core::canonical::client_data_json(challenge, origin)
}

/// The statement a client would build.
pub fn statement(
    request: &Request,
    verdict: Verdict,
    approver: &str,
    signed_at: &str,
) -> tapprove_proto::Statement {
    tapprove_proto::Statement {
        tapprove: Default::default(),
        request_sha256: tapprove_core::canonical::request_sha256(request).unwrap(),
        decision: verdict,
        reason: None,
        reason_code: None,
        approver: approver.into(),
        signed_at: t(signed_at),
    }
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs a Node script from `tests/interop` with `input` on stdin; returns
/// the exit code and parsed stdout. Panics with a clear message when Node
/// or the npm dependencies are missing (`scripts/test` installs them).
pub fn run_node(script: &str, input: &serde_json::Value) -> (i32, serde_json::Value) {
    let root = repo_root();
    assert!(
        root.join("node_modules/@simplewebauthn/server").exists(),
        "node_modules is missing: run `npm ci` in {} (scripts/test does)",
        root.display()
    );
    let mut child = Command::new("node")
        .arg(root.join("tests/interop").join(script))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is not installed (scripts/test installs it)");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.to_string().as_bytes()).unwrap();
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "{script} printed no JSON ({e}): stdout {stdout:?}, stderr {:?}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), value)
}

/// Registrations as a forged authenticator makes them: any AAGUID, the
/// credential's own key, `none` or `packed` self attestation. What a
/// software key claiming to be a YubiKey sends.
pub mod forged {
    use p256::ecdsa::signature::Signer as _;
    use p256::ecdsa::{Signature, SigningKey};
    use rand_core::OsRng;
    use tapprove_core::canonical::{creation_client_data_json, origin_for, sha256};
    use tapprove_core::webauthn::{AttestationObject, CoseKey};
    use tapprove_proto::Aaguid;

    /// YubiKey 5 Series (FIDO Metadata Service): the model a forger claims.
    pub fn yubikey_5() -> Aaguid {
        Aaguid([
            0xcb, 0x69, 0x48, 0x1e, 0x8f, 0xf7, 0x40, 0x39, 0x93, 0xec, 0x0a, 0x27, 0x29, 0xa1, 0x54, 0xa8,
        ])
    }

    #[derive(Debug, Clone)]
    pub struct Forged {
        pub challenge: [u8; 32],
        pub client_data: Vec<u8>,
        pub attestation_object: Vec<u8>,
        pub credential_id: Vec<u8>,
    }

    /// The authenticator data of a registration for `rp_id` with `aaguid`
    /// and the credential key `key`.
    fn auth_data(rp_id: &str, aaguid: Aaguid, credential_id: &[u8], key: &SigningKey) -> Vec<u8> {
        let mut auth_data = sha256(rp_id.as_bytes()).to_vec();
        auth_data.push(0x01 | 0x04 | 0x40); // user present, verified, attested credential
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        auth_data.extend_from_slice(&aaguid.0);
        auth_data.extend_from_slice(&u16::try_from(credential_id.len()).unwrap_or(0).to_be_bytes());
        auth_data.extend_from_slice(credential_id);
        auth_data.extend_from_slice(&CoseKey::encode_es256(key.verifying_key()));
        auth_data
    }

    /// What every registration starts from: a new credential key, the
    /// creation clientDataJSON for a fixed challenge, and the
    /// authenticator data naming `aaguid`.
    struct Start {
        key: SigningKey,
        challenge: [u8; 32],
        client_data: Vec<u8>,
        credential_id: Vec<u8>,
        auth_data: Vec<u8>,
    }

    fn start(rp_id: &str, aaguid: Aaguid, credential_id_len: usize) -> Start {
        let key = SigningKey::random(&mut OsRng);
        let challenge = [7u8; 32];
        let client_data = creation_client_data_json(&challenge, &origin_for(rp_id));
        let credential_id = vec![9u8; credential_id_len];
        let auth_data = auth_data(rp_id, aaguid, &credential_id, &key);
        Start {
            key,
            challenge,
            client_data,
            credential_id,
            auth_data,
        }
    }

    impl Start {
        fn finish(self, attestation_object: Vec<u8>) -> Forged {
            Forged {
                challenge: self.challenge,
                client_data: self.client_data,
                attestation_object,
                credential_id: self.credential_id,
            }
        }
    }

    /// A `packed` registration with an attestation certificate chain, as a
    /// certified device makes it: `chain` is the x5c (leaf first), signed
    /// with the leaf's private scalar `leaf_key`.
    pub fn certified(rp_id: &str, aaguid: Aaguid, chain: &[Vec<u8>], leaf_key: &[u8]) -> Forged {
        let attestation_key = SigningKey::from_slice(leaf_key).unwrap_or_else(|e| panic!("leaf key: {e}"));
        let start = start(rp_id, aaguid, 16);
        let mut message = start.auth_data.clone();
        message.extend_from_slice(&sha256(&start.client_data));
        let signature: Signature = attestation_key.sign(&message);
        let object = AttestationObject::encode(
            "packed",
            vec![
                ("alg", AttestationObject::integer(-7)),
                ("sig", AttestationObject::bytes(signature.to_der().as_bytes())),
                ("x5c", AttestationObject::chain(chain)),
            ],
            &start.auth_data,
        );
        start.finish(object)
    }

    /// A `fido-u2f` registration as a U2F device makes it through a
    /// browser: AAGUID zero, the attestation certificate `certificate`
    /// signing 0x00 || rpIdHash || clientDataHash || credentialId || the
    /// raw P-256 point, with its private scalar `certificate_key`.
    pub fn u2f(rp_id: &str, certificate: &[u8], certificate_key: &[u8]) -> Forged {
        let attestation_key = SigningKey::from_slice(certificate_key).unwrap_or_else(|e| panic!("key: {e}"));
        let start = start(rp_id, Aaguid::ZERO, 64);
        let mut message = vec![0x00];
        message.extend_from_slice(&sha256(rp_id.as_bytes()));
        message.extend_from_slice(&sha256(&start.client_data));
        message.extend_from_slice(&start.credential_id);
        message.extend_from_slice(start.key.verifying_key().to_encoded_point(false).as_bytes());
        let signature: Signature = attestation_key.sign(&message);
        let object = AttestationObject::encode(
            "fido-u2f",
            vec![
                ("sig", AttestationObject::bytes(signature.to_der().as_bytes())),
                ("x5c", AttestationObject::chain(&[certificate.to_vec()])),
            ],
            &start.auth_data,
        );
        start.finish(object)
    }

    /// A registration for `rp_id` claiming `aaguid`, with `format`
    /// (`none` or `packed`, self attestation).
    pub fn forge(rp_id: &str, aaguid: Aaguid, format: &str) -> Forged {
        let start = start(rp_id, aaguid, 16);
        let object = match format {
            "none" => AttestationObject::encode("none", vec![], &start.auth_data),
            "packed" => {
                let mut message = start.auth_data.clone();
                message.extend_from_slice(&sha256(&start.client_data));
                let signature: Signature = start.key.sign(&message);
                AttestationObject::encode_packed_self(&start.auth_data, -7, signature.to_der().as_bytes())
            }
            other => panic!("no forgery for {other}"),
        };
        start.finish(object)
    }
}

/// FIDO Metadata Service BLOBs, signed as FIDO signs them (a JWS, ES256
/// here) by the fixtures of `tests/vectors/mds/` (written by its
/// `make.py`), with entries shaped as MDS3 writes them.
pub mod mds {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use p256::ecdsa::signature::Signer as _;
    use p256::ecdsa::{Signature, SigningKey};
    use serde_json::{Value, json};
    use tapprove_proto::Aaguid;

    /// A fixture of `tests/vectors/mds/`.
    pub fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(super::repo_root().join("tests/vectors/mds").join(name))
            .unwrap_or_else(|e| panic!("tests/vectors/mds/{name}: {e}"))
    }

    /// An MDS3 entry for a FIDO2 model: its metadata statement (the
    /// fields Tapprove reads, and a few it does not) and status reports.
    pub fn entry(aaguid: Aaguid, description: &str, roots: &[Vec<u8>], statuses: &[(&str, &str)]) -> Value {
        json!({
            "aaguid": aaguid.to_string(),
            "metadataStatement": {
                "legalHeader": "https://fidoalliance.org/metadata/metadata-statement-legal-header/",
                "aaguid": aaguid.to_string(),
                "description": description,
                "authenticatorVersion": 50100,
                "protocolFamily": "fido2",
                "schema": 3,
                "attestationTypes": ["basic_full"],
                "attestationRootCertificates": roots.iter().map(|r| STANDARD.encode(r)).collect::<Vec<_>>(),
            },
            "statusReports": statuses
                .iter()
                .map(|(status, date)| json!({"status": status, "effectiveDate": date}))
                .collect::<Vec<_>>(),
            "timeOfLastStatusChange": statuses.last().map(|(_, d)| *d).unwrap_or("2026-01-01"),
        })
    }

    /// A BLOB numbered `no` listing `entries` (and a U2F entry, which has
    /// no AAGUID), signed with the fixture key `signer` (`signer.key`),
    /// its certificate (`signer.der`) in the header.
    pub fn blob(no: u64, next_update: &str, entries: Vec<Value>, signer: &str) -> String {
        let mut entries = entries;
        entries.push(json!({
            "attestationCertificateKeyIdentifiers": ["923881fe2f214ee465484371aeb72e97f5a58e0a"],
            "metadataStatement": {"description": "A U2F key", "attestationRootCertificates": []},
            "statusReports": [{"status": "FIDO_CERTIFIED", "effectiveDate": "2020-01-01"}],
        }));
        let header = json!({
            "alg": "ES256",
            "typ": "JWT",
            "x5c": [STANDARD.encode(fixture(&format!("{signer}.der")))],
        });
        let payload = json!({
            "legalHeader": "Retrieval and use of this BLOB indicates acceptance of the appropriate agreement located at https://fidoalliance.org/metadata/metadata-legal-terms/",
            "no": no,
            "nextUpdate": next_update,
            "entries": entries,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let key =
            SigningKey::from_slice(&fixture(&format!("{signer}.key"))).unwrap_or_else(|e| panic!("{e}"));
        let signature: Signature = key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }
}

//! An admin's change to the registry and its audit record are one DynamoDB
//! transaction, against moto.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

use tapprove_aws::dynamodb::{ChangedBy, DynamoRegistry, RegistryEvent, TableNames};
use tapprove_core::registry::Registry;

const ADMIN: &str = "arn:aws:sts::123456789012:assumed-role/TapproveAdmin/ada";

fn event(user: &str, event: &'static str, group: &str) -> RegistryEvent {
    RegistryEvent {
        by: ChangedBy::Admin,
        user: user.into(),
        event,
        at: tapprove_proto::UtcTime::now(),
        caller_arn: ADMIN.into(),
        account: "123456789012".into(),
        detail: serde_json::json!({"group": group}).as_object().unwrap().clone(),
    }
}

async fn groups(registry: &DynamoRegistry, user: &str) -> Vec<String> {
    registry
        .approver(user)
        .await
        .unwrap()
        .map(|a| a.groups.into_iter().collect())
        .unwrap_or_default()
}

async fn events(registry: &DynamoRegistry, user: &str) -> Vec<String> {
    registry
        .admin_events_of(user)
        .await
        .unwrap()
        .iter()
        .map(|r| r["event"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn an_admin_change_is_made_only_with_its_record() {
    let moto = tapprove_test_support::moto::Moto::start(2);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let aws = moto.sdk_config().await;
            let registry = DynamoRegistry::new(&aws, TableNames::with_prefix("t"));
            registry.create_tables().await.unwrap();

            // A grant is recorded once; granting again changes nothing.
            assert!(
                registry
                    .grant("bob", "prod", &event("bob", "granted", "prod"))
                    .await
                    .unwrap()
            );
            assert!(
                !registry
                    .grant("bob", "prod", &event("bob", "granted", "prod"))
                    .await
                    .unwrap()
            );
            assert_eq!(groups(&registry, "bob").await, ["prod"]);
            let records = registry.admin_events_of("bob").await.unwrap();
            assert_eq!(records.len(), 1, "{records:?}");
            assert_eq!(
                (
                    &records[0]["event"],
                    &records[0]["group"],
                    &records[0]["caller_arn"]
                ),
                (&"granted".into(), &"prod".into(), &ADMIN.into())
            );

            // Removing from a group one is not in: nothing changes, nothing is recorded.
            assert!(
                !registry
                    .revoke_group("bob", "dba", &event("bob", "ungranted", "dba"))
                    .await
                    .unwrap()
            );
            assert_eq!(events(&registry, "bob").await, ["granted"]);

            // When the record cannot be written (here: no audit table), the
            // change is not made either.
            let unaudited = DynamoRegistry::new(
                &aws,
                TableNames {
                    audit: "no-such-table".into(),
                    ..TableNames::with_prefix("t")
                },
            );
            assert!(
                unaudited
                    .grant("bob", "dba", &event("bob", "granted", "dba"))
                    .await
                    .is_err()
            );
            assert!(
                unaudited
                    .revoke_group("bob", "prod", &event("bob", "ungranted", "prod"))
                    .await
                    .is_err()
            );
            assert_eq!(groups(&registry, "bob").await, ["prod"]);

            assert!(
                registry
                    .revoke_group("bob", "prod", &event("bob", "ungranted", "prod"))
                    .await
                    .unwrap()
            );
            assert!(groups(&registry, "bob").await.is_empty());
            assert_eq!(events(&registry, "bob").await, ["granted", "ungranted"]);
        });
}

/// A withdrawal deletes only a credential that never signed, and DynamoDB
/// checks that in the delete itself: a key that signed after the service
/// read it (the race) stays, so the evidence of what it signed keeps it.
#[test]
fn a_credential_that_signed_is_never_deleted_even_by_a_racing_withdrawal() {
    use tapprove_core::registry::{AuditRecord, CredentialRecord, CredentialUse, Ledger};
    use tapprove_proto::registry::{AuthenticatorKind, CredentialStatus};
    use tapprove_proto::{Aaguid, Base64Url, Sha256Digest, UtcTime};
    let moto = tapprove_test_support::moto::Moto::start(2);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let aws = moto.sdk_config().await;
            let registry = DynamoRegistry::new(&aws, TableNames::with_prefix("w"));
            registry.create_tables().await.unwrap();
            let record = |id: u8| CredentialRecord {
                credential_id: Base64Url::new(vec![id; 16]),
                owner: "erin".into(),
                public_key: Base64Url::new(vec![1, 2, 3]),
                counter: 0,
                aaguid: Aaguid::ZERO,
                kind: AuthenticatorKind::SecurityKey,
                status: CredentialStatus::Active,
                label: format!("key {id}"),
                model_proven: false,
                attestation: None,
            };
            let withdrawn = |id: u8| {
                let mut e = event("erin", "withdrawn", "");
                e.by = ChangedBy::User;
                e.detail = serde_json::json!({"credential_id": Base64Url::new(vec![id; 16])})
                    .as_object()
                    .unwrap()
                    .clone();
                e
            };
            let now = UtcTime::now();
            for id in [1, 2] {
                registry
                    .put_credential(&record(id), &now, &event("erin", "registered", ""))
                    .await
                    .unwrap();
            }
            // Key 1 signs (a verification commits), as if between the
            // service's read and its delete.
            let audit = AuditRecord {
                at: now.clone(),
                outcome: "accepted".into(),
                message: String::new(),
                execution: Some("arn:aws:states:eu-west-1:123456789012:execution:g:x".into()),
                request_sha256: None,
                requested_by: None,
                requester_verified: None,
                approver: Some("erin".into()),
                verdict: None,
                credential_id: Some(Base64Url::new(vec![1; 16])),
                statement_challenge: None,
                decision: None,
            };
            let signed = CredentialUse {
                credential_id: Base64Url::new(vec![1; 16]),
                new_counter: 0,
                statement: Sha256Digest([7; 32]),
                request_sha256: Sha256Digest([8; 32]),
                approver: "erin".into(),
                claims_expire: UtcTime::from_unix(now.unix_seconds() + 600),
                used_at: now.clone(),
                audit,
            };
            registry.commit(&signed).await.unwrap().unwrap();
            assert!(!registry.delete_credential(&[1; 16], &withdrawn(1)).await.unwrap());
            assert!(
                registry.credential(&[1; 16]).await.unwrap().is_some(),
                "the key that signed stays"
            );
            // Key 2 never signed: withdrawn.
            assert!(registry.delete_credential(&[2; 16], &withdrawn(2)).await.unwrap());
            assert!(registry.credential(&[2; 16]).await.unwrap().is_none());
        });
}

/// FIDO metadata imports: a model FIDO distrusted stays on record when a
/// later BLOB stops listing it, and an import that interleaves with a newer
/// one cannot replace the newer one's model records (each write is
/// conditional in DynamoDB).
#[test]
fn fido_metadata_imports_keep_revocations_and_never_go_back() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use tapprove_proto::metadata::{Distrust, MetadataFile, ModelRecord};
    use tapprove_proto::{Aaguid, Sha256Digest, UtcTime};
    let moto = tapprove_test_support::moto::Moto::start(2);
    let model = |byte: u8, no: u64, revoked: bool| ModelRecord {
        aaguid: Aaguid([byte; 16]),
        description: format!("Model {byte}"),
        attestation_roots: Vec::new(),
        certification_level: None,
        status: if revoked { "REVOKED" } else { "FIDO_CERTIFIED" }.into(),
        distrust: revoked.then(|| Distrust {
            status: "REVOKED".into(),
            effective_date: None,
        }),
        blob_no: no,
    };
    let file = |no: u64, models: Vec<ModelRecord>| MetadataFile {
        tapprove: Default::default(),
        anchor: "fido".into(),
        blob_no: no,
        next_update: "2099-01-01".into(),
        blob_sha256: Sha256Digest([no as u8; 32]),
        imported_at: UtcTime::now(),
        skipped_entries: 0,
        models,
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let aws = moto.sdk_config().await;
            let registry = DynamoRegistry::new(&aws, TableNames::with_prefix("m"));
            registry.create_tables().await.unwrap();
            let imported = event("metadata:fido", "fido_metadata_imported", "");
            let x = Aaguid([1; 16]);
            let y = Aaguid([2; 16]);
            registry
                .import_metadata(&file(5, vec![model(1, 5, true), model(2, 5, false)]), &imported)
                .await
                .unwrap()
                .unwrap();
            // BLOB #7 no longer lists the revoked model: it stays revoked.
            registry
                .import_metadata(&file(7, vec![model(2, 7, false)]), &imported)
                .await
                .unwrap()
                .unwrap();
            assert!(registry.model(&x).await.unwrap().unwrap().distrust.is_some());
            let stored = registry.stored_metadata().await.unwrap().unwrap();
            assert_eq!((stored.blob_no, stored.models.len()), (7, 2));
            // An older BLOB is refused before it writes anything.
            assert!(
                registry
                    .import_metadata(&file(6, vec![model(2, 6, true)]), &imported)
                    .await
                    .unwrap()
                    .is_err()
            );
            assert!(registry.model(&y).await.unwrap().unwrap().distrust.is_none());
            // Interleaved: #9's records landed, its summary not yet (set
            // back to #7 here), when #8 writes: its record for Y is refused
            // by DynamoDB, and #9's stays.
            registry
                .import_metadata(&file(9, vec![model(2, 9, true)]), &imported)
                .await
                .unwrap()
                .unwrap();
            let client = aws_sdk_dynamodb::Client::new(&aws);
            client
                .update_item()
                .table_name("m-registry")
                .key("pk", AttributeValue::S("fido#metadata".into()))
                .key("sk", AttributeValue::S("blob".into()))
                .update_expression("SET blob_no = :seven")
                .expression_attribute_values(":seven", AttributeValue::N("7".into()))
                .send()
                .await
                .unwrap();
            let raced = registry
                .import_metadata(&file(8, vec![model(2, 8, false)]), &imported)
                .await
                .unwrap();
            assert!(raced.is_err(), "{raced:?}");
            let y_now = registry.model(&y).await.unwrap().unwrap();
            assert_eq!((y_now.blob_no, y_now.distrust.is_some()), (9, true));
        });
}

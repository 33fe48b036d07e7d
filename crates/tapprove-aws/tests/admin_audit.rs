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

//! The name of an approver's queue for a group, which the group stack's
//! IAM policy (`tapprove-<group>_*`) must cover and no other group's may.

/// The queue name of `user`'s queue for `group`:
/// `tapprove-<group>_<slug>-<hash>`.
///
/// The group part has every character but letters, digits and `-` mapped
/// to `-`, so it holds no `_`: the group stack's approver policy allows
/// `tapprove-<group>_*`, and that pattern ends exactly at the group (the
/// pattern of `prod` does not cover the queues of `prod-approvers`, nor the
/// other way round). The slug is the user name reduced to SQS's characters;
/// the hash of the full name keeps `bob.x` and `bob-x` apart. At most
/// 9 + 24 + 1 + 37 + 1 + 8 = 80 characters, SQS's limit.
pub fn approver_queue_name(group: &str, user: &str) -> String {
    let slug: String = user
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(37)
        .collect();
    let hash = short_hash(user);
    let group: String = group
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(24)
        .collect();
    format!("tapprove-{group}_{slug}-{hash}")
}

/// FNV-1a, 32 bits, as hex: a stable short tag, not a security measure.
fn short_hash(text: &str) -> String {
    let mut h = 0x811c_9dc5u32;
    for byte in text.bytes() {
        h ^= u32::from(byte);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{h:08x}")
}

#[cfg(test)]
mod tests {
    use super::approver_queue_name;

    /// IAM's `*` in a resource ARN, as the group stack's `Queues`
    /// statement uses it (`tapprove-<group>_*`): any run of characters.
    fn matches(pattern: &str, name: &str) -> bool {
        match pattern.split_once('*') {
            None => pattern == name,
            Some((head, tail)) => {
                name.len() >= head.len() + tail.len() && name.starts_with(head) && name.ends_with(tail)
            }
        }
    }

    fn group_pattern(group: &str) -> String {
        // deploy/group.yaml: tapprove-${Group}_*
        format!("tapprove-{group}_*")
    }

    #[test]
    fn a_groups_pattern_covers_its_own_queues_only() {
        let prod = approver_queue_name("prod", "alice");
        let prod_approvers = approver_queue_name("prod-approvers", "alice");
        assert!(matches(&group_pattern("prod"), &prod), "{prod}");
        assert!(
            matches(&group_pattern("prod-approvers"), &prod_approvers),
            "{prod_approvers}"
        );
        assert!(
            !matches(&group_pattern("prod"), &prod_approvers),
            "{prod_approvers}"
        );
        assert!(!matches(&group_pattern("prod-approvers"), &prod), "{prod}");
        // A user whose name looks like the rest of another group's name
        // stays in its own group.
        let tricky = approver_queue_name("prod", "approvers_alice");
        assert!(!matches(&group_pattern("prod-approvers"), &tricky), "{tricky}");
    }

    #[test]
    fn queue_names_fit_sqs() {
        let longest = approver_queue_name(&"g".repeat(24), &format!("{}@example.com", "u".repeat(60)));
        assert_eq!(longest.len(), 80, "{longest}");
        for (group, user) in [
            ("prod", "bob@example.com"),
            ("a.b_c", "Ünïcode user"),
            (&*"g".repeat(40), &*"u".repeat(90)),
        ] {
            let name = approver_queue_name(group, user);
            assert!(name.len() <= 80, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{name}"
            );
            let group_part = &name["tapprove-".len()..name.find('_').unwrap()];
            assert!(!group_part.contains('_'), "{name}");
        }
        assert_eq!(
            approver_queue_name("a.b_c", "x"),
            format!("tapprove-a-b-c_x-{}", super::short_hash("x"))
        );
    }

    /// The IAM suite (tests/iam/) evaluates the policies against these
    /// names.
    #[test]
    fn the_iam_suite_uses_the_names_grant_gives() {
        let names: std::collections::BTreeMap<String, String> =
            serde_json::from_str(include_str!("../../../tests/iam/fixtures/queue-names.json")).unwrap();
        assert_eq!(names.len(), 4);
        for (key, name) in names {
            let (group, user) = key.split_once('/').unwrap();
            assert_eq!(approver_queue_name(group, user), name, "{key}");
        }
    }

    #[test]
    fn similar_user_names_get_different_queues() {
        assert_ne!(
            approver_queue_name("prod", "bob.x"),
            approver_queue_name("prod", "bob-x")
        );
        assert_ne!(
            approver_queue_name("prod", "Bob"),
            approver_queue_name("prod", "bob")
        );
    }
}

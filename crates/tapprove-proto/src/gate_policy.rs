//! A gate's policy (gate-policy/v1): who must approve what passes one gate,
//! set by admins in the registry, never by the workflow.
//!
//! The workflow's request names a group and a quorum; under a policy those
//! are only wishes: the request's group must be one of the rule's, its
//! timeout at most the policy's, and the gate is met only when every clause
//! of the rule has its distinct approvers ("1 of sre and 1 of security")
//! and there are at least `max(request quorum, min_quorum)` of them. A
//! workflow may ask for more, never for less or for another group.
//!
//! The danger here is the fallback: a gate without a policy is decided by
//! its request, as before policies existed. `tapprove gate install` writes
//! one; for CloudFormation gates `tapprove admin gate-policy` does.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::{WireError, WireErrorKind, parse_document};
use crate::limits::{MAX_QUORUM, MAX_TIMEOUT_SECONDS};
use crate::request::Request;

const DOC: &str = "gate policy";

crate::version_tag!(
    /// `gate-policy/v1`.
    GatePolicyVersion = "gate-policy/v1"
);

/// One clause of a gate's rule: `count` distinct approvers of `group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clause {
    pub group: String,
    pub count: u32,
}

/// A gate's policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatePolicy {
    pub tapprove: GatePolicyVersion,
    /// Every clause must hold (AND).
    pub rule: Vec<Clause>,
    /// At least this many distinct approvers in all (at least the rule's
    /// counts added up).
    pub min_quorum: u32,
    /// The longest `timeout_seconds` a request may ask for.
    pub max_timeout_seconds: u64,
    /// Only requests whose requester an AWS identity proved (started
    /// through the request endpoint, `tapprove gate request`).
    #[serde(default)]
    pub require_verified_requester: bool,
}

/// Why a request does not pass a gate's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRefusal(pub String);

impl std::fmt::Display for PolicyRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl GatePolicy {
    /// A policy of one clause: `quorum` of `group`.
    pub fn single(group: &str, quorum: u32, max_timeout_seconds: u64) -> Self {
        Self {
            tapprove: GatePolicyVersion,
            rule: vec![Clause {
                group: group.to_owned(),
                count: quorum,
            }],
            min_quorum: quorum,
            max_timeout_seconds,
            require_verified_requester: false,
        }
    }

    /// Parses and checks a policy document.
    pub fn from_json(bytes: &[u8]) -> Result<Self, WireError> {
        let policy: Self = parse_document(DOC, bytes, 16 * 1024, GatePolicyVersion::TEXT)?;
        policy.check()?;
        Ok(policy)
    }

    /// Refuses policies that cannot mean what an admin wants: no clause, a
    /// clause of 0 or of more than the largest quorum, a group twice, a
    /// minimum below the rule's own count or above the largest quorum, a
    /// timeout of 0 or over a year.
    pub fn check(&self) -> Result<(), WireError> {
        let bad = |field: &str, why: String| Err(WireError::new(WireErrorKind::Malformed, DOC, field, why));
        if self.rule.is_empty() {
            return bad("rule", "a rule needs at least one clause (GROUP:COUNT)".into());
        }
        let mut seen = BTreeSet::new();
        let mut total = 0u32;
        for clause in &self.rule {
            crate::text::check_group(DOC, "rule.group", &clause.group)?;
            if !seen.insert(clause.group.as_str()) {
                return bad(
                    "rule",
                    format!("`{}` appears twice: give it one count", clause.group),
                );
            }
            if !(1..=MAX_QUORUM).contains(&clause.count) {
                return bad(
                    "rule.count",
                    format!(
                        "`{}:{}`: a count is 1 to {MAX_QUORUM}",
                        clause.group, clause.count
                    ),
                );
            }
            total = total.saturating_add(clause.count);
        }
        if total > MAX_QUORUM {
            return bad(
                "rule",
                format!("the rule asks for {total} approvers, at most {MAX_QUORUM}"),
            );
        }
        if !(total..=MAX_QUORUM).contains(&self.min_quorum) {
            return bad(
                "min_quorum",
                format!(
                    "{} must be at least the rule's {total} and at most {MAX_QUORUM}",
                    self.min_quorum
                ),
            );
        }
        if !(1..=MAX_TIMEOUT_SECONDS).contains(&self.max_timeout_seconds) {
            return bad(
                "max_timeout_seconds",
                format!("{} must be 1 to {MAX_TIMEOUT_SECONDS}", self.max_timeout_seconds),
            );
        }
        Ok(())
    }

    /// How many distinct approvers `request` needs under this policy.
    pub fn quorum_for(&self, request: &Request) -> u32 {
        self.min_quorum.max(request.quorum)
    }

    /// Whether `request` may pass this gate: its group is one of the
    /// rule's, its timeout within the policy's.
    pub fn admits(&self, request: &Request) -> Result<(), PolicyRefusal> {
        if !self.rule.iter().any(|c| c.group == request.approvers) {
            return Err(PolicyRefusal(format!(
                "the request names the group `{}`, but this gate's approvers are {}: the workflow cannot choose its approvers",
                request.approvers,
                self.describe()
            )));
        }
        if request.timeout_seconds > self.max_timeout_seconds {
            return Err(PolicyRefusal(format!(
                "the request asks to wait {} s, this gate allows at most {} s",
                request.timeout_seconds, self.max_timeout_seconds
            )));
        }
        if self.require_verified_requester && !request.requester_verified() {
            return Err(PolicyRefusal(
                "this gate requires a verified requester, and this request's requester is only claimed by the workflow: start it through the request endpoint (`tapprove gate request` without --requested-by)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Whether the groups of the distinct approvers so far (one set each)
    /// meet the rule and `quorum`: each clause filled by approvers of its
    /// group, no approver counted for two clauses.
    pub fn met(&self, approvers: &[BTreeSet<String>], quorum: u32) -> bool {
        if approvers.len() < quorum as usize {
            return false;
        }
        // Each approver takes one seat; a seat is a clause's (group, n).
        let seats: Vec<&str> = self
            .rule
            .iter()
            .flat_map(|c| std::iter::repeat_n(c.group.as_str(), c.count as usize))
            .collect();
        // Bipartite matching of seats to approvers (Kuhn's; at most 16 each).
        let mut holder: Vec<Option<usize>> = vec![None; seats.len()];
        fn place(
            who: usize,
            approvers: &[BTreeSet<String>],
            seats: &[&str],
            holder: &mut [Option<usize>],
            tried: &mut [bool],
        ) -> bool {
            for seat in 0..seats.len() {
                if tried[seat] || !approvers[who].contains(seats[seat]) {
                    continue;
                }
                tried[seat] = true;
                let free = match holder[seat] {
                    None => true,
                    Some(other) => place(other, approvers, seats, holder, tried),
                };
                if free {
                    holder[seat] = Some(who);
                    return true;
                }
            }
            false
        }
        for who in 0..approvers.len() {
            let mut tried = vec![false; seats.len()];
            place(who, approvers, &seats, &mut holder, &mut tried);
        }
        holder.iter().all(Option::is_some)
    }

    /// Where a request stands under this policy: each clause's approvers
    /// so far (`approvers`: the groups of each distinct approver counted),
    /// and the total needed for `request`.
    pub fn status(&self, request: &Request, approvers: &[BTreeSet<String>]) -> GateStatus {
        GateStatus {
            rule: self.describe(),
            clauses: self
                .rule
                .iter()
                .map(|c| ClauseProgress {
                    group: c.group.clone(),
                    have: u32::try_from(approvers.iter().filter(|g| g.contains(&c.group)).count())
                        .unwrap_or(u32::MAX)
                        .min(c.count),
                    need: c.count,
                })
                .collect(),
            approvals: u32::try_from(approvers.len()).unwrap_or(u32::MAX),
            needed: self.quorum_for(request),
        }
    }

    /// "1 of sre and 1 of security".
    pub fn describe(&self) -> String {
        self.rule
            .iter()
            .map(|c| format!("{} of {}", c.count, c.group))
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

/// Where a request stands at its gate, as the gate's verifier tells the
/// approvers with each task (beside the request, not in it: it changes as
/// approvals come, and nobody signs it). Informational: the verifier
/// decides by the registry's policy, never by this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateStatus {
    /// The rule in force: "1 of sre and 1 of security".
    pub rule: String,
    /// Each clause's approvals so far.
    pub clauses: Vec<ClauseProgress>,
    /// Distinct approvals counted, and how many the gate needs in all.
    pub approvals: u32,
    pub needed: u32,
}

/// One clause's approvals so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClauseProgress {
    pub group: String,
    pub have: u32,
    pub need: u32,
}

impl GateStatus {
    /// The status of a gate without a policy: `quorum` of the request's
    /// group.
    pub fn of_request(request: &Request, approvals: u32) -> Self {
        Self {
            rule: format!("{} of {}", request.quorum, request.approvers),
            clauses: vec![ClauseProgress {
                group: request.approvers.clone(),
                have: approvals.min(request.quorum),
                need: request.quorum,
            }],
            approvals,
            needed: request.quorum,
        }
    }

    /// Parses and bounds-checks a status a gate sent.
    pub fn from_value(value: &serde_json::Value) -> Result<Self, WireError> {
        const DOC: &str = "gate status";
        let status: Self = serde_json::from_value(value.clone())
            .map_err(|e| WireError::new(WireErrorKind::Malformed, DOC, "", e.to_string()))?;
        crate::text::check(DOC, "rule", &status.rule, 1024, crate::text::Lines::Single)?;
        if status.clauses.len() > MAX_QUORUM as usize {
            return Err(WireError::new(
                WireErrorKind::TooLarge,
                DOC,
                "clauses",
                format!("at most {MAX_QUORUM}"),
            ));
        }
        for clause in &status.clauses {
            crate::text::check_group(DOC, "clauses.group", &clause.group)?;
        }
        Ok(status)
    }

    /// "1 of sre ✓, 1 of security pending".
    pub fn describe(&self) -> String {
        self.clauses
            .iter()
            .map(|c| {
                if c.have >= c.need {
                    format!("{} of {} ✓", c.need, c.group)
                } else if c.have == 0 {
                    format!("{} of {} pending", c.need, c.group)
                } else {
                    format!("{} of {} ({} so far)", c.need, c.group, c.have)
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_says_which_clauses_are_met() {
        let p = two_groups();
        let request = Request::from_json(
            serde_json::to_vec(&crate::request::tests::sample())
                .unwrap()
                .as_slice(),
        )
        .unwrap();
        let none = p.status(&request, &[]);
        assert_eq!(none.describe(), "1 of sre pending, 1 of security pending");
        assert_eq!((none.approvals, none.needed), (0, 2));
        let one = p.status(&request, &[groups(&["sre"])]);
        assert_eq!(one.describe(), "1 of sre ✓, 1 of security pending");
        let back = GateStatus::from_value(&serde_json::to_value(&one).unwrap()).unwrap();
        assert_eq!(back, one);
        let mut bad = serde_json::to_value(&one).unwrap();
        bad["clauses"][0]["group"] = "sre\u{202E}".into();
        assert!(GateStatus::from_value(&bad).is_err());
        assert_eq!(
            GateStatus::of_request(&request, 0).describe(),
            "1 of prod-approvers pending"
        );
    }

    fn groups(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    fn two_groups() -> GatePolicy {
        GatePolicy {
            tapprove: GatePolicyVersion,
            rule: vec![
                Clause {
                    group: "sre".into(),
                    count: 1,
                },
                Clause {
                    group: "security".into(),
                    count: 1,
                },
            ],
            min_quorum: 2,
            max_timeout_seconds: 3600,
            require_verified_requester: false,
        }
    }

    #[test]
    fn every_clause_needs_its_own_approvers() {
        let p = two_groups();
        assert!(
            !p.met(&[groups(&["sre"]), groups(&["sre"])], 2),
            "two of sre are not enough"
        );
        assert!(p.met(&[groups(&["sre"]), groups(&["security"])], 2));
        // Someone in both groups fills one seat, not two.
        assert!(!p.met(&[groups(&["sre", "security"])], 1));
        // ... but the matching finds the other seat for them.
        assert!(p.met(&[groups(&["sre", "security"]), groups(&["sre"])], 2));
        // The request may ask for more.
        assert!(!p.met(&[groups(&["sre"]), groups(&["security"])], 3));
        assert_eq!(p.describe(), "1 of sre and 1 of security");
    }

    #[test]
    fn absurd_policies_are_refused() {
        let mut p = two_groups();
        p.rule[0].count = 0;
        assert_eq!(p.check().unwrap_err().field(), "rule.count");
        let mut p = two_groups();
        p.min_quorum = 1;
        assert_eq!(p.check().unwrap_err().field(), "min_quorum");
        let mut p = two_groups();
        p.rule.clear();
        assert_eq!(p.check().unwrap_err().field(), "rule");
        let mut p = two_groups();
        p.rule[1].group = "sre".into();
        assert_eq!(p.check().unwrap_err().field(), "rule");
        let mut p = two_groups();
        p.max_timeout_seconds = 0;
        assert_eq!(p.check().unwrap_err().field(), "max_timeout_seconds");
        let mut p = two_groups();
        p.rule[0].group = "sre approvers".into();
        assert!(p.check().is_err());
        assert!(two_groups().check().is_ok());
    }
}

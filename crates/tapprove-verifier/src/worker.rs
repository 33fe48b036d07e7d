//! The verifier as a Step Functions activity worker: long-polls the
//! verifier activity, answers each gate call, and sends the result.

use std::time::Duration;

use tapprove_aws::dynamodb::DynamoRegistry;
use tapprove_aws::sfn::{Delivery, StepFunctions};
use tapprove_core::VerifierPolicy;

use crate::announce::Announcer;
use crate::gate::{announcement, handle};

/// Polls `activity_arn` until `stop` resolves. Errors back off (1 s to
/// 30 s) instead of spinning; a task whose result cannot be delivered is
/// logged and left to the gate's retry. What the gate took is announced
/// to `announcer`'s topic, if any.
pub async fn run(
    sfn: &StepFunctions,
    activity_arn: &str,
    worker_name: &str,
    policy: &VerifierPolicy,
    registry: &DynamoRegistry,
    announcer: Option<&Announcer>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut backoff = Duration::from_secs(1);
    loop {
        let polled = tokio::select! {
            () = &mut stop => return,
            polled = sfn.poll_activity(activity_arn, worker_name) => polled,
        };
        let task = match polled {
            Ok(Some(task)) => {
                backoff = Duration::from_secs(1);
                task
            }
            Ok(None) => continue,
            Err(e) => {
                eprintln!("tapprove-verifier: polling {activity_arn} failed: {e}; retrying in {backoff:?}");
                tokio::select! {
                    () = &mut stop => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        let now = crate::now();
        let answer = handle(&task.input, &now, policy, registry, registry).await;
        let sent = match &answer {
            Ok(tally) => sfn.send_success(&task.token, &tally.to_string()).await,
            Err(failure) => {
                sfn.send_failure(&task.token, &failure.error, &failure.cause)
                    .await
            }
        };
        // Announced once the gate has the answer: a step Step Functions
        // did not take is asked again, and announced then.
        if let (Ok(Delivery::Acknowledged), Some(announcer)) = (&sent, announcer)
            && let Some(news) = announcement(&task.input, &answer)
        {
            announcer.publish(&news).await;
        }
        match (sent, &answer) {
            (Ok(Delivery::Acknowledged), Ok(_)) => eprintln!("tapprove-verifier: verified"),
            (Ok(Delivery::Acknowledged), Err(f)) => eprintln!("tapprove-verifier: {}", f.error),
            (Ok(Delivery::Gone(gone)), _) => {
                eprintln!("tapprove-verifier: the gate's task is {}", gone.explain())
            }
            (Err(e), _) => eprintln!("tapprove-verifier: could not answer the gate: {e}"),
        }
    }
}

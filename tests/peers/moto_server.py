#!/usr/bin/env python3
"""Run the `moto` AWS emulator as a test peer for Tapprove.

    python tests/peers/moto_server.py [--host 127.0.0.1] [--port 0]
                                      [--activity-poll-seconds 60]

Starts moto's server in-process (all services; Tapprove uses Step Functions,
SQS, DynamoDB, STS and IAM), switches Step Functions to *executing* state
machines, prints exactly one line ``READY http://HOST:PORT`` on stdout and
serves until SIGTERM/SIGINT.

moto (5.2.x) executes state machines with its "parser" backend
(moto/stepfunctions/parser/, a port of LocalStack's interpreter), but its
server lacks a few things Tapprove relies on.  This launcher adds them with
small, targeted patches (see ``install_patches``):

1. ``GetActivityTask`` is not served at all.  We add the action, backed by a
   long poll on a threading.Condition (no busy loop), whose maximum wait is
   ``--activity-poll-seconds`` (AWS: 60 s) so tests stay fast.
2. Every parser execution gets a fresh, empty activity store
   (``activity_store={}`` in StepFunctionsParserBackend.start_execution), so an
   ``arn:aws:states:::activity:...`` Task always fails with "activity does not
   exist".  We give each backend one shared store, filled by CreateActivity.
3. ``SendTaskFailure`` drops ``cause`` (StepFunctionResponse.send_task_failure
   never reads it), so the execution's failure has no cause.  We pass it on.
4. ``StopExecution`` only flags the execution as stopped: a Task that waits for
   an activity worker or a task token keeps sleeping until its own timeout, so
   the execution stays RUNNING.  We wake those waits, and keep the execution
   ABORTED (not FAILED) when the woken task then errors out.
5. A task whose state already timed out (or whose execution was stopped) stays
   queued on its activity and would be handed to the next worker.  We only
   hand out tasks whose state is still waiting for a worker.
6. StartExecution without a ``name`` gets the literal name "None" in the parser
   backend (the plain backend makes a UUID), so a second unnamed start fails
   with ExecutionAlreadyExists.  We generate a UUID name, as AWS does.
7. The ``arn:aws:states:::states:startExecution(.sync|.sync:2)`` integration
   sends AWS's PascalCase parameters (StateMachineArn, Input) to boto3, which
   wants camelCase, and reads the camelCase answer as PascalCase: moto made
   StateTaskService._normalise_parameters/_normalise_response no-ops.  For the
   Step Functions integration we restore LocalStack's botocore-model-driven
   renaming, so nested state machines work.
8. With HeartbeatSeconds, a SendTaskSuccess/Failure that arrives between the
   worker's GetActivityTask and the state arming its heartbeat timer is only
   noticed when that timer expires (the execution then fails with
   States.Timeout), and a SendTaskHeartbeat in that window, or for a task
   without HeartbeatSeconds, answers InvalidToken (AWS accepts it).  We arm the
   timer as already signalled when an outcome is there, and accept heartbeats
   for every live token.
9. moto's CloudFormation skips resource types it has no model for, and then
   fails on any Fn::GetAtt of them; it has none for AWS::Lambda::Url and
   AWS::StepFunctions::Activity.  Its AWS::StepFunctions::StateMachine goes
   into the plain backend (the server answers from the parser backend, so
   DescribeStateMachine does not find it), ignores DefinitionSubstitutions and
   has no GetAtt Arn.  We add the two models on moto's Lambda
   (CreateFunctionUrlConfig) and Step Functions (CreateActivity) backends, and
   make the state machine model use the server's backend and substitute
   ${Key} for each key of DefinitionSubstitutions, as CloudFormation does.
10. moto's CloudFormation has no AWS::ApiGatewayV2 models either, so it skips
   an HTTP API with its authorizer, integration, route and stage (and a
   Fn::GetAtt of the API fails the stack), and its server has no
   GetAuthorizers.  We add models for the five types on moto's API Gateway v2
   backend (CreateApi, CreateAuthorizer, CreateIntegration, CreateRoute,
   CreateStage), so the server answers about a stack's API, and add the
   GetAuthorizers action.
11. moto's CloudFormation resolves ``Ref: AWS::NoValue`` in a list (such as
   an ``Fn::If`` choosing whether a policy statement exists) to a null
   element; CloudFormation removes the element.  We remove it.
12. moto's CloudFormation splits a ``CommaDelimitedList`` (or ``List<...>``)
   parameter at commas only when the stack passes it; a default stays one
   string, which ``Fn::Join`` then joins letter by letter.  CloudFormation
   splits the default too.  We split it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import urllib.request
import uuid

# Maximum time an empty GetActivityTask long-poll waits (AWS: 60 s).
ACTIVITY_POLL_SECONDS = 60.0

# The CloudFormation models of patches 9 and 10 (strong references, see there).
CFN_MODELS: list[type] = []


def install_patches() -> None:
    """Patch moto's Step Functions and its CloudFormation models (idempotent)."""
    from moto.core.responses import ActionResult
    from moto.stepfunctions import models as sfn_models
    from moto.stepfunctions import responses as sfn_responses
    from moto.stepfunctions.parser import models as parser_models
    from moto.stepfunctions.parser.api import ActivityDoesNotExist
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import (
        ExecutionState,
    )
    from moto.stepfunctions.parser.asl.eval.callback import callback as cb
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.backend import execution as parser_execution
    from moto.stepfunctions.parser.backend.activity import Activity, ActivityTask

    if getattr(sfn_responses.StepFunctionResponse, "_tapprove_patched", False):
        return
    sfn_responses.StepFunctionResponse._tapprove_patched = True

    # ------------------------------------------------------------------
    # Activities that a worker can long-poll, one store per backend
    # (patches 1, 2 and 5).
    # ------------------------------------------------------------------
    class PollableActivity(Activity):
        """moto's parser Activity (a bare deque) plus a Condition so that
        GetActivityTask can block until a task is queued."""

        def __init__(self, arn, name, creation_date=None):
            super().__init__(arn=arn, name=name, creation_date=creation_date)
            self._cond = threading.Condition()

        def add_task(self, task: ActivityTask) -> None:
            with self._cond:
                self._tasks.append(task)
                self._cond.notify()

        def poll(self, timeout: float, worker_name: str | None) -> ActivityTask | None:
            deadline = time.monotonic() + timeout
            with self._cond:
                while True:
                    while self._tasks:
                        task = self._tasks.popleft()
                        start = task.endpoint.get_activity_task_start_endpoint()
                        if start.notify(cb.ActivityTaskStartOutcome(worker_name)):
                            return task
                        # else: the state gave up on this task (timed out or
                        # stopped): drop it, as AWS never hands it out.
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    self._cond.wait(remaining)

    _store_lock = threading.Lock()

    def activity_store(backend) -> dict:
        """The one activity store (ARN -> PollableActivity) of a backend."""
        with _store_lock:
            store = backend.__dict__.get("_tapprove_activity_store")
            if store is None:
                store = backend.__dict__["_tapprove_activity_store"] = {}
            return store

    orig_create_activity = sfn_models.StepFunctionBackend.create_activity
    orig_delete_activity = sfn_models.StepFunctionBackend.delete_activity

    def create_activity(self, name, tags=None, encryption_configuration=None):
        activity = orig_create_activity(
            self, name, tags=tags, encryption_configuration=encryption_configuration
        )
        activity_store(self)[activity.arn] = PollableActivity(
            arn=activity.arn, name=activity.name, creation_date=activity.creation_date
        )
        return activity

    def delete_activity(self, activity_arn):
        orig_delete_activity(self, activity_arn)
        activity_store(self).pop(activity_arn, None)

    sfn_models.StepFunctionBackend.create_activity = create_activity
    sfn_models.StepFunctionBackend.delete_activity = delete_activity

    # StepFunctionsParserBackend.start_execution builds
    # Execution(..., activity_store={}).  Rebinding the module-level name makes
    # it build this subclass, which swaps in the backend's shared store.
    class SharedStoreExecution(parser_execution.Execution):
        def __init__(self, *args, **kwargs):
            backend = parser_models.stepfunctions_parser_backends[
                kwargs["account_id"]
            ][kwargs["region_name"]]
            kwargs["activity_store"] = activity_store(backend)
            super().__init__(*args, **kwargs)

    parser_models.Execution = SharedStoreExecution

    # StartExecution without a name: AWS generates a UUID (patch 6).
    orig_start_execution = parser_models.StepFunctionsParserBackend.start_execution

    def start_execution(self, state_machine_arn, name=None, *args, **kwargs):
        if not name:
            name = str(uuid.uuid4())
        return orig_start_execution(self, state_machine_arn, name, *args, **kwargs)

    parser_models.StepFunctionsParserBackend.start_execution = start_execution

    # ------------------------------------------------------------------
    # Nested executions: rename parameters/response fields (patch 7).
    # ------------------------------------------------------------------
    from botocore.session import get_session
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
        StateTaskServiceSfn,
    )
    from moto.stepfunctions.parser.utils import snake_to_camel_case

    def operation_model(task, boto_service_name, service_action_name):
        service = task._get_boto_service_name(boto_service_name=boto_service_name)
        action = task._get_boto_service_action(service_action_name=service_action_name)
        model = get_session().get_service_model(service)
        return model.operation_model(snake_to_camel_case(action))

    orig_sfn_normalise_parameters = StateTaskServiceSfn._normalise_parameters

    def sfn_normalise_parameters(
        self, parameters, boto_service_name=None, service_action_name=None
    ):
        orig_sfn_normalise_parameters(
            self, parameters, boto_service_name, service_action_name
        )
        op = operation_model(self, boto_service_name, service_action_name)
        if op.input_shape is not None:
            self._to_boto_request(parameters, op.input_shape)  # StateMachineArn -> stateMachineArn

    def sfn_normalise_response(
        self, response, boto_service_name=None, service_action_name=None
    ):
        op = operation_model(self, boto_service_name, service_action_name)
        if op.output_shape is not None:
            self._from_boto_response(response, op.output_shape)  # executionArn -> ExecutionArn
        if isinstance(response, dict):
            # boto3 gives datetimes, which the execution output cannot hold
            # (json.dumps fails in DescribeExecution); AWS puts epoch millis.
            for key, value in response.items():
                if isinstance(value, datetime.datetime):
                    response[key] = int(value.timestamp() * 1000)

    StateTaskServiceSfn._normalise_parameters = sfn_normalise_parameters
    StateTaskServiceSfn._normalise_response = sfn_normalise_response

    # ------------------------------------------------------------------
    # "Task started" hand-shake between a worker and the waiting state
    # (patch 5).
    # ------------------------------------------------------------------
    class ClaimableStartEndpoint(cb.ActivityTaskStartEndpoint):
        """moto's version has no initial outcome (AttributeError when the wait
        times out) and accepts a worker even after the state gave up.  Here
        the first of {worker claims the task, state stops waiting} wins."""

        def __init__(self):
            super().__init__()
            self._outcome = None
            self._lock = threading.Lock()
            self._closed = False

        def wait(self, timeout_seconds):
            self._next_activity_task_start_event.wait(timeout=timeout_seconds)
            with self._lock:
                self._closed = True
                return self._outcome

        def notify(self, activity_task) -> bool:
            with self._lock:
                if self._closed:
                    return False
                self._outcome = activity_task
                self._next_activity_task_start_event.set()
                return True

        def close(self) -> None:
            with self._lock:
                self._closed = True
            self._next_activity_task_start_event.set()

    # ActivityCallbackEndpoint.__init__ looks the class up in this module.
    cb.ActivityTaskStartEndpoint = ClaimableStartEndpoint

    # Early outcome / early heartbeat (patch 8).  The waiting loops read the
    # outcome only after the heartbeat event fires, so fire it at once if the
    # outcome came before the timer was armed.
    orig_setup_heartbeat_endpoint = cb.CallbackEndpoint.setup_heartbeat_endpoint

    def setup_heartbeat_endpoint(self, heartbeat_seconds):
        heartbeat_endpoint = orig_setup_heartbeat_endpoint(self, heartbeat_seconds)
        if self._outcome is not None:
            heartbeat_endpoint.notify()
        return heartbeat_endpoint

    def notify_heartbeat(self) -> bool:
        if self._heartbeat_endpoint is not None:
            self._heartbeat_endpoint.notify()
        return True  # the token is live: AWS accepts the heartbeat

    cb.CallbackEndpoint.setup_heartbeat_endpoint = setup_heartbeat_endpoint
    cb.CallbackEndpoint.notify_heartbeat = notify_heartbeat

    def add_activity_task(self, callback_id, activity_arn, activity_input):
        # Same as CallbackPoolManager.add_activity_task, but the endpoint is
        # registered *before* the task is queued (so a fast worker's
        # SendTask* finds it), and the queued task carries its endpoint (so
        # GetActivityTask can claim it without scanning executions).
        if callback_id in self._pool:
            raise ValueError("Duplicate callback token id value.")
        activity = self._activity_store.get(activity_arn)
        if activity is None:
            raise ActivityDoesNotExist()
        endpoint = cb.ActivityCallbackEndpoint(
            callback_id=callback_id, activity_input=activity_input
        )
        self._pool[callback_id] = endpoint
        task = ActivityTask(task_token=callback_id, task_input=activity_input)
        task.endpoint = endpoint
        activity.add_task(task)
        return endpoint

    cb.CallbackPoolManager.add_activity_task = add_activity_task

    # ------------------------------------------------------------------
    # GetActivityTask (JSON action AWSStepFunctions.GetActivityTask, patch 1).
    # moto dispatches X-Amz-Target actions to the snake_case method.
    # ------------------------------------------------------------------
    def get_activity_task(self) -> ActionResult:
        activity_arn = self._get_param("activityArn")
        worker_name = self._get_param("workerName")
        backend = self.stepfunction_backend
        backend.describe_activity(activity_arn)  # InvalidArn / ActivityDoesNotExist
        activity = activity_store(backend).get(activity_arn)
        if activity is None:
            raise ActivityDoesNotExist(activity_arn)
        task = activity.poll(ACTIVITY_POLL_SECONDS, worker_name)
        if task is None:
            # AWS: "the poll returns a taskToken with a null string".
            return ActionResult({})
        return ActionResult({"taskToken": task.task_token, "input": task.task_input})

    sfn_responses.StepFunctionResponse.get_activity_task = get_activity_task

    # ------------------------------------------------------------------
    # SendTaskFailure: keep the cause (patch 3).
    # ------------------------------------------------------------------
    def send_task_failure(self) -> ActionResult:
        from moto.core.responses import EmptyResult

        task_token = self._get_param("taskToken")
        error = self._get_param("error")
        cause = self._get_param("cause")
        backend = self.stepfunction_backend
        if isinstance(backend, parser_models.StepFunctionsParserBackend):
            backend.send_task_failure(task_token, error=error, cause=cause)
        else:  # the non-executing backend has no cause parameter
            backend.send_task_failure(task_token, error=error)
        return EmptyResult()

    sfn_responses.StepFunctionResponse.send_task_failure = send_task_failure

    # ------------------------------------------------------------------
    # StopExecution: wake the waits, end ABORTED (patch 4).
    # ------------------------------------------------------------------
    orig_stop = parser_execution.Execution.stop

    def stop(self, stop_date, error, cause):
        orig_stop(self, stop_date=stop_date, error=error, cause=cause)
        if self.stop_date is None:  # StopExecution's response needs stopDate
            self.stop_date = stop_date
        worker = self.exec_worker
        env = worker.env if worker is not None else None
        if env is None:
            return
        # Wake every wait of this execution: a worker that has not picked the
        # activity task yet, a task token (activity or .waitForTaskToken),
        # a heartbeat.  The woken task then ends with a timeout-like error.
        for endpoint in list(env.callback_pool_manager._pool.values()):
            if isinstance(endpoint, cb.ActivityCallbackEndpoint):
                start = endpoint.get_activity_task_start_endpoint()
                if isinstance(start, ClaimableStartEndpoint):
                    start.close()
            endpoint.interrupt_all()

    parser_execution.Execution.stop = stop

    orig_evaluate_with_timeout = ExecutionState._evaluate_with_timeout

    def _evaluate_with_timeout(self, env):
        try:
            return orig_evaluate_with_timeout(self, env)
        except Exception:
            # An error of a task interrupted by StopExecution must not turn
            # the execution from ABORTED into FAILED (nor add a failure event).
            if isinstance(env.program_state(), ProgramStopped):
                return None
            raise

    ExecutionState._evaluate_with_timeout = _evaluate_with_timeout

    # ------------------------------------------------------------------
    # CloudFormation: AWS::Lambda::Url and AWS::StepFunctions::Activity
    # models, state machines in the server's backend (patch 9).
    # ------------------------------------------------------------------
    from moto.awslambda.exceptions import UnknownFunctionException
    from moto.awslambda.models import lambda_backends
    from moto.core.common_models import CloudFormationModel
    from moto.stepfunctions.utils import cfn_to_api_tags

    def unknown_attribute() -> Exception:
        # Imported late: moto.cloudformation imports every modelled service.
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        return UnformattedGetAttTemplateException()

    # moto's CloudFormation finds models as CloudFormationModel.__subclasses__()
    # (moto.cloudformation.parsing.get_model_map), so defining these classes
    # registers them; CFN_MODELS keeps them alive (__subclasses__ is weak).
    def register_cfn_models(*models: type) -> None:
        CFN_MODELS.extend(models)
        parsing = sys.modules.get("moto.cloudformation.parsing")
        if parsing is not None:  # already imported: drop its cached model lists
            for cached in (
                parsing.get_model_list,
                parsing.get_model_map,
                parsing.get_name_type_map,
            ):
                cached.cache_clear()

    class LambdaUrlResource(CloudFormationModel):
        """AWS::Lambda::Url: the function's URL config in moto's Lambda
        backend, as lambda:CreateFunctionUrlConfig makes it."""

        __module__ = "moto.awslambda.models"  # InstanceTrackerMeta wants moto.<service>

        def __init__(self, url_config):
            self.url_config = url_config

        @property
        def physical_resource_id(self) -> str:
            return self.url_config.function.function_arn  # Ref: the function's ARN

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Lambda::Url"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("FunctionArn", "FunctionUrl")

        def get_cfn_attribute(self, attribute_name: str):
            if attribute_name == "FunctionArn":
                return self.url_config.function.function_arn
            if attribute_name == "FunctionUrl":
                return self.url_config.url
            raise unknown_attribute()

        @staticmethod
        def config(properties) -> dict:
            return {
                k: properties[k]
                for k in ("AuthType", "Cors", "InvokeMode")
                if k in properties
            }

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        ):
            properties = cloudformation_json["Properties"]
            backend = lambda_backends[account_id][region_name]
            return cls(
                backend.create_function_url_config(  # function name or ARN
                    properties["TargetFunctionArn"], cls.config(properties)
                )
            )

        @classmethod
        def update_from_cloudformation_json(
            cls,
            original_resource,
            new_resource_name,
            cloudformation_json,
            account_id,
            region_name,
        ):
            properties = cloudformation_json["Properties"]
            backend = lambda_backends[account_id][region_name]
            target = properties["TargetFunctionArn"]
            if (
                backend.get_function(target).function_arn
                == original_resource.physical_resource_id
            ):
                # AuthType, Cors: the URL stays.
                return cls(
                    backend.update_function_url_config(target, cls.config(properties))
                )
            new = cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )
            cls.delete_from_cloudformation_json(
                original_resource.physical_resource_id,
                cloudformation_json,
                account_id,
                region_name,
            )
            return new

        @classmethod
        def delete_from_cloudformation_json(
            cls, resource_name, cloudformation_json, account_id, region_name
        ):
            try:  # resource_name is the physical id: the function's ARN
                lambda_backends[account_id][region_name].delete_function_url_config(
                    resource_name
                )
            except UnknownFunctionException:
                pass  # the function went first, and its URL with it

    class ActivityResource(CloudFormationModel):
        """AWS::StepFunctions::Activity, made by the backend the server answers
        from (CreateActivity above), so GetActivityTask and executions see it."""

        __module__ = "moto.stepfunctions.models"

        def __init__(self, activity):
            self.activity = activity

        @property
        def physical_resource_id(self) -> str:
            return self.activity.arn  # Ref: the ARN

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::StepFunctions::Activity"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("Arn", "Name")

        def get_cfn_attribute(self, attribute_name: str):
            if attribute_name == "Arn":
                return self.activity.arn
            if attribute_name == "Name":
                return self.activity.name
            raise unknown_attribute()

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        ):
            properties = cloudformation_json["Properties"]
            backend = sfn_responses.get_backend(account_id, region_name)
            return cls(
                backend.create_activity(
                    properties.get("Name", resource_name),
                    tags=cfn_to_api_tags(properties.get("Tags", [])),
                )
            )

        @classmethod
        def update_from_cloudformation_json(
            cls,
            original_resource,
            new_resource_name,
            cloudformation_json,
            account_id,
            region_name,
        ):
            if new_resource_name == original_resource.activity.name:
                # Only Tags changed.
                backend = sfn_responses.get_backend(account_id, region_name)
                tags = cfn_to_api_tags(
                    cloudformation_json["Properties"].get("Tags", [])
                )
                backend.tagger.tag_resource(original_resource.activity.arn, tags)
                return original_resource
            new = cls.create_from_cloudformation_json(  # a new Name replaces it
                new_resource_name, cloudformation_json, account_id, region_name
            )
            cls.delete_from_cloudformation_json(
                original_resource.physical_resource_id,
                cloudformation_json,
                account_id,
                region_name,
            )
            return new

        @classmethod
        def delete_from_cloudformation_json(
            cls, resource_name, cloudformation_json, account_id, region_name
        ):
            sfn_responses.get_backend(account_id, region_name).delete_activity(
                resource_name
            )

    register_cfn_models(LambdaUrlResource, ActivityResource)

    # AWS::StepFunctions::StateMachine: moto's model uses the plain backend
    # and ignores DefinitionSubstitutions and GetAtt Arn.
    def substituted_definition(properties) -> str:
        """DefinitionString with ${Key} replaced for each Key of
        DefinitionSubstitutions, as CloudFormation does; any other ${...}
        stays as it is."""
        substitutions = properties.get("DefinitionSubstitutions") or {}

        def value(match: re.Match) -> str:
            if match.group(1) not in substitutions:
                return match.group(0)
            v = substitutions[match.group(1)]
            return json.dumps(v) if isinstance(v, bool) else str(v)  # true, 5, text

        return re.sub(r"\$\{([^}]*)\}", value, properties.get("DefinitionString", ""))

    StateMachine = sfn_models.StateMachine
    orig_sm_update = StateMachine.update_from_cloudformation_json.__func__
    orig_sm_has_cfn_attr = StateMachine.has_cfn_attr.__func__
    orig_sm_get_cfn_attribute = StateMachine.get_cfn_attribute

    def sm_create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        properties = cloudformation_json["Properties"]
        backend = sfn_responses.get_backend(account_id, region_name)
        return backend.create_state_machine(
            properties.get("StateMachineName", resource_name),
            substituted_definition(properties),
            properties.get("RoleArn", ""),
            tags=cfn_to_api_tags(properties.get("Tags", [])),
            sm_type=properties.get("StateMachineType"),
        )

    def sm_update_from_cloudformation_json(
        cls,
        original_resource,
        new_resource_name,
        cloudformation_json,
        account_id,
        region_name,
    ):
        properties = cloudformation_json.get("Properties", {})
        if "DefinitionString" in properties:
            properties["DefinitionString"] = substituted_definition(properties)
        properties.pop("DefinitionSubstitutions", None)
        if (
            properties.get("StateMachineName", original_resource.name)
            != original_resource.name
        ):
            # Replacement: moto's code, which calls the create and delete here.
            return orig_sm_update(
                cls,
                original_resource,
                new_resource_name,
                cloudformation_json,
                account_id,
                region_name,
            )
        backend = sfn_responses.get_backend(account_id, region_name)
        state_machine = backend.update_state_machine(
            original_resource.arn,
            definition=properties.get("DefinitionString"),
            role_arn=properties.get("RoleArn"),
        )
        backend.tagger.tag_resource(
            state_machine.arn, cfn_to_api_tags(properties.get("Tags", []))
        )
        return state_machine

    def sm_delete_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name
    ):
        sfn_responses.get_backend(account_id, region_name).delete_state_machine(
            resource_name
        )

    def sm_has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn" or orig_sm_has_cfn_attr(cls, attr)

    def sm_get_cfn_attribute(self, attribute_name: str):
        if attribute_name == "Arn":
            return self.arn
        return orig_sm_get_cfn_attribute(self, attribute_name)

    StateMachine.create_from_cloudformation_json = classmethod(
        sm_create_from_cloudformation_json
    )
    StateMachine.update_from_cloudformation_json = classmethod(
        sm_update_from_cloudformation_json
    )
    StateMachine.delete_from_cloudformation_json = classmethod(
        sm_delete_from_cloudformation_json
    )
    StateMachine.has_cfn_attr = classmethod(sm_has_cfn_attr)
    StateMachine.get_cfn_attribute = sm_get_cfn_attribute

    # ------------------------------------------------------------------
    # CloudFormation: AWS::ApiGatewayV2 models, and GetAuthorizers (patch 10).
    # ------------------------------------------------------------------
    from moto.apigatewayv2 import responses as apigwv2_responses
    from moto.apigatewayv2.exceptions import ApiNotFound
    from moto.apigatewayv2.models import apigatewayv2_backends

    def apigwv2_backend(account_id, region_name):
        return apigatewayv2_backends[account_id][region_name]

    def camel_keys(settings: dict | None) -> dict | None:
        """A CloudFormation settings object ({"ThrottlingBurstLimit": 50}) with
        the API's field names ({"throttlingBurstLimit": 50})."""
        if settings is None:
            return None
        return {k[:1].lower() + k[1:]: v for k, v in settings.items()}

    class ApiResource(CloudFormationModel):
        """AWS::ApiGatewayV2::Api: an API in moto's API Gateway v2 backend, as
        CreateApi makes it."""

        __module__ = "moto.apigatewayv2.models"

        def __init__(self, api):
            self.api = api

        @property
        def physical_resource_id(self) -> str:
            return self.api.api_id  # Ref: the API's id

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::ApiGatewayV2::Api"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("ApiEndpoint", "ApiId")

        def get_cfn_attribute(self, attribute_name: str):
            if attribute_name == "ApiEndpoint":
                return self.api.api_endpoint
            if attribute_name == "ApiId":
                return self.api.api_id
            raise unknown_attribute()

        @staticmethod
        def settings(name, properties) -> dict:
            """The arguments create_api and update_api share."""
            return {
                "api_key_selection_expression": properties.get(
                    "ApiKeySelectionExpression"
                ),
                "cors_configuration": camel_keys(properties.get("CorsConfiguration")),
                "description": properties.get("Description"),
                "disable_schema_validation": properties.get("DisableSchemaValidation"),
                "disable_execute_api_endpoint": properties.get(
                    "DisableExecuteApiEndpoint"
                ),
                "name": name,
                "route_selection_expression": properties.get(
                    "RouteSelectionExpression"
                ),
                "version": properties.get("Version"),
            }

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        ):
            properties = cloudformation_json["Properties"]
            return cls(
                apigwv2_backend(account_id, region_name).create_api(
                    protocol_type=properties["ProtocolType"],
                    tags=properties.get("Tags"),  # a map, as in CreateApi
                    **cls.settings(resource_name, properties),  # Name, or generated
                )
            )

        @classmethod
        def update_from_cloudformation_json(
            cls,
            original_resource,
            new_resource_name,
            cloudformation_json,
            account_id,
            region_name,
        ):
            properties = cloudformation_json["Properties"]
            if properties["ProtocolType"] == original_resource.api.protocol_type:
                # The API (and so its parts) stays.
                backend = apigwv2_backend(account_id, region_name)
                api = backend.update_api(
                    original_resource.api.api_id,
                    **cls.settings(new_resource_name, properties),
                )
                backend.tag_resource(api.arn, properties.get("Tags"))
                return original_resource
            new = cls.create_from_cloudformation_json(  # a new ProtocolType replaces it
                new_resource_name, cloudformation_json, account_id, region_name
            )
            cls.delete_from_cloudformation_json(
                original_resource.physical_resource_id,
                cloudformation_json,
                account_id,
                region_name,
            )
            return new

        @classmethod
        def delete_from_cloudformation_json(
            cls, resource_name, cloudformation_json, account_id, region_name
        ):
            # resource_name is the physical id: the API's id.  Its parts go
            # with it; deleting an absent API is a no-op.
            apigwv2_backend(account_id, region_name).delete_api(resource_name)

    class ApiPart:
        """What the models of an API's parts (authorizer, integration, route,
        stage) share.  moto keeps a part inside its API, so a model holds the
        API's id besides the part's own (its Ref).  Each part defines
        create(backend, api_id, properties) -> id, remove(backend, api_id, id)
        and change(backend, api_id, id, properties), the in-place update, or
        change = None to be replaced on every update.  A mixin, not a
        CloudFormationModel: moto only registers direct subclasses."""

        id_attribute: str | None = None  # the GetAtt of the part's id

        def __init__(self, api_id: str, part_id: str):
            self.api_id = api_id
            self.part_id = part_id

        @property
        def physical_resource_id(self) -> str:
            return self.part_id

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr == cls.id_attribute

        def get_cfn_attribute(self, attribute_name: str):
            if attribute_name == self.id_attribute:
                return self.part_id
            raise unknown_attribute()

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        ):
            properties = cloudformation_json["Properties"]
            backend = apigwv2_backend(account_id, region_name)
            api_id = properties["ApiId"]
            return cls(api_id, cls.create(backend, api_id, properties))

        @classmethod
        def update_from_cloudformation_json(
            cls,
            original_resource,
            new_resource_name,
            cloudformation_json,
            account_id,
            region_name,
        ):
            properties = cloudformation_json["Properties"]
            if properties["ApiId"] == original_resource.api_id and cls.change:
                cls.change(
                    apigwv2_backend(account_id, region_name),
                    original_resource.api_id,
                    original_resource.part_id,
                    properties,
                )
                return original_resource  # the id stays, and what refers to it
            # Replacement.  The old part goes first: a stage replaced on the
            # same API keeps its name, which is its key there.
            original_resource.delete(account_id, region_name)
            return cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )

        def delete(self, account_id, region_name) -> None:
            # moto's ResourceMap deletes a resource through this method when
            # the model has one; delete_from_cloudformation_json would get the
            # template's ApiId unresolved ({"Ref": ...}), so pass the id here.
            self.delete_from_cloudformation_json(
                self.part_id,
                {"Properties": {"ApiId": self.api_id}},
                account_id,
                region_name,
            )

        @classmethod
        def delete_from_cloudformation_json(
            cls, resource_name, cloudformation_json, account_id, region_name
        ):
            try:  # resource_name is the physical id: the part's id
                cls.remove(
                    apigwv2_backend(account_id, region_name),
                    cloudformation_json["Properties"]["ApiId"],
                    resource_name,
                )
            except ApiNotFound:
                pass  # the API went first, and its parts with it

    class AuthorizerResource(ApiPart, CloudFormationModel):
        """AWS::ApiGatewayV2::Authorizer, as CreateAuthorizer makes it."""

        __module__ = "moto.apigatewayv2.models"
        id_attribute = "AuthorizerId"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::ApiGatewayV2::Authorizer"

        @staticmethod
        def settings(properties) -> dict:
            """The arguments create_authorizer and update_authorizer share."""
            return {
                "auth_creds_arn": properties.get("AuthorizerCredentialsArn"),
                "auth_payload_format_version": properties.get(
                    "AuthorizerPayloadFormatVersion"
                ),
                "auth_result_ttl": properties.get("AuthorizerResultTtlInSeconds"),
                "authorizer_type": properties["AuthorizerType"],
                "authorizer_uri": properties.get("AuthorizerUri"),
                "enable_simple_response": properties.get("EnableSimpleResponses"),
                "identity_source": properties.get("IdentitySource"),
                "identity_validation_expr": properties.get(
                    "IdentityValidationExpression"
                ),
                "jwt_config": camel_keys(properties.get("JwtConfiguration")),
                "name": properties["Name"],
            }

        @classmethod
        def create(cls, backend, api_id, properties) -> str:
            return backend.create_authorizer(api_id, **cls.settings(properties)).id

        @classmethod
        def change(cls, backend, api_id, part_id, properties) -> None:
            backend.update_authorizer(api_id, part_id, **cls.settings(properties))

        @staticmethod
        def remove(backend, api_id, part_id) -> None:
            backend.delete_authorizer(api_id, part_id)

    class IntegrationResource(ApiPart, CloudFormationModel):
        """AWS::ApiGatewayV2::Integration, as CreateIntegration makes it
        (ResponseParameters, shaped differently in CloudFormation, is not
        passed on)."""

        __module__ = "moto.apigatewayv2.models"
        id_attribute = "IntegrationId"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::ApiGatewayV2::Integration"

        @staticmethod
        def settings(properties) -> dict:
            """The arguments create_integration and update_integration share."""
            return {
                "connection_id": properties.get("ConnectionId"),
                "connection_type": properties.get("ConnectionType"),
                "content_handling_strategy": properties.get("ContentHandlingStrategy"),
                "credentials_arn": properties.get("CredentialsArn"),
                "description": properties.get("Description"),
                "integration_method": properties.get("IntegrationMethod"),
                "integration_subtype": properties.get("IntegrationSubtype"),
                "integration_type": properties["IntegrationType"],
                "integration_uri": properties.get("IntegrationUri"),
                "passthrough_behavior": properties.get("PassthroughBehavior"),
                "payload_format_version": properties.get("PayloadFormatVersion"),
                "request_parameters": properties.get("RequestParameters"),
                "request_templates": properties.get("RequestTemplates"),
                "response_parameters": None,
                "template_selection_expression": properties.get(
                    "TemplateSelectionExpression"
                ),
                "timeout_in_millis": properties.get("TimeoutInMillis"),
                "tls_config": camel_keys(properties.get("TlsConfig")),
            }

        @classmethod
        def create(cls, backend, api_id, properties) -> str:
            return backend.create_integration(
                api_id=api_id, **cls.settings(properties)
            ).id

        @classmethod
        def change(cls, backend, api_id, part_id, properties) -> None:
            backend.update_integration(
                api_id=api_id, integration_id=part_id, **cls.settings(properties)
            )

        @staticmethod
        def remove(backend, api_id, part_id) -> None:
            backend.delete_integration(api_id, part_id)

    class RouteResource(ApiPart, CloudFormationModel):
        """AWS::ApiGatewayV2::Route, as CreateRoute makes it."""

        __module__ = "moto.apigatewayv2.models"
        id_attribute = "RouteId"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::ApiGatewayV2::Route"

        @staticmethod
        def settings(properties) -> dict:
            """The arguments create_route and update_route share."""
            return {
                "api_key_required": properties.get("ApiKeyRequired", False),
                "authorization_scopes": properties.get("AuthorizationScopes"),
                "authorization_type": properties.get("AuthorizationType"),
                "authorizer_id": properties.get("AuthorizerId"),
                "model_selection_expression": properties.get(
                    "ModelSelectionExpression"
                ),
                "operation_name": properties.get("OperationName"),
                "request_models": properties.get("RequestModels"),
                "request_parameters": {  # name -> {"Required": bool}
                    k: camel_keys(v)
                    for k, v in properties.get("RequestParameters", {}).items()
                },
                "route_key": properties["RouteKey"],
                "route_response_selection_expression": properties.get(
                    "RouteResponseSelectionExpression"
                ),
                "target": properties.get("Target"),
            }

        @classmethod
        def create(cls, backend, api_id, properties) -> str:
            return backend.create_route(
                api_id=api_id, **cls.settings(properties)
            ).route_id

        @classmethod
        def change(cls, backend, api_id, part_id, properties) -> None:
            backend.update_route(
                api_id=api_id, route_id=part_id, **cls.settings(properties)
            )

        @staticmethod
        def remove(backend, api_id, part_id) -> None:
            backend.delete_route(api_id, part_id)

    class StageResource(ApiPart, CloudFormationModel):
        """AWS::ApiGatewayV2::Stage, as CreateStage makes it.  Ref: the stage's
        name; no GetAtt."""

        __module__ = "moto.apigatewayv2.models"
        change = None  # moto has no UpdateStage: an update replaces the stage

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::ApiGatewayV2::Stage"

        @staticmethod
        def create(backend, api_id, properties) -> str:
            config = {  # CreateStage's request body
                "stageName": properties["StageName"],
                "accessLogSettings": camel_keys(properties.get("AccessLogSettings")),
                "autoDeploy": properties.get("AutoDeploy"),
                "clientCertificateId": properties.get("ClientCertificateId"),
                "defaultRouteSettings": camel_keys(
                    properties.get("DefaultRouteSettings")
                ),
                "description": properties.get("Description"),
                "routeSettings": {  # route key -> settings
                    k: camel_keys(v)
                    for k, v in properties.get("RouteSettings", {}).items()
                },
                "stageVariables": properties.get("StageVariables", {}),
                "tags": properties.get("Tags", {}),
            }
            # moto fills in its defaults (defaultRouteSettings) for absent
            # fields only, not for null ones.
            config = {k: v for k, v in config.items() if v is not None}
            return backend.create_stage(api_id, config).name

        @staticmethod
        def remove(backend, api_id, part_id) -> None:
            backend.delete_stage(api_id, part_id)

    register_cfn_models(
        ApiResource,
        AuthorizerResource,
        IntegrationResource,
        RouteResource,
        StageResource,
    )

    # GetAuthorizers (GET /v2/apis/{apiId}/authorizers): moto has only the
    # singular GetAuthorizer.  Like moto's GetRoutes, without pagination.
    def get_authorizers(self):
        api_id = self.path.split("/")[-2]
        api = self.apigatewayv2_backend.get_api(api_id)
        items = [a.to_json() for a in api.authorizers.values()]
        return 200, {}, json.dumps({"items": items})

    apigwv2_responses.ApiGatewayV2Response.get_authorizers = get_authorizers

    # ------------------------------------------------------------------
    # CloudFormation: AWS::NoValue removes a list element (patch 11).
    # ------------------------------------------------------------------
    from moto.cloudformation import parsing as cfn_parsing

    if not getattr(cfn_parsing.clean_json, "_tapprove_patched", False):
        resolve = cfn_parsing.clean_json

        def clean_json(resource_json, resources_map):
            # moto resolves `Ref: AWS::NoValue` (alone or out of an Fn::If)
            # to None and drops it from objects, but keeps it in a list
            # (a policy's Statement list then holds a null). CloudFormation
            # removes the element. resolve() recurses through the module's
            # clean_json, so nested lists get this too.
            if isinstance(resource_json, list):
                resolved = (clean_json(item, resources_map) for item in resource_json)
                return [item for item in resolved if item is not None]
            return resolve(resource_json, resources_map)

        clean_json._tapprove_patched = True
        cfn_parsing.clean_json = clean_json

    # ------------------------------------------------------------------
    # CloudFormation: list parameters' defaults are lists (patch 12).
    # ------------------------------------------------------------------
    if not getattr(cfn_parsing.ResourceMap.load_parameters, "_tapprove_patched", False):
        load_parameters = cfn_parsing.ResourceMap.load_parameters

        def load_parameters_with_list_defaults(self):
            load_parameters(self)
            for name, slot in self._template.get("Parameters", {}).items():
                kind = slot.get("Type", "String")
                value = self.resolved_parameters.get(name)
                is_list = kind == "CommaDelimitedList" or (kind.startswith("List<") and not kind.startswith("List<Number"))
                if is_list and isinstance(value, str):
                    self.resolved_parameters[name] = value.split(",")
                    self._parsed_resources[name] = self.resolved_parameters[name]

        load_parameters_with_list_defaults._tapprove_patched = True
        cfn_parsing.ResourceMap.load_parameters = load_parameters_with_list_defaults


def enable_state_machine_execution(base_url: str) -> None:
    """Must run before any state machine exists: the executing ("parser") and
    the plain backend are separate stores."""
    req = urllib.request.Request(
        f"{base_url}/moto-api/config",
        data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        resp.read()


def main(argv: list[str] | None = None) -> int:
    global ACTIVITY_POLL_SECONDS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    ap.add_argument(
        "--activity-poll-seconds",
        type=float,
        default=60.0,
        help="longest wait of an empty GetActivityTask (AWS: 60)",
    )
    ap.add_argument("--verbose", action="store_true", help="log every request")
    args = ap.parse_args(argv)
    ACTIVITY_POLL_SECONDS = args.activity_poll_seconds

    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # request lines
        # moto logs every failed state (e.g. a denied approval) at ERROR with a
        # long repr; those are expected outcomes here, not peer errors.
        logging.getLogger(
            "moto.stepfunctions.parser.asl.component.eval_component"
        ).addFilter(
            lambda record: not str(record.msg).startswith("%s at '%s'")
            or not str(record.args[0]).startswith("Exception=FailureEventException")
        )

    install_patches()

    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    # Service integrations (e.g. sqs:sendMessage.waitForTaskToken) call back
    # into moto at http://localhost:$MOTO_PORT (default 5000).
    os.environ["MOTO_PORT"] = str(port)

    host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    if ":" in host:
        host = f"[{host}]"
    base_url = f"http://{host}:{port}"
    enable_state_machine_execution(base_url)

    stopping = threading.Event()

    def on_signal(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    print(f"READY {base_url}", flush=True)
    while not stopping.wait(3600):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

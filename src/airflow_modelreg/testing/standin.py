"""The local AWS stand-in: moto's server on a free loopback port, plus what this workflow needs that moto lacks.

The demo and the tests talk to it over HTTP through an ordinary Airflow AWS connection whose extra names its
``endpoint_url``; the same DAGs run against real AWS when that connection points there instead.

Beyond moto (see :mod:`airflow_modelreg.testing.moto_additions` for the SageMaker actions added, and
:mod:`airflow_modelreg.testing.iam` for what its IAM enforcement checks), the stand-in
has a small control API under ``/_standin/`` for tests, the demo and the benchmarks:

``GET /_standin/calls``
    API calls served since the last reset, by ``service:Action`` (so a test can count what a sensor costs),
    and the seconds spent serving them.
``POST /_standin/calls/reset``
    Start counting again.
``POST /_standin/faults`` / ``DELETE /_standin/faults``
    Fail a share of calls with ``ThrottlingException`` or a 5xx, as AWS does under load, or refuse one
    kind of write (``deny``) to stop a task at that boundary:
    ``{"rate": 0.3, "kinds": ["throttle", "5xx"], "services": ["sagemaker"], "actions": [...], "seed": 1,
    "body_contains": "..."}``.
``POST /_standin/monitoring-executions``
    Record a Model Monitor execution and its ``constraint_violations.json`` in S3:
    ``{"schedule_name": ..., "violations": [...], "status": ..., "failure_reason": ..., "account_id": ...,
    "region_name": ...}``.
``GET /_standin/settings`` / ``POST /_standin/settings``
    The stand-in's delays: ``{"transition_seconds": 0.5, "capture_flush_seconds": 1.0}`` (also set by the
    environment variables ``MODELREG_STANDIN_TRANSITION_SECONDS`` and ``MODELREG_STANDIN_CAPTURE_FLUSH_SECONDS``).
``POST /_standin/endpoint-state``
    Put an endpoint in a state only AWS causes: ``{"endpoint_name": ..., "status": "SystemUpdating",
    "seconds": 5}``, ``{"endpoint_name": ..., "status": "Failed", "failure_reason": ...}``, or make its next
    create or update fail: ``{"endpoint_name": ..., "fail_next": "reason"}``, or complete the transition under
    way now: ``{"endpoint_name": ..., "settle_now": true}``.
``POST /_standin/invocations``
    Invoke an endpoint once per body, in-process: ``{"endpoint_name": ..., "bodies": [...],
    "content_type": "text/csv"}``; returns how many requests each variant served.
``POST /_standin/sqs-messages``
    Put many messages in an SQS queue at once: ``{"queue_url": ..., "bodies": [...]}`` (moto's SendMessage
    slows down with the queue's length; benchmarks that need a deep queue use this).
``POST /_standin/captures/flush``
    Write buffered data-capture records to S3 now (they are written ``capture_flush_seconds`` after the
    requests otherwise).

Run it on its own with ``python -m airflow_modelreg.testing.standin`` (prints the endpoint URL).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import signal
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
_CREDENTIAL_SCOPE = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/")

# What a throttled or failing call looks like, per wire protocol, as AWS sends it. "deny" is a refusal AWS
# does not retry: it stops a task exactly at one write boundary, as a crash would.
_DENIED = "Injected by the stand-in: this write is refused."
_JSON_FAULTS = {
    "throttle": (400, "ThrottlingException", "Rate exceeded"),
    "5xx": (500, "InternalFailure", "We encountered an internal error. Please try again."),
    "deny": (400, "AccessDeniedException", _DENIED),
}
_QUERY_FAULTS = {
    "throttle": (400, "Throttling", "Rate exceeded"),
    "5xx": (500, "InternalFailure", "We encountered an internal error. Please try again."),
    "deny": (403, "AccessDenied", _DENIED),
}
_S3_FAULTS = {
    "throttle": (503, "SlowDown", "Please reduce your request rate."),
    "5xx": (500, "InternalError", "We encountered an internal error. Please try again."),
    "deny": (403, "AccessDenied", _DENIED),
}


_READ_PREFIXES = ("Describe", "List", "Get", "Search", "BatchGet", "GET ", "HEAD ")


def is_write(action: str) -> bool:
    """Whether an action (``DescribeEndpoint``, ``PutParameter``, ``GET /bucket/key``) can change anything."""
    return not action.startswith(_READ_PREFIXES)


class StandInApp:
    """WSGI application: moto's dispatcher behind call counting, fault injection and the control API."""

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        from airflow_modelreg.testing import iam, moto_additions

        moto_additions.install()
        iam.install()
        self._moto = DomainDispatcherApplication(create_backend_app)
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.faults: dict[str, Any] | None = None
        self._random = random.Random(0)
        self.injected: Counter[str] = Counter()
        self._matched = 0  # calls matching the faults' filters so far (``after`` lets the first ones through)
        self.seconds = 0.0  # time spent serving AWS calls, so a benchmark can split AWS time from its own

    # -- request identification -----------------------------------------------------------------
    @staticmethod
    def _identify(environ: dict[str, Any]) -> tuple[str, str, str]:
        """Return (service, action, protocol) of an AWS request; reads a query-protocol body in place."""
        scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        service = scope.group(3) if scope else "unknown"
        if service == "sagemaker" and environ.get("PATH_INFO", "").endswith("/invocations"):
            return service, "InvokeEndpoint", "rest-json"
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            return service, target.rsplit(".", 1)[-1], "json"
        if service == "s3":
            return service, f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '/')}", "s3"
        action = parse_qs(environ.get("QUERY_STRING", "")).get("Action", [None])[0]
        if action is None and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            action = parse_qs(body.decode("utf-8", "replace")).get("Action", [None])[0]
        return service, action or environ["REQUEST_METHOD"], "query"

    def _fault_for(self, service: str, action: str, environ: dict[str, Any]) -> str | None:
        faults = self.faults
        if not faults:
            return None
        if faults.get("services") and service not in faults["services"]:
            return None
        if faults.get("actions") and action not in faults["actions"]:
            return None
        if faults.get("writes_only") and not is_write(action):
            return None
        if faults.get("body_contains") and faults["body_contains"].encode() not in self._body(environ):
            return None
        with self._lock:
            self._matched += 1
            if self._matched <= int(faults.get("after") or 0):
                return None
            if self._random.random() >= float(faults.get("rate", 0)):
                return None
            kind = self._random.choice(faults.get("kinds") or ["throttle"])
            self.injected[f"{service}:{action}:{kind}"] += 1
        return kind

    @staticmethod
    def _body(environ: dict[str, Any]) -> bytes:
        """The request body, read once and put back for moto."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        return body

    @staticmethod
    def _fault_response(kind: str, protocol: str, start_response: Any) -> list[bytes]:
        if protocol in ("json", "rest-json"):
            status, code, message = _JSON_FAULTS[kind]
            body = json.dumps({"__type": code, "message": message}).encode()
            headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)]
        else:
            status, code, message = (_S3_FAULTS if protocol == "s3" else _QUERY_FAULTS)[kind]
            inner = f"<Code>{code}</Code><Message>{message}</Message>"
            body = (
                f"<Error>{inner}</Error>"
                if protocol == "s3"
                else f"<ErrorResponse><Error><Type>Sender</Type>{inner}</Error></ErrorResponse>"
            ).encode()
            headers = [("Content-Type", "text/xml")]
        reason = {
            400: "Bad Request",
            403: "Forbidden",
            500: "Internal Server Error",
            503: "Service Unavailable",
        }[status]
        start_response(f"{status} {reason}", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    # -- control API ----------------------------------------------------------------------------
    def _control(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
        status, result = "200 OK", dict[str, Any]()
        if path == "/_standin/health":
            result = {"status": "ok"}
        elif path == "/_standin/calls" and method == "GET":
            with self._lock:
                result = {
                    "calls": dict(self.calls),
                    "total": sum(self.calls.values()),
                    "injected_faults": dict(self.injected),
                    "seconds": self.seconds,
                }
        elif path == "/_standin/calls/reset" and method == "POST":
            with self._lock:
                self.calls.clear()
                self.injected.clear()
                self.seconds = 0.0
        elif path == "/_standin/faults" and method == "POST":
            with self._lock:
                self.faults = payload
                self._matched = 0
                self._random = random.Random(payload.get("seed", 0))
            result = {"faults": payload}
        elif path == "/_standin/faults" and method == "DELETE":
            self.faults = None
        elif path == "/_standin/monitoring-executions" and method == "POST":
            from airflow_modelreg.testing.moto_additions import record_monitoring_execution

            status, result = self._in_account(
                record_monitoring_execution,
                payload,
                schedule_name=payload.get("schedule_name"),
                violations=payload.get("violations"),
                status=payload.get("status"),
                failure_reason=payload.get("failure_reason"),
            )
        elif path == "/_standin/settings":
            from airflow_modelreg.testing.moto_additions import configure

            try:
                result = configure(**(payload if method == "POST" else {}))
            except ValueError as error:
                status, result = "400 Bad Request", {"error": str(error)}
        elif path == "/_standin/endpoint-state" and method == "POST":
            from airflow_modelreg.testing.moto_additions import inject_endpoint_state

            status, result = self._in_account(
                inject_endpoint_state,
                payload,
                endpoint_name=payload.get("endpoint_name"),
                status=payload.get("status"),
                failure_reason=payload.get("failure_reason"),
                seconds=payload.get("seconds"),
                fail_next=payload.get("fail_next"),
                settle_now=bool(payload.get("settle_now")),
            )
        elif path == "/_standin/invocations" and method == "POST":
            status, result = self._invoke_many(payload)
        elif path == "/_standin/sqs-messages" and method == "POST":
            from airflow_modelreg.testing.moto_additions import enqueue_messages

            status, result = self._in_account(
                lambda **kwargs: {"messages": enqueue_messages(**kwargs)},
                payload,
                queue_name=str(payload.get("queue_url", "")).rstrip("/").rsplit("/", 1)[-1],
                bodies=payload.get("bodies") or [],
            )
        elif path == "/_standin/captures/flush" and method == "POST":
            from airflow_modelreg.testing.moto_additions import flush_captures

            result = {"records": flush_captures()}
        else:
            status, result = "404 Not Found", {"error": f"no control route {method} {path}"}
        body = json.dumps(result).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    @staticmethod
    def _in_account(action: Any, payload: dict[str, Any], **arguments: Any) -> tuple[str, dict[str, Any]]:
        """Run a control action in the payload's account and region; a refusal is the caller's 400."""
        try:
            done = action(
                account_id=payload.get("account_id", DEFAULT_ACCOUNT_ID),
                region_name=payload.get("region_name", DEFAULT_REGION),
                **arguments,
            )
        except Exception as error:  # reported to the caller, who asked for something impossible
            return "400 Bad Request", {"error": str(error)}
        return "200 OK", json.loads(json.dumps(done, default=str))

    @staticmethod
    def _invoke_many(payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Serve many requests to one endpoint without one HTTP round trip each.

        Through sagemaker-runtime, each request costs a signed HTTP call (several milliseconds here); a demo
        or test that needs thousands of captured requests would spend most of its time on that. The requests
        go through the same code as ``InvokeEndpoint`` (endpoint state, variant choice, sampling, capture)."""
        from airflow_modelreg.testing.moto_additions import InvocationError, invoke

        bodies = payload.get("bodies")
        if not isinstance(bodies, list) or not all(isinstance(body, str) for body in bodies):
            return "400 Bad Request", {"error": "'bodies' must be a list of strings, one per request."}
        served: Counter[str] = Counter()
        try:
            for body in bodies:
                _, _, variant = invoke(
                    payload.get("account_id", DEFAULT_ACCOUNT_ID),
                    payload.get("region_name", DEFAULT_REGION),
                    payload["endpoint_name"],
                    body.encode(),
                    payload.get("content_type", "text/csv"),
                    payload.get("target_variant"),
                )
                served[variant] += 1
        except (InvocationError, KeyError) as error:
            return "400 Bad Request", {"error": str(error), "variants": dict(served)}
        return "200 OK", {"invocations": sum(served.values()), "variants": dict(served)}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "").startswith("/_standin/"):
            return self._control(environ, start_response)
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            if environ.get("PATH_INFO", "").startswith("/moto-api/reset"):
                from airflow_modelreg.testing.moto_additions import discard_captures

                discard_captures()
            return self._moto(environ, start_response)
        service, action, protocol = self._identify(environ)
        with self._lock:
            self.calls[f"{service}:{action}"] += 1
        kind = self._fault_for(service, action, environ)
        if kind:
            return self._fault_response(kind, protocol, start_response)
        started = time.perf_counter()
        try:
            return self._moto(environ, start_response)
        finally:
            with self._lock:
                self.seconds += time.perf_counter() - started


class StandInClient:
    """Talks to a running stand-in: its connection for Airflow, and its control API."""

    def __init__(self, endpoint_url: str, region_name: str = DEFAULT_REGION) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.region_name = region_name

    # -- what Airflow needs ---------------------------------------------------------------------
    def connection_extra(self, account_id: str | None = None, **extra: Any) -> dict[str, Any]:
        """The AWS connection extra that points the Amazon provider's hooks at the stand-in.

        With ``account_id``, the connection assumes a role in that account, as a connection to another
        real account would (moto keeps resources per account and maps the issued keys to it).
        """
        result: dict[str, Any] = {"endpoint_url": self.endpoint_url, "region_name": self.region_name}
        if account_id:
            result["role_arn"] = f"arn:aws:iam::{account_id}:role/modelreg"
            # The provider never sends AssumeRole to the global endpoint_url; name STS's explicitly.
            result["service_config"] = {"sts": {"endpoint_url": self.endpoint_url}}
        return {**result, **extra}

    def connection_json(self, account_id: str | None = None, **extra: Any) -> str:
        """An ``AIRFLOW_CONN_*`` value (JSON form) for an AWS connection to the stand-in."""
        return json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": self.connection_extra(account_id, **extra),
            }
        )

    def environment(self, conn_id: str = "aws_default") -> dict[str, str]:
        """Environment variables that give Airflow processes the connection (and boto3 a region)."""
        return {
            f"AIRFLOW_CONN_{conn_id.upper()}": self.connection_json(),
            "AWS_DEFAULT_REGION": self.region_name,
        }

    def boto3_client(self, service: str, account_id: str | None = None) -> Any:
        """A plain boto3 client on the stand-in, for tests that set up or inspect AWS state."""
        import boto3

        client = boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region_name,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        if account_id:
            client.meta.events.register(
                "before-sign.*.*",
                lambda request, **_: request.headers.__setitem__("x-moto-account-id", account_id),
            )
        return client

    # -- control API ----------------------------------------------------------------------------
    def _request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(
            f"{self.endpoint_url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            detail = json.loads(error.read() or b"{}").get("error", "")
            raise RuntimeError(f"stand-in refused {method} {path}: {detail}") from error

    def usage(self) -> dict[str, Any]:
        """Since the last reset: ``calls`` by ``service:Action``, their ``total``, the ``injected_faults``,
        and the ``seconds`` spent serving the calls (moto's work, not the caller's)."""
        return self._request("GET", "/_standin/calls")

    def calls(self) -> dict[str, int]:
        """API calls served since the last reset, keyed ``service:Action``."""
        return self.usage()["calls"]

    def reset_calls(self) -> None:
        self._request("POST", "/_standin/calls/reset", {})

    def inject_faults(
        self,
        rate: float,
        kinds: list[str] | None = None,
        services: list[str] | None = None,
        actions: list[str] | None = None,
        seed: int = 0,
        body_contains: str | None = None,
        writes_only: bool = False,
        after: int = 0,
    ) -> None:
        """Fail ``rate`` of matching calls until :meth:`clear_faults`.

        ``kinds``: ``throttle`` and ``5xx`` (retried by botocore), ``deny`` (AccessDenied, not retried: stops
        a task at that call as a crash would). ``body_contains`` narrows the faults to one kind of request,
        ``writes_only`` to calls that can change something; the first ``after`` matching calls go through,
        so ``deny`` with ``after=k`` stops a task right after its k-th write.
        """
        self._request(
            "POST",
            "/_standin/faults",
            {
                "rate": rate,
                "kinds": kinds or ["throttle"],
                "services": services,
                "actions": actions,
                "seed": seed,
                "body_contains": body_contains,
                "writes_only": writes_only,
                "after": after,
            },
        )

    def clear_faults(self) -> None:
        self._request("DELETE", "/_standin/faults")

    def record_monitoring_execution(
        self,
        schedule_name: str,
        violations: list[dict[str, Any]] | None,
        status: str | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        failure_reason: str | None = None,
    ) -> dict[str, Any]:
        """Record a Model Monitor execution (and its ``constraint_violations.json``) for a schedule."""
        return self._request(
            "POST",
            "/_standin/monitoring-executions",
            {
                "schedule_name": schedule_name,
                "violations": violations,
                "status": status,
                "account_id": account_id,
                "region_name": self.region_name,
                "failure_reason": failure_reason,
            },
        )

    def settings(self, **changes: float) -> dict[str, float]:
        """The stand-in's delays (``transition_seconds``, ``capture_flush_seconds``), after ``changes``."""
        if changes:
            return self._request("POST", "/_standin/settings", changes)
        return self._request("GET", "/_standin/settings")

    def set_endpoint_state(
        self,
        endpoint_name: str,
        status: str | None = None,
        failure_reason: str | None = None,
        seconds: float | None = None,
        fail_next: str | None = None,
        settle_now: bool = False,
        account_id: str = DEFAULT_ACCOUNT_ID,
    ) -> dict[str, Any]:
        """Put an endpoint in a state only AWS causes (``SystemUpdating`` for ``seconds``, ``Failed`` with
        ``failure_reason``...), make its next create or update fail with ``fail_next`` as the reason, or
        (``settle_now``) complete the transition under way now."""
        return self._request(
            "POST",
            "/_standin/endpoint-state",
            {
                "endpoint_name": endpoint_name,
                "status": status,
                "failure_reason": failure_reason,
                "seconds": seconds,
                "fail_next": fail_next,
                "settle_now": settle_now,
                "account_id": account_id,
                "region_name": self.region_name,
            },
        )

    def peek_endpoint(self, endpoint_name: str, account_id: str = DEFAULT_ACCOUNT_ID) -> dict[str, Any]:
        """The endpoint as ``DescribeEndpoint`` answers, without counting as a call (for tests that look
        while the code under test is counted)."""
        return self.set_endpoint_state(endpoint_name, account_id=account_id)

    def invoke_endpoint_many(
        self,
        endpoint_name: str,
        bodies: list[str],
        content_type: str = "text/csv",
        target_variant: str | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
    ) -> dict[str, Any]:
        """Send one request per body to an endpoint (as ``InvokeEndpoint`` would, data capture included)."""
        return self._request(
            "POST",
            "/_standin/invocations",
            {
                "endpoint_name": endpoint_name,
                "bodies": bodies,
                "content_type": content_type,
                "target_variant": target_variant,
                "account_id": account_id,
                "region_name": self.region_name,
            },
        )

    def enqueue_messages(
        self, queue_url: str, bodies: list[str], account_id: str = DEFAULT_ACCOUNT_ID
    ) -> int:
        """Put many messages in an SQS queue at once (see ``moto_additions.enqueue_messages``)."""
        payload = {
            "queue_url": queue_url,
            "bodies": bodies,
            "account_id": account_id,
            "region_name": self.region_name,
        }
        return self._request("POST", "/_standin/sqs-messages", payload)["messages"]

    def flush_captures(self) -> int:
        """Write buffered data-capture records to S3 now; returns how many were written."""
        return self._request("POST", "/_standin/captures/flush", {})["records"]

    def reset(self) -> None:
        """Forget every AWS resource (moto's own reset), the credentials STS issued included.

        Clients this process's hooks keep for a connection that assumes a role hold such credentials; with
        them forgotten, moto would file their calls under its default account. So those clients are dropped
        too, as when AWS revokes a role's sessions."""
        urllib.request.urlopen(
            urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", data=b"", method="POST"), timeout=30
        ).read()
        from airflow_modelreg.hooks.base import forget_clients

        forget_clients(assumed_roles_only=True)


def _quiet_handler() -> Any:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class QuietRequestHandler(MotoRequestHandler):
        """moto's handler without a log line per request (the call counter keeps the record)."""

        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    return QuietRequestHandler


class StandIn(StandInClient):
    """A stand-in served from a thread of this process on a free loopback port.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, region_name: str = DEFAULT_REGION) -> None:
        super().__init__("http://unstarted", region_name)
        self._host, self._port = host, port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.app: StandInApp | None = None

    def start(self) -> StandIn:
        from werkzeug.serving import make_server

        self.app = StandInApp()
        self._server = make_server(
            self._host, self._port, self.app, threaded=True, request_handler=_quiet_handler()
        )
        host, port = self._server.server_address[:2]
        self.endpoint_url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the local AWS stand-in on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--url-file", type=Path, help="write the endpoint URL here once serving")
    parser.add_argument(
        "--bucket",
        action="append",
        default=[],
        help="create this S3 bucket once serving (repeatable), e.g. the ladder's audit log bucket",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")
    standin = StandIn(args.host, args.port).start()
    for bucket in args.bucket:
        standin.boto3_client("s3").create_bucket(Bucket=bucket)
    if args.url_file:
        args.url_file.write_text(standin.endpoint_url)
    print(standin.endpoint_url, flush=True)
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

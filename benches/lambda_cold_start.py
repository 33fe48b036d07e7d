"""The verifier as a Lambda function: its zip's size and its cold start.

Cold start is measured as Lambda's init plus first invoke: from starting
the `bootstrap` process (no arguments, `AWS_LAMBDA_RUNTIME_API` set,
settings inline in `TAPPROVE_CONFIG_TOML`, as the CloudFormation stack
runs it) to the moment it posts its first answer to the Runtime API. The
Runtime API is a local peer speaking its documented wire format (the same
one crates/tapprove-verifier/tests/lambda.rs uses). The event is a gate
call whose decision is malformed: the verifier loads its settings and the
AWS configuration, refuses the decision and writes the refusal to the audit
table (one DynamoDB call, to the emulator), then answers.

What this does not include: Lambda's own sandbox start and the download of
the code, and a TLS handshake (the emulator speaks plain HTTP; in AWS the
first call also opens a TLS connection to DynamoDB).

Used by app_footprint.py; also runnable on its own:
  python benches/lambda_cold_start.py --verifier PATH --config FILE  (with AWS_* pointing at an emulator)
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REQUEST = {
    "tapprove": "request/v1",
    "execution": "arn:aws:states:us-east-1:123456789012:execution:tapprove-gate:bench-cold-start",
    "nonce": "0b6f5f9e-4a8e-4c1e-9d59-2b1f1c0f7a11",
    "created": "2026-11-21T10:00:00Z",
    "timeout_seconds": 31_536_000,
    "title": "Deploy api v2.3 to prod",
    "requested_by": "alice",
    "approvers": "prod-approvers",
    "quorum": 1,
    "details": {"service": "api"},
}
EVENT = {
    "op": "verify",
    "request": REQUEST,
    "decision": {"tapprove": "approval/v1"},
    "tally": {"approvals": [], "met": False, "remaining_seconds": 0},
}


def zip_size(binary: Path) -> int:
    """Bytes of the deployment zip: the binary as `bootstrap`, deflated as
    `zip -X` does (.github/workflows/release.yml)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, binary.read_bytes())
    return len(buffer.getvalue())


class _RuntimeApi:
    """One invocation: hands out EVENT once, records when and what the
    function answered; further `next` calls wait until the server stops."""

    def __init__(self):
        self.answered = threading.Event()
        self.answer = None
        self.at = None
        self.handed_out = False
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_):
                pass

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next") or api.handed_out:
                    # The next invocation: none comes; the function is
                    # stopped once it has answered the first.
                    api.answered.wait(30)
                    try:
                        self.send_error(410)
                    except OSError:
                        pass
                    return
                api.handed_out = True
                body = json.dumps(EVENT).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-0")
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                 "arn:aws:lambda:us-east-1:123456789012:function:tapprove-verifier")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                at = time.monotonic()
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                self.send_response(202)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                api.at = at
                api.answer = (self.path.rsplit("/", 1)[-1], body)
                api.answered.set()

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a function killed mid-request: nothing to report

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self):
        return f"127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.answered.set()
        self.server.shutdown()
        self.server.server_close()


def cold_starts(verifier: Path, env: dict, config_toml: str, runs: int = 20) -> list:
    """Milliseconds from process start to the first answer, `runs` times."""
    out = []
    for _ in range(runs):
        api = _RuntimeApi()
        run_env = dict(env)
        for name in ("TAPPROVE_CONFIG",):
            run_env.pop(name, None)
        run_env.update(
            AWS_LAMBDA_RUNTIME_API=api.address,
            AWS_LAMBDA_FUNCTION_NAME="tapprove-verifier",
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
            AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
            AWS_LAMBDA_LOG_STREAM_NAME="bench",
            AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/tapprove-verifier",
            TAPPROVE_CONFIG_TOML=config_toml,
        )
        started = time.monotonic()
        child = subprocess.Popen([str(verifier)], env=run_env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            if not api.answered.wait(30):
                raise SystemExit(f"the verifier did not answer its first invocation: {child.stderr.read1().decode(errors='replace')}")
            kind, body = api.answer
            answer = json.loads(body)
            # A real answer: the refusal of the malformed decision, counted.
            if kind != "response" or answer.get("last") != "refused":
                raise SystemExit(f"unexpected first answer ({kind}): {body[:300]!r}")
            out.append((api.at - started) * 1000)
        finally:
            child.kill()
            child.wait()
            api.stop()
    return out


def summary(samples: list) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    return (f"median {statistics.median(ordered):.0f} ms, p95 {p95:.0f} ms, "
            f"max {ordered[-1]:.0f} ms over {len(ordered)} starts")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verifier", required=True, type=Path)
    parser.add_argument("--config", required=True, type=Path, help="the verifier's settings (TOML)")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    print(f"verifier Lambda zip: {zip_size(args.verifier) / 1e6:.1f} MB")
    samples = cold_starts(args.verifier, dict(os.environ), args.config.read_text(), args.runs)
    print(f"verifier Lambda cold start (process start to first answer): {summary(samples)}")


if __name__ == "__main__":
    main()

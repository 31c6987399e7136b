"""Serve one Python Lambda handler over the Runtime Interface Emulator's HTTP API.

This is the entrypoint of ESB's offline Python base image, which replaces
public.ecr.aws/lambda/python:3.11 where no registry is reachable. The image's command names the handler as
`module.function`, as the Lambda `Handler` property does:

    python3 /var/runtime/lambda_runtime.py app.handler

Routes:
    POST /2015-03-31/functions/function/invocations   body: JSON event
    GET  /esb/health                                   200 while the server runs

Environment:
    ESB_RUNTIME_HOST                  listen address, default 0.0.0.0
    ESB_RUNTIME_PORT                  listen port, default 8080
    LAMBDA_TASK_ROOT                  function code folder, default /var/task
    ESB_LAYER_ROOT                    folder that layers are copied into, default /opt
    AWS_LAMBDA_FUNCTION_TIMEOUT       seconds an invocation may run, default 3
    AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION, AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    AWS_LAMBDA_LOG_GROUP_NAME, AWS_LAMBDA_LOG_STREAM_NAME, AWS_REGION
                                      values of the context object

A successful invocation returns 200 with the handler's result as JSON. A failed one
also returns 200, with the header `X-Amz-Function-Error: Unhandled` and a body
`{"errorMessage", "errorType", "stackTrace"}`, as the emulator does. Invocations run
one at a time, and a second request waits until the first one ends.
"""

import http.server
import importlib
import json
import logging
import os
import select
import signal
import sys
import threading
import time
import traceback
import uuid

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
HEALTH_PATH = "/esb/health"

# Lambda's quota for the request and for the response payload of a synchronous invocation.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024

log = logging.getLogger("lambda_runtime")


class Settings:
    """Configuration read once from argv and the environment."""

    def __init__(self, argv, env):
        if len(argv) != 2:
            count = len(argv) - 1
            raise ValueError(f"expected one argument, the handler as module.function (app.handler), got {count}")
        self.handler = argv[1]
        self.host = env.get("ESB_RUNTIME_HOST", "0.0.0.0")
        self.port = parse_number(env, "ESB_RUNTIME_PORT", "8080", int)
        self.task_root = env.get("LAMBDA_TASK_ROOT", "/var/task")
        self.layer_root = env.get("ESB_LAYER_ROOT", "/opt")
        self.timeout = parse_number(env, "AWS_LAMBDA_FUNCTION_TIMEOUT", "3", float)
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "test_function")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        # 128 MB is Lambda's default memory size. Nothing here enforces the limit.
        self.memory_mb = parse_number(env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128", int)
        self.region = env.get("AWS_REGION", "us-east-1")
        self.log_group = env.get("AWS_LAMBDA_LOG_GROUP_NAME", f"/aws/lambda/{self.function_name}")
        self.log_stream = env.get(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex,
        )


def parse_number(env, name, default, kind):
    raw = env.get(name, default)
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
    if value <= 0:
        raise ValueError(f"{name}={raw!r} must be greater than zero")
    return value


class LambdaContext:
    """The `context` argument of a handler, with the attributes Lambda's Python runtime provides."""

    def __init__(self, settings, request_id, deadline):
        self.function_name = settings.function_name
        self.function_version = settings.function_version
        self.memory_limit_in_mb = str(settings.memory_mb)
        # NOTE: 000000000000 is a placeholder account id, because no account exists offline.
        self.invoked_function_arn = (
            f"arn:aws:lambda:{settings.region}:000000000000:function:{settings.function_name}"
        )
        self.aws_request_id = request_id
        self.log_group_name = settings.log_group
        self.log_stream_name = settings.log_stream
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def error_body(error_type, message, stack_trace=()):
    return {"errorMessage": message, "errorType": error_type, "stackTrace": list(stack_trace)}


def format_traceback(error):
    """Format the frames of `error` below the runtime's own call of the handler."""
    frames = traceback.extract_tb(error.__traceback__.tb_next)
    return traceback.format_list(frames)


def set_up_sys_path(settings):
    """Put the function code first, then the layer folders, in front of the standard library."""
    python_dir = os.path.join(settings.layer_root, "python")
    site_packages = os.path.join(python_dir, "lib", "python3.11", "site-packages")
    sys.path[0:0] = [settings.task_root, python_dir, site_packages]


def load_handler(name):
    """Import the handler named `module.function` and return (handler, None) or (None, error body).

    The error types are the names that Lambda's Python runtime interface client
    (awslambdaric) uses for the same failures.
    """
    module_name, _, function_name = name.rpartition(".")
    if not module_name or not function_name:
        message = f"Bad handler '{name}': expected module.function"
        return None, error_body("Runtime.MalformedHandlerName", message)

    # Lambda accepts `folder/module.function` and imports it as a package path.
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as error:
        message = f"Syntax error in module '{module_name}': {error}"
        return None, error_body("Runtime.UserCodeSyntaxError", message)
    except Exception as error:
        message = f"Unable to import module '{module_name}': {error}"
        return None, error_body("Runtime.ImportModuleError", message)

    handler = getattr(module, function_name, None)
    if not callable(handler):
        return None, error_body(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'"
        )
    return handler, None


class Invoker:
    """Run invocations one at a time, each in a forked child process.

    The parent imports the handler once, so module-level set-up runs once, as in a warm
    Lambda container. Each invocation then runs in a child forked from the parent, which
    is killed when it passes the timeout. This is the only way to stop a runaway handler
    in CPython, because a thread cannot be killed.
    The trade-off: whatever one invocation changes in module state (caches, counters,
    connections opened lazily) is lost when its child exits, whereas Lambda keeps it for
    the next invocation in the same container. Each invocation also pays for a fork,
    whose cost grows with the parent's memory size.
    NOTE: the fork happens while health-check threads may run. A lock that one of them
    holds at that moment stays locked in the child, which then hangs until its timeout.
    """

    def __init__(self, settings, handler, import_error):
        self.settings = settings
        self.handler = handler
        self.import_error = import_error
        self.lock = threading.Lock()
        self.child_pid = None

    def invoke(self, payload, request_id):
        """Run the handler on `payload` and return (response bytes, error type or None, max RSS in MB)."""
        if self.import_error is not None:
            return json.dumps(self.import_error).encode(), self.import_error["errorType"], 0

        try:
            event = json.loads(payload) if payload.strip() else {}
        except ValueError as error:
            body = error_body("Runtime.UnmarshalError", f"Unable to unmarshal input: {error}")
            return json.dumps(body).encode(), body["errorType"], 0

        with self.lock:
            return self._run_in_child(event, request_id)

    def _run_in_child(self, event, request_id):
        deadline = time.monotonic() + self.settings.timeout
        read_fd, write_fd = os.pipe()

        # Flush first, so that the child does not write the parent's buffered output again.
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            run_child(self.handler, event, LambdaContext(self.settings, request_id, deadline), write_fd)
        # The child also calls setpgid(). Calling it here too makes sure the group exists
        # before a timeout can kill it.
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass
        self.child_pid = pid
        os.close(write_fd)
        try:
            message = read_message(read_fd, deadline)
        finally:
            os.close(read_fd)

        if message is None:
            memory_mb = self.kill_child()
            seconds = f"{self.settings.timeout:.2f}"
            body = error_body("Sandbox.Timedout", f"Task timed out after {seconds} seconds")
            return json.dumps(body).encode(), body["errorType"], memory_mb

        _, status, usage = os.wait4(pid, 0)
        self.child_pid = None
        memory_mb = usage.ru_maxrss // 1024
        kind, data = message
        if kind == b"R":
            return data, None, memory_mb
        if kind == b"E":
            return data, json.loads(data)["errorType"], memory_mb

        # The child ended without a result, for example through sys.exit() or a signal.
        message = f"RequestId: {request_id} Error: Runtime exited with {describe_status(status)}"
        body = error_body("Runtime.ExitError", message)
        return json.dumps(body).encode(), body["errorType"], memory_mb

    def kill_child(self):
        """Kill the running child and every process it started, reap the child and return its max RSS in MB."""
        pid = self.child_pid
        if pid is None:
            return 0
        memory_mb = 0
        try:
            os.killpg(pid, signal.SIGKILL)
            memory_mb = os.wait4(pid, 0)[2].ru_maxrss // 1024
        except (ProcessLookupError, ChildProcessError):
            # At shutdown, the request thread may have reaped the child already.
            pass
        self.child_pid = None
        return memory_mb


def run_child(handler, event, context, write_fd):
    """Call the handler in a forked child, send the outcome to the parent and exit. Never returns.

    The message on `write_fd` is one kind byte (R: result, E: error body), an 8-byte
    big-endian length and that many bytes of JSON.
    """
    exit_status = 1
    try:
        # A process group of its own lets the parent kill whatever the handler starts.
        os.setpgid(0, 0)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        kind, data = call_handler(handler, event, context)
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(kind + len(data).to_bytes(8, "big") + data)
        exit_status = 0
    except SystemExit as exit_request:
        exit_status = exit_request.code if isinstance(exit_request.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exit_status)


def call_handler(handler, event, context):
    try:
        result = handler(event, context)
    except Exception as error:
        traceback.print_exc()
        body = error_body(type(error).__name__, str(error), format_traceback(error))
        return b"E", json.dumps(body).encode()

    try:
        data = json.dumps(result).encode()
    except (TypeError, ValueError) as error:
        body = error_body("Runtime.MarshalError", f"Unable to marshal response: {error}")
        return b"E", json.dumps(body).encode()
    if len(data) > MAX_PAYLOAD_BYTES:
        message = f"Response payload of {len(data)} bytes exceeds the limit of {MAX_PAYLOAD_BYTES} bytes"
        return b"E", json.dumps(error_body("Function.ResponseSizeTooLarge", message)).encode()
    return b"R", data


def read_message(fd, deadline):
    """Read the child's message from `fd` and return (kind, data), or None at the deadline.

    Returns (b"", b"") if the child closed the pipe without sending a whole message.
    """
    buffer = bytearray()
    while True:
        if len(buffer) >= 9:
            length = int.from_bytes(buffer[1:9], "big")
            if len(buffer) >= 9 + length:
                return bytes(buffer[:1]), bytes(buffer[9 : 9 + length])

        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            return None
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"", b""
        buffer += chunk


def describe_status(status):
    if os.WIFSIGNALED(status):
        return f"signal: {signal.Signals(os.WTERMSIG(status)).name}"
    return f"error: exit status {os.waitstatus_to_exitcode(status)}"


class RuntimeRequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "esb-lambda-runtime"

    def do_GET(self):
        if self.path != HEALTH_PATH:
            self.send_json(404, {"message": "Not Found"})
            return
        invoker = self.server.invoker
        status = {"status": "ok", "handler": invoker.settings.handler, "imported": invoker.import_error is None}
        self.send_json(200, status)

    def do_POST(self):
        if self.path != INVOKE_PATH:
            self.send_json(404, {"message": "Not Found"})
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            log.warning("invalid Content-Length %r from %s", self.headers["Content-Length"], self.client_address[0])
            self.send_json(400, {"message": "Content-Length is not a number"})
            return
        if length > MAX_PAYLOAD_BYTES:
            self.close_connection = True
            message = f"Request payload of {length} bytes exceeds the limit of {MAX_PAYLOAD_BYTES} bytes"
            log.warning("rejected invocation from %s: %s", self.client_address[0], message)
            self.send_json(413, {"message": message})
            return
        payload = self.rfile.read(length)

        request_id = str(uuid.uuid4())
        started = time.monotonic()
        body, error_type, memory_mb = self.server.invoker.invoke(payload, request_id)
        duration_ms = (time.monotonic() - started) * 1000

        settings = self.server.invoker.settings
        log.info(
            "REPORT RequestId: %s Function: %s Duration: %.2f ms Memory Size: %d MB Max Memory Used: %d MB Status: %s",
            request_id,
            settings.function_name,
            duration_ms,
            settings.memory_mb,
            memory_mb,
            error_type or "success",
        )
        headers = {"X-Amzn-RequestId": request_id}
        if error_type is not None:
            headers["X-Amz-Function-Error"] = "Unhandled"
        self.send_body(200, body, headers)

    def send_json(self, status, value):
        self.send_body(status, json.dumps(value).encode(), {})

    def send_body(self, status, body, headers):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code="-", size="-"):
        # Invocations log their own REPORT line, and health checks would flood the log.
        pass

    def log_error(self, format, *args):
        log.warning("request from %s failed: %s", self.client_address[0], format % args)


def stop_on_sigterm(signum, frame):
    # Raised in the main thread, this ends serve_forever() at once.
    raise SystemExit(0)


def main():
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    try:
        settings = Settings(sys.argv, os.environ)
    except ValueError as error:
        log.error("lambda_runtime: invalid configuration: %s", error)
        return 2

    set_up_sys_path(settings)
    os.environ.setdefault("LAMBDA_TASK_ROOT", settings.task_root)
    os.environ["_HANDLER"] = settings.handler
    handler, import_error = load_handler(settings.handler)
    if import_error is not None:
        # The server still starts, so that every invocation returns the error to its caller.
        log.error("%s: %s", import_error["errorType"], import_error["errorMessage"])

    server = http.server.ThreadingHTTPServer((settings.host, settings.port), RuntimeRequestHandler)
    server.daemon_threads = True
    server.invoker = Invoker(settings, handler, import_error)
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    log.info(
        "lambda_runtime: serving %s on %s:%d, timeout %.2f s",
        settings.handler, settings.host, server.server_address[1], settings.timeout,
    )
    try:
        server.serve_forever()
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        server.invoker.kill_child()
        server.server_close()
        log.info("lambda_runtime: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fixtures for the tray app's end-to-end tests.

`world`: the local Tapprove world from scripts/demo-env (moto with the
approval gate, the verifier, bob enrolled and granted). `app`: the real
built app, started by tauri-driver (WebKitWebDriver) as bob, with its own
home directory. Screenshots go to .artifacts/screenshots.

Run through tests/app/run, which provides the display, the session bus,
the keychain, the notification server and the tray host.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.remote.client_config import ClientConfig
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/tapprove/target"))
APP = Path(os.environ.get("TAPPROVE_APP", TARGET / "debug/tapprove-app"))
TAPPROVE = Path(os.environ.get("TAPPROVE", TARGET / "debug/tapprove"))
POLL_SECONDS = float(os.environ.get("TAPPROVE_DEMO_POLL_SECONDS", "5"))
# Every WebDriver command, including starting a session (which starts the
# app), answers within this or fails: selenium's default is to wait forever.
WEBDRIVER_SECONDS = 90
ARTIFACTS = Path(os.environ.get("TAPPROVE_ARTIFACTS", ROOT / ".artifacts"))
SCREENSHOTS = ARTIFACTS / "screenshots"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class World:
    """The local AWS world and commands run as the admin."""

    def __init__(self, directory):
        self.dir = Path(directory)
        out = subprocess.run(
            ["bash", "-c", f'source "{self.dir}/env" && env -0'],
            check=True,
            capture_output=True,
        ).stdout
        self.env = dict(
            line.split("=", 1) for line in out.decode().split("\0") if "=" in line
        )

    def admin_env(self):
        env = dict(self.env)
        env["AWS_ACCESS_KEY_ID"] = env["ADMIN_ACCESS_KEY_ID"]
        env["AWS_SECRET_ACCESS_KEY"] = env["ADMIN_SECRET_ACCESS_KEY"]
        env["TAPPROVE_STATE_DIR"] = env["ADMIN_STATE_DIR"]
        return env

    def admin(self, *args, timeout=60):
        out = subprocess.run(
            [str(TAPPROVE), "--json", *args],
            env=self.admin_env(),
            capture_output=True,
            timeout=timeout,
        )
        assert out.returncode == 0, (args, out.stdout.decode(), out.stderr.decode())
        return json.loads(out.stdout)

    def request(self, title, details, requested_by="alice"):
        """Starts a gated execution; returns its ARN."""
        details_file = tempfile.NamedTemporaryFile(
            "w", suffix=".json", dir=self.dir, delete=False
        )
        json.dump(details, details_file)
        details_file.close()
        return self.admin(
            "gate", "request",
            "--title", title,
            "--requested-by", requested_by,
            "--timeout", "900",
            "--details", "@" + details_file.name,
        )["execution"]

    def as_(self, who, *args, timeout=60):
        """Runs `tapprove --json ARGS` as the world's approver `who` (bob, carol)."""
        env = dict(self.env)
        env["AWS_ACCESS_KEY_ID"] = env[f"{who.upper()}_ACCESS_KEY_ID"]
        env["AWS_SECRET_ACCESS_KEY"] = env[f"{who.upper()}_SECRET_ACCESS_KEY"]
        env["TAPPROVE_STATE_DIR"] = env[f"{who.upper()}_STATE_DIR"]
        out = subprocess.run(
            [str(TAPPROVE), "--json", *args], env=env, capture_output=True, timeout=timeout
        )
        assert out.returncode == 0, (who, args, out.stdout.decode(), out.stderr.decode())
        return json.loads(out.stdout)

    def status(self, execution, wait=30):
        return self.admin("gate", "status", execution, "--wait", str(wait), timeout=wait + 30)


def make_world(source="activity"):
    """A local world (scripts/demo-env) whose gate waits on `source`."""
    directory = tempfile.mkdtemp(prefix=f"tapprove-world-{source}-")
    env = dict(os.environ, TAPPROVE_DEMO_SOURCE=source)
    subprocess.run([str(ROOT / "scripts/demo-env"), "up", directory], check=True, env=env)
    try:
        yield World(directory)
    finally:
        subprocess.run([str(ROOT / "scripts/demo-env"), "down", directory], check=False)
        if os.environ.get("TAPPROVE_KEEP_WORLD") is None:
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def world():
    yield from make_world()


class App:
    """The running app as WebDriver sees it."""

    def __init__(self, driver, log):
        self.driver = driver
        self.log = log

    def find(self, testid, timeout=15):
        return WebDriverWait(self.driver, timeout).until(
            lambda d: d.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')
        )

    def find_all(self, testid):
        return self.driver.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def wait(self, condition, timeout=20, message=""):
        return WebDriverWait(self.driver, timeout).until(lambda d: condition(), message)

    def inbox_item(self, request_id, timeout=30):
        return self.wait(
            lambda: next(
                (e for e in self.find_all("inbox-item") if e.get_attribute("data-id") == request_id),
                None,
            ),
            timeout,
            f"request {request_id} never reached the inbox",
        )

    def wait_in_inbox(self, title, timeout=60):
        """Waits until an inbox entry shows `title`; returns it."""
        self.go("/inbox")
        try:
            return self.wait(
                lambda: next((i for i in self.find_all("inbox-item") if title in i.text), None), timeout, ""
            )
        except Exception:
            self.screenshot("inbox-timeout")
            listed = [i.text for i in self.find_all("inbox-item")]
            raise AssertionError(f"{title!r} never reached the inbox; it shows {listed}") from None

    def screenshot(self, name):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))

    def go(self, route):
        self.driver.execute_script("window.location.hash = arguments[0]", route)


def app_processes(home):
    """The app's processes that run with `home` as their home directory:
    the one WebKitWebDriver started, and any second launch."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if not os.readlink(f"/proc/{pid}/exe").startswith(str(APP.resolve())):
                continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read().split(b"\0")
        except OSError:
            continue  # gone, or not ours to read
        if f"HOME={home}".encode() in environ:
            found.append(int(pid))
    return found


def stop_app(home, log):
    """Waits for the app to be gone, killing it if it lingers: a tray app
    outlives its window, and a survivor would take the next launch over
    (single instance), leaving WebKitWebDriver waiting for a browser."""
    deadline = time.monotonic() + 10
    while (left := app_processes(home)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in left:
        with open(log, "a") as f:
            f.write(f"conftest: the app (pid {pid}) outlived its WebDriver session; killed\n")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_for_port(port, what, process, seconds=60):
    """Waits until something accepts connections on `port`; fails saying
    what never came up (or that `process` ended first)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} never listened on {port}: tauri-driver exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {seconds} s")


def stop(process):
    """Ends tauri-driver (and with it WebKitWebDriver and the app it started)."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def bob_env(world, home, **extra_env):
    """The app's environment as bob in `world`, with `home` as his home."""
    env = dict(os.environ)
    env.update(world.env)
    env.update(
        AWS_ACCESS_KEY_ID=world.env["BOB_ACCESS_KEY_ID"],
        AWS_SECRET_ACCESS_KEY=world.env["BOB_SECRET_ACCESS_KEY"],
        TAPPROVE_STATE_DIR=world.env["BOB_STATE_DIR"],
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_CACHE_HOME=str(home / ".cache"),
    )
    env.update(extra_env)
    return env


def wait_for(condition, timeout, message):
    """`condition()`'s first true value within `timeout` seconds; else fails with `message`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(message)


def launch(world, name, **extra_env):
    """Starts the app as bob under tauri-driver; yields the App."""
    home = Path(tempfile.mkdtemp(prefix="tapprove-home-"))
    env = bob_env(world, home, **extra_env)
    port = free_port()
    while (native := free_port()) == port:  # each is freed before the next is asked for
        pass
    log = ARTIFACTS / "app-logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    driver_proc = subprocess.Popen(
        ["tauri-driver", "--port", str(port), "--native-port", str(native)],
        env=env,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        # tauri-driver listens before the WebKitWebDriver it starts does, and
        # drops a request it cannot forward: starting a session too early
        # fails at once (CI once lost a whole module to this).
        wait_for_port(port, "tauri-driver", driver_proc)
        wait_for_port(native, "WebKitWebDriver (started by tauri-driver)", driver_proc)
    except BaseException:
        stop(driver_proc)
        raise
    options = ArgOptions()
    options.set_capability("browserName", "wry")
    options.set_capability("tauri:options", {"application": str(APP)})
    url = f"http://127.0.0.1:{port}"
    try:
        driver = webdriver.Remote(
            command_executor=url,
            options=options,
            client_config=ClientConfig(remote_server_addr=url, timeout=WEBDRIVER_SECONDS),
        )
    except BaseException:
        stop(driver_proc)
        stop_app(home, log)
        raise
    app = App(driver, log)
    app.env = env
    try:
        yield app
    finally:
        try:
            driver.quit()
        except Exception as e:  # the app is ended below either way
            with open(log, "a") as f:
                f.write(f"conftest: WebDriver did not end the session ({e!r}); ending the app\n")
        finally:
            stop(driver_proc)
            stop_app(home, log)
        shutil.rmtree(home, ignore_errors=True)
        # The app's last long poll is still open in moto, which would hand
        # the next task to the closed connection: let it expire first.
        time.sleep(POLL_SECONDS + 1)


@pytest.fixture(scope="module")
def app(world):
    """The app, one per test module (a second would only wake the first)."""
    yield from launch(world, "app")


def dunstctl(*args):
    return subprocess.run(["dunstctl", *args], capture_output=True, text=True, check=True, timeout=30).stdout


def notifications_shown():
    return int(dunstctl("count", "displayed").strip() or 0)


def notification_history():
    """Summaries and bodies of closed notifications, newest first."""
    data = json.loads(dunstctl("history"))
    return [
        {
            "id": n["id"]["data"],
            "summary": n["summary"]["data"],
            "body": n["body"]["data"],
            "appname": n["appname"]["data"],
        }
        for n in data["data"][0]
    ]


class CloseCalls:
    """Records the `CloseNotification` calls on the session bus (dbus-monitor)."""

    def __init__(self):
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [
                "dbus-monitor",
                "--session",
                "type='method_call',interface='org.freedesktop.Notifications',member='CloseNotification'",
            ],
            stdout=self.log,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)

    def ids(self):
        """The notification ids closed by call so far."""
        text = Path(self.log.name).read_text()
        ids = []
        for call in text.split("method call")[1:]:
            for line in call.splitlines():
                line = line.strip()
                if line.startswith("uint32 "):
                    ids.append(int(line.split()[1]))
                    break
        return ids

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)

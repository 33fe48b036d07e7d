"""The window's warm start: when the window may be asked for soon (a
notification that opens it was shown, the tray menu is opening), the agent
starts the window process hidden, and the open that follows only shows it
at the route asked for, even while its page is still loading.

The agent runs on its own here, as the desktop starts it (no WebDriver,
which would start the window itself): what is checked is its processes,
the X window and the page's calls (TAPPROVE_TRACE_OPEN).
"""

import os
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from jeepney import new_method_call

import xwindow
from conftest import APP, ARTIFACTS, bob_env, dunstctl, notifications_shown, stop_app, wait_for
from tray import labels, tray_menu


class Agent:
    def __init__(self, process, log, home):
        self.process, self.log, self.home = process, log, home

    def text(self):
        return self.log.read_text(errors="replace")

    def windows(self):
        """The command lines of the window processes the agent started."""
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    command = f.read().split(b"\0")
            except OSError:
                continue
            if parent == self.process.pid and Path(command[0].decode()).name == "tapprove-window":
                found.append([c.decode() for c in command if c])
        return found


@pytest.fixture(scope="module")
def agent(world):
    home = Path(tempfile.mkdtemp(prefix="tapprove-home-"))
    env = bob_env(world, home, TAPPROVE_TRACE_OPEN="1")
    log = ARTIFACTS / "app-logs" / "warm-start.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([str(APP), "--background"], env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: menu_entry("Open Tapprove"), 30, "the agent's tray menu did not appear")
        yield Agent(process, log, home)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        stop_app(home, log)


def menu_entry(text):
    """(connection, menu, entry id) of the first tray menu entry whose label holds `text`."""
    try:
        conn, menu, layout = tray_menu()
    except (AssertionError, ValueError, IndexError, TypeError):
        return None
    found = [i for i, label in labels(layout) if text in label]
    if not found:
        conn.close()
        return None
    return conn, menu, found[0]


def page_calls(text, command):
    return text.count(f"`{command}` at ")


def test_a_shown_notification_starts_the_window_hidden_and_its_action_shows_it_at_the_request(world, agent):
    dunstctl("close-all")
    title = f"Warm start by notification #{uuid.uuid4().hex[:6]}"
    world.request(title, {"domain": "warm.example.com"})
    wait_for(lambda: notifications_shown() >= 1, 60, "no notification was shown")
    hidden = wait_for(agent.windows, 20, "no window process was started for the notification")
    assert len(hidden) == 1 and "--hidden" in hidden[0], hidden
    # The page loads (it asks for the overview), but nothing is shown.
    wait_for(lambda: page_calls(agent.text(), "overview") >= 1, 20, "the hidden window's page did not load")
    assert not xwindow.shown(), "the prepared window is on screen before anyone asked for it"

    before = agent.text()
    dunstctl("action", "0")
    wait_for(lambda: agent.text().count("window interactive") > before.count("window interactive"), 20,
         "the notification's action did not make the window interactive")
    assert xwindow.shown() is True, "the window is not shown"
    # The same process, now at the request (its screen asks for it).
    assert agent.windows() == hidden
    wait_for(lambda: page_calls(agent.text()[len(before):], "request") >= 1, 10, "the window did not go to the request")
    dunstctl("close-all")

    assert xwindow.close(), "no window to close"
    wait_for(lambda: not agent.windows(), 20, "closing the window did not end its process")


def test_the_menu_opening_starts_the_window_hidden_and_a_quick_choice_lands_on_its_request(world, agent):
    # The request from the test above is listed; no notification is up.
    conn, menu, entry = wait_for(lambda: menu_entry("Warm start by notification"), 30, "the request is not in the menu")
    try:
        assert not agent.windows(), agent.windows()
        before = agent.text()
        conn.send_and_get_reply(new_method_call(menu, "AboutToShow", "i", (0,)))
        hidden = wait_for(agent.windows, 10, "the menu opening did not start the window")
        assert len(hidden) == 1 and "--hidden" in hidden[0], hidden
        # Chosen at once, while the hidden page is still loading: the
        # window must still land on the request, not on the inbox.
        conn.send_and_get_reply(new_method_call(menu, "Event", "isvu", (entry, "clicked", ("i", 0), 0)))
        assert page_calls(agent.text()[len(before):], "overview") == 0, "the page had loaded before the choice"
    finally:
        conn.close()
    wait_for(lambda: "window interactive" in agent.text()[len(before):], 30, "the choice did not make the window interactive")
    wait_for(lambda: page_calls(agent.text()[len(before):], "request") >= 1, 10, "the window did not land on the request")
    assert agent.windows() == hidden, "a second window process was started"
    assert xwindow.shown() is True
    assert xwindow.close(), "no window to close"
    wait_for(lambda: not agent.windows(), 20, "closing the window did not end its process")

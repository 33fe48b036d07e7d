#!/usr/bin/env python3
"""The tray app's footprint: what it costs to keep Tapprove running all day.

Prints, for the real app (debug or release build) polling a local AWS
emulator as an enrolled approver:

  * cold start to tray ready (process start -> the tray item on D-Bus),
  * idle with no window: total PSS of the app and every process it spawned
    (with the window closed: the agent alone), CPU as % of one core, and
    wake-ups (context switches of all its threads) per second,
  * the window open: time from "open" (a second launch, handed to the
    running agent) to the inbox being interactive (the front end calls
    `ui_ready` once its data is shown; the time runs from when the agent
    was asked), PSS and CPU while it is shown (agent, window process and
    WebKit's processes),
  * the window opened from the tray menu: the menu opening (AboutToShow)
    starts the window hidden, "Open Tapprove" is clicked --menu-after
    seconds later; open to interactive as above,
  * after the window is closed: how long until the window's processes are
    gone, then PSS, CPU and wake-ups again,
  * the sizes of the agent (`tapprove-app`) and the window
    (`tapprove-window`) binaries, and the .deb's when one is given (--deb),
  * with --cli and --verifier: the CLI's size, the verifier's Lambda zip and
    its cold start (benches/lambda_cold_start.py),
  * with --cli, a thousand requests (--pending) on the approver's queue in
    a world of their own: the agent's memory with them, the tray menu's
    length, and the app's inbox listing them (from the window asking the
    agent to the list rendered) and its open.

Each figure is printed beside its goal (issue 18): idle at most 30 MB PSS
in all processes, under 0.05 % of a core and at most one wake-up a second;
open to interactive under 300 ms (first open and p95); each app binary at
most 20 MB, .deb 10 MB, CLI 15 MB, Lambda zip 8 MB, Lambda cold start at
most 100 ms; with a thousand pending, the agent's memory grows by at most
20 MB, the tray menu stays bounded and the app's inbox lists them in at
most 100 ms.

Run (scripts/bench-app does this):
  xvfb-run -a dbus-run-session -- .venv/bin/python benches/app_footprint.py --app PATH
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lambda_cold_start

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests/app"))
import xwindow  # noqa: E402  (shared with the end-to-end suite)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def descendants(pid):
    """pid and every process below it."""
    children = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def pss_kib(pids):
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_ticks(pids):
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            pass
    return total


def switches(pids):
    """Context switches so far of every thread of `pids`, by (pid, thread):
    each is a wake-up (or a preemption, which an idle process does not see)."""
    counts = {}
    for p in pids:
        try:
            tasks = list(Path(f"/proc/{p}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                for line in (task / "status").read_text().splitlines():
                    if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                        key = (p, task.name, (task / "comm").read_text().strip())
                        counts[key] = counts.get(key, 0) + int(line.split()[1])
            except OSError:
                pass
    return counts


def names(pids):
    out = []
    for p in pids:
        try:
            out.append(Path(f"/proc/{p}/comm").read_text().strip())
        except OSError:
            pass
    return out


def cpu_percent(pid, seconds):
    return cpu_and_wakeups(pid, seconds)[0]


WAKERS = {}


def cpu_and_wakeups(pid, seconds):
    """(% of one core, wake-ups per second) of `pid` and its processes over
    `seconds`; the threads that woke most are kept in WAKERS."""
    pids = descendants(pid)
    start_ticks, start_switches, start = cpu_ticks(pids), switches(pids), time.monotonic()
    time.sleep(seconds)
    pids = descendants(pid)
    # A thread that ended in between is not counted; one that began, all of it.
    ticks = cpu_ticks(pids) - start_ticks
    by_thread = {key: n - start_switches.get(key, 0) for key, n in switches(pids).items()}
    woke = sum(by_thread.values())
    elapsed = time.monotonic() - start
    WAKERS.clear()
    WAKERS.update({f"{key[2]}({key[1]})": round(n / elapsed, 2) for key, n in sorted(by_thread.items(), key=lambda kv: -kv[1])[:4] if n})
    return 100.0 * ticks / CLK_TCK / elapsed, woke / elapsed


def tray_registered():
    out = subprocess.run(
        ["gdbus", "call", "--session", "--dest", "org.kde.StatusNotifierWatcher",
         "--object-path", "/StatusNotifierWatcher", "--method",
         "org.freedesktop.DBus.Properties.Get", "org.kde.StatusNotifierWatcher",
         "RegisteredStatusNotifierItems"],
        capture_output=True, text=True,
    )
    # `(<[':1.5']>,)` once an item is registered; `(<@as []>,)` before.
    return out.returncode == 0 and re.search(r"\[\s*'", out.stdout) is not None


def close_window(title="Tapprove"):
    """Sends WM_DELETE_WINDOW, as a window manager's close button does."""
    if not xwindow.close(title):
        raise SystemExit("the window to close was not found")


def wait_for(predicate, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise SystemExit(f"timed out waiting for {what}")


def world_up(source="activity"):
    """A local world (scripts/demo-env) whose gate waits on `source`."""
    world = Path(tempfile.mkdtemp(prefix="tapprove-bench-"))
    env = dict(os.environ, TAPPROVE_DEMO_POLL_SECONDS="60", TAPPROVE_DEMO_SOURCE=source)
    subprocess.run([str(ROOT / "scripts/demo-env"), "up", str(world)], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return world


def world_down(world):
    subprocess.run([str(ROOT / "scripts/demo-env"), "down", str(world)], check=False)
    shutil.rmtree(world, ignore_errors=True)


def world_env(world, who):
    """The environment of `who` (ADMIN, BOB) in `world`."""
    envs = subprocess.run(["bash", "-c", f'source "{world}/env" && env -0'], check=True,
                          capture_output=True).stdout.decode().split("\0")
    env = dict(os.environ)
    env.update(line.split("=", 1) for line in envs if "=" in line)
    env.update(
        AWS_ACCESS_KEY_ID=env[f"{who}_ACCESS_KEY_ID"],
        AWS_SECRET_ACCESS_KEY=env[f"{who}_SECRET_ACCESS_KEY"],
        TAPPROVE_STATE_DIR=env[f"{who}_STATE_DIR"],
    )
    return env


def approver_env(world):
    """The app's environment: the world's approver bob, a home of its own."""
    home = world / "home"
    return dict(world_env(world, "BOB"), HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))


def start_app(app_binary, app_env, log_path):
    """Starts the agent in the tray, its output to `log_path`; returns once its item is registered."""
    app = subprocess.Popen([str(app_binary), "--background"], env=app_env,
                           stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)
    wait_for(tray_registered, 30, "the tray item")
    return app


def stop_app(app):
    if app:
        app.terminate()
        try:
            app.wait(timeout=10)
        except subprocess.TimeoutExpired:
            app.kill()


def open_window(app_binary, app_env, log_path):
    """Opens the window (a second launch, handed to the running agent) and
    waits for the inbox: (open to interactive in ms, the window's trace
    lines of this open, when TAPPROVE_TRACE_OPEN is set)."""
    before = log_path.read_text(errors="replace")
    subprocess.run([str(app_binary)], env=app_env, timeout=30, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: log_path.read_text(errors="replace").count("window interactive") > before.count("window interactive"),
             60, "the inbox")
    this = log_path.read_text(errors="replace")[len(before):]
    return int(re.findall(r"window interactive (\d+) ms", this)[-1]), this


def no_window(app, timeout=120):
    """Waits until the agent runs alone: a window it started hidden for a
    notification (agent/window.rs, warm start) ends unused 20 s after the
    last one was shown. Returns the seconds waited."""
    started = time.monotonic()
    wait_for(lambda: len(descendants(app.pid)) == 1, timeout, "the agent to run alone (no window process)")
    return time.monotonic() - started


def open_from_menu(log_path, after):
    """What a person does in the tray menu: it opens (the host calls
    AboutToShow, and the agent starts the window hidden), `after` seconds
    later "Open Tapprove" is clicked; returns open to interactive in ms."""
    from jeepney import new_method_call
    from tray import labels, tray_menu

    conn, menu, layout = tray_menu()
    try:
        entry = next(i for i, label in labels(layout) if label == "Open Tapprove")
        before = log_path.read_text(errors="replace").count("window interactive")
        conn.send_and_get_reply(new_method_call(menu, "AboutToShow", "i", (0,)))
        time.sleep(after)
        conn.send_and_get_reply(new_method_call(menu, "Event", "isvu", (entry, "clicked", ("i", 0), 0)))
    finally:
        conn.close()
    text = wait_for(lambda: (t := log_path.read_text(errors="replace")).count("window interactive") > before and t,
                    60, "the inbox")
    return int(re.findall(r"window interactive (\d+) ms", text)[-1])


def pending_inbox(args):
    """The app's inbox with `args.pending` requests pending on the approver's
    queue: the gate's requests are started through the CLI, the agent polls
    them into its cache; then the agent's memory, the tray menu's length and
    the window's open are measured. "Listed from the cache" is the window's
    own time from asking the agent for the overview to the inbox rendered
    (its `overview` and `ui_ready` calls, TAPPROVE_TRACE_OPEN)."""
    import concurrent.futures
    from tray import labels, tray_menu, tray_tooltip

    count = args.pending
    world = world_up(source="queue")
    app = None
    try:
        app_env = dict(approver_env(world), TAPPROVE_TRACE_OPEN="1")
        log_path = world / "app.log"
        app = start_app(args.app, app_env, log_path)
        time.sleep(args.settle)
        empty_pss = pss_kib(descendants(app.pid)) / 1024
        admin = world_env(world, "ADMIN")
        details = world / "details.json"
        details.write_text(json.dumps({"service": "payments", "version": "v42", "environment": "prod"}))

        def request(i):
            subprocess.run([str(args.cli), "--json", "gate", "request", "--title", f"Deploy payments build {i}",
                            "--requested-by", "alice", "--timeout", "3600", "--details", f"@{details}"],
                           env=admin, check=True, capture_output=True, timeout=120)

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(request, range(count)))
        requested_s = time.monotonic() - started

        def waiting():
            try:
                found = re.search(r"(\d+) requests? wait", tray_tooltip())
            except Exception:  # the tray host may be re-reading the item
                return False
            return found is not None and int(found.group(1)) >= count
        wait_for(waiting, 1200, f"{count} requests in the tray's tooltip")
        listed_s = time.monotonic() - started
        time.sleep(args.settle)
        # The notifications of the burst are still being shown (one after
        # the other, as fast as the notification server draws them), each
        # keeping the window started ahead for them.
        warm_s = no_window(app, 1800)
        full_pss = pss_kib(descendants(app.pid)) / 1024
        entries = [label for _, label in labels(tray_menu()[2])]
        opens, renders = [], []
        for _ in range(5):
            ms, trace = open_window(args.app, app_env, log_path)
            asked = int(re.findall(r"`overview` at (\d+) ms", trace)[0])
            ready = int(re.findall(r"`ui_ready` at (\d+) ms", trace)[0])
            opens.append(ms)
            renders.append(ready - asked)
            close_window()
            wait_for(lambda: len(descendants(app.pid)) == 1, 60, "the window's processes to end")
            time.sleep(1)
        opens.sort()
        renders.sort()
        print(f"{count} requests pending (queue source): started in {requested_s:.1f} s, all in the agent's inbox "
              f"{listed_s:.1f} s after the first")
        print(f"  the window started ahead for their notifications ended {warm_s + args.settle:.0f} s after "
              f"the last was listed")
        print(f"  agent memory: {empty_pss:.1f} MB PSS with none, {full_pss:.1f} MB with {count} "
              f"(+{full_pss - empty_pss:.1f} MB; goal <= 20 MB: {'met' if full_pss - empty_pss <= 20 else 'NOT met'})")
        print(f"  tray menu: {len(entries)} entries ({entries[-1] if entries else 'none'} last; bounded: "
              f"{'met' if len(entries) <= 30 else 'NOT met'})")
        print(f"  the app's inbox, from asking the agent to the list rendered: median {renders[len(renders) // 2]} ms, "
              f"max {renders[-1]} ms over {len(renders)} opens (goal <= 100 ms: {'met' if renders[-1] <= 100 else 'NOT met'})")
        print(f"  open to interactive with {count} pending: median {opens[len(opens) // 2]} ms, max {opens[-1]} ms")
    finally:
        stop_app(app)
        if os.environ.get("TAPPROVE_BENCH_LOG") and (world / "app.log").exists():
            shutil.copy(world / "app.log", os.environ["TAPPROVE_BENCH_LOG"] + ".pending")
        world_down(world)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", required=True, type=Path, help="the agent, tapprove-app (tapprove-window beside it)")
    parser.add_argument("--deb", type=Path)
    parser.add_argument("--cli", type=Path, help="the CLI binary, for its size")
    parser.add_argument("--verifier", type=Path, help="the verifier binary: its Lambda zip and cold start")
    parser.add_argument("--idle-seconds", type=float, default=120)
    parser.add_argument("--opens", type=int, default=20)
    parser.add_argument("--pending", type=int, default=1000,
                        help="requests pending on the approver's queue for the inbox figures (0: none)")
    parser.add_argument("--menu-after", type=lambda v: [float(x) for x in v.split(",") if x], default=[0.3, 1.0],
                        help="seconds between the tray menu opening and the click on \"Open Tapprove\", "
                             "comma-separated (each measured --opens times; empty: none)")
    parser.add_argument("--settle", type=float, default=20,
                        help="seconds to wait after start-up (first poll, session check) before measuring idle")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)

    world = world_up()
    tray_host = subprocess.Popen(["gtk-sni-tray-standalone", "--watcher"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    app = None
    try:
        app_env = approver_env(world)
        log_path = world / "app.log"
        started = time.monotonic()
        app = start_app(args.app, app_env, log_path)
        tray_ready_ms = (time.monotonic() - started) * 1000
        time.sleep(args.settle)  # let start-up work (first poll, session check) settle
        no_window(app)

        idle_pids = descendants(app.pid)
        idle_pss = pss_kib(idle_pids) / 1024
        idle_cpu, idle_wakeups = cpu_and_wakeups(app.pid, args.idle_seconds)
        idle_wakers = dict(WAKERS)

        opens, open_pss, open_cpu, open_names = [], None, None, []
        for i in range(args.opens):
            opens.append(open_window(args.app, app_env, log_path)[0])
            if i == 0:
                time.sleep(2)
                open_pss = pss_kib(descendants(app.pid)) / 1024
                open_cpu = cpu_percent(app.pid, 10)
                open_names = names(descendants(app.pid))
            close_window()
            time.sleep(1)
        # The window's process (and WebKit's) ends with the window.
        closed_at = time.monotonic()
        wait_for(lambda: len(descendants(app.pid)) == 1, 60, "the window's processes to end")
        gone_ms = (time.monotonic() - closed_at) * 1000
        # From the tray menu: the window starts hidden as the menu opens.
        menu_opens = {}
        for after in args.menu_after:
            menu_opens[after] = []
            for _ in range(args.opens):
                menu_opens[after].append(open_from_menu(log_path, after))
                time.sleep(0.3)
                close_window()
                wait_for(lambda: len(descendants(app.pid)) == 1, 60, "the window's processes to end")
                time.sleep(0.5)
        time.sleep(args.settle)
        closed_pss = pss_kib(descendants(app.pid)) / 1024
        closed_cpu, closed_wakeups = cpu_and_wakeups(app.pid, args.idle_seconds)

        cold = None
        if args.verifier:
            verifier_env = dict(app_env, AWS_ACCESS_KEY_ID=app_env["ADMIN_ACCESS_KEY_ID"],
                                AWS_SECRET_ACCESS_KEY=app_env["ADMIN_SECRET_ACCESS_KEY"])
            cold = lambda_cold_start.cold_starts(args.verifier, verifier_env,
                                                 Path(app_env["TAPPROVE_CONFIG"]).read_text())

        first_open = opens[0]
        opens.sort()

        def against(value, goal, unit="MB"):
            return f"{value:.1f} {unit} (goal <= {goal} {unit}: {'met' if value <= goal else 'NOT met'})"

        window_binary = args.app.with_name("tapprove-window")
        print(f"app binary (the agent): {args.app}: {against(args.app.stat().st_size / 1e6, 20)}")
        print(f"window binary: {window_binary}: {against(window_binary.stat().st_size / 1e6, 20)}")
        if args.deb:
            print(f".deb: {args.deb.name}: {against(args.deb.stat().st_size / 1e6, 10)}")
        if args.cli:
            print(f"CLI binary: {args.cli}: {against(args.cli.stat().st_size / 1e6, 15)}")
        if args.verifier:
            print(f"verifier Lambda zip: {against(lambda_cold_start.zip_size(args.verifier) / 1e6, 8)}")
            print(f"verifier Lambda cold start (process start to first answer, local Runtime API, moto): "
                  f"{lambda_cold_start.summary(cold)} (goal: every start <= 100 ms: "
                  f"{'met' if max(cold) <= 100 else 'NOT met'})")
        print(f"cold start to tray ready: {tray_ready_ms:.0f} ms")
        print(f"idle, no window: {idle_pss:.1f} MB PSS in {len(idle_pids)} process(es) {names(idle_pids)}, "
              f"CPU {idle_cpu:.3f} % of a core, {idle_wakeups:.2f} wake-ups/s over {args.idle_seconds:.0f} s "
              f"(most by {idle_wakers or 'none'})")
        print(f"window open: {open_pss:.1f} MB PSS in {len(open_names)} processes {open_names}, CPU {open_cpu:.2f} % over 10 s")
        p95 = opens[max(0, round(0.95 * len(opens)) - 1)]
        print(f"open to interactive: first {first_open} ms, median {opens[len(opens) // 2]} ms, p95 {p95} ms, "
              f"max {opens[-1]} ms over {len(opens)} opens (goal: p95 and first < 300 ms: "
              f"{'met' if p95 < 300 and first_open < 300 else 'NOT met'})")
        for after, times in menu_opens.items():
            first, times = times[0], sorted(times)
            p95 = times[max(0, round(0.95 * len(times)) - 1)]
            print(f"open to interactive from the tray menu, \"Open Tapprove\" clicked {after * 1000:.0f} ms after the "
                  f"menu opened (the window started hidden as it opened): first {first} ms, median "
                  f"{times[len(times) // 2]} ms, p95 {p95} ms, max {times[-1]} ms over {len(times)} opens "
                  f"(goal: p95 and first < 300 ms: {'met' if p95 < 300 and first < 300 else 'NOT met'})")
        print(f"after closing the window: its processes gone {gone_ms:.0f} ms after the close; then "
              f"{closed_pss:.1f} MB PSS in {len(descendants(app.pid))} process(es), CPU {closed_cpu:.3f} %, "
              f"{closed_wakeups:.2f} wake-ups/s over {args.idle_seconds:.0f} s")
        goal = all(pss <= 30 and cpu < 0.05 and woke <= 1
                   for pss, cpu, woke in ((idle_pss, idle_cpu, idle_wakeups), (closed_pss, closed_cpu, closed_wakeups)))
        print(f"idle goal (<= 30 MB PSS in all processes, < 0.05 % CPU, <= 1 wake-up/s; before and after a window): "
              f"{'met' if goal else 'NOT met'}")
        if args.pending and args.cli:
            # One tray item at a time: the next world's app takes its place.
            stop_app(app)
            app = None
            wait_for(lambda: not tray_registered(), 30, "the tray item to go")
            pending_inbox(args)
    finally:
        stop_app(app)
        tray_host.terminate()
        if os.environ.get("TAPPROVE_BENCH_LOG") and (world / "app.log").exists():
            shutil.copy(world / "app.log", os.environ["TAPPROVE_BENCH_LOG"])
        world_down(world)


if __name__ == "__main__":
    sys.exit(main())

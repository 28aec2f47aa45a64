#!/usr/bin/env python3
"""Runs the installed relais daemon the way its systemd unit would, on a
machine where systemd is not PID 1 (a CI container), and checks the unit's
contract: READY=1, a steady WATCHDOG=1 feed, STOPPING=1 and exit 0 on
SIGTERM, and a feed that stops when a worker hangs.

What is emulated: ExecStart=, User=, Group=, UMask=, Environment=,
NoNewPrivileges=, an empty capability bounding set, WorkingDirectory=/, the
notify socket (a datagram socket this script reads), WATCHDOG_USEC, the
watchdog's abort (SIGABRT, as WatchdogSignal= defaults to), Restart=, and
TimeoutStopSec=. What is not: the unit's namespaces, seccomp filter and
address-family limits (ProtectSystem=, SystemCallFilter=...), which only
systemd can set up; systemd-analyze security checks those on paper.

    emulate-unit.py check --unit FILE --clients FILE [--watchdog-sec 2]
    emulate-unit.py start-stop --unit FILE
    emulate-unit.py idle --unit FILE [--seconds 60]

Prints one PASS or FAIL line per check; exits 1 if any failed.
"""

import argparse
import os
import pwd
import grp
import resource
import select
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib

FAILED = []


def report(ok, name, detail=""):
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f" ({detail})" if detail else ""), flush=True)
    if not ok:
        FAILED.append(name)
    return ok


def seconds(text):
    """A systemd time span as seconds: 45s, 3min, 500ms, 1min 30s, 90."""
    total = 0.0
    units = {"ms": 0.001, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}
    for word in text.split():
        number = word.rstrip("abcdefghijklmnopqrstuvwxyz")
        unit = word[len(number):] or "s"
        total += float(number) * units[unit]
    return total


def read_unit(path):
    """The [Service] settings of a unit file; repeated keys are joined."""
    service, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]" and "=" in line:
                key, value = line.split("=", 1)
                service[key] = (service[key] + " " + value) if key in service else value
    return service


class Notify:
    """systemd's side of sd_notify: a datagram socket and the messages on it."""

    def __init__(self, folder):
        self.path = os.path.join(folder, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        # The daemon runs as the service user and must be able to send.
        os.chmod(self.path, 0o777)

    def next(self, deadline):
        """The next message as (monotonic time, [lines]), or None at the deadline."""
        wait = deadline - time.monotonic()
        if wait <= 0 or not select.select([self.sock], [], [], wait)[0]:
            return None
        data = self.sock.recv(4096)
        return time.monotonic(), data.decode(errors="replace").splitlines()

    def wait_for(self, state, timeout, on_other=None):
        """Time at which `state` arrived, or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while (msg := self.next(deadline)) is not None:
            at, lines = msg
            if state in lines:
                return at
            if on_other:
                on_other(at, lines)
        return None


class Daemon:
    """The service's main process, started as the unit says."""

    def __init__(self, unit, notify, watchdog_sec, journal):
        self.unit = unit
        self.notify = notify
        self.watchdog_sec = watchdog_sec
        self.journal = journal
        self.proc = None

    def start(self):
        user = pwd.getpwnam(self.unit["User"])
        group = grp.getgrnam(self.unit.get("Group", self.unit["User"]))
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": user.pw_dir,
            "USER": user.pw_name,
            "LOGNAME": user.pw_name,
            "SHELL": user.pw_shell,
            "NOTIFY_SOCKET": self.notify.path,
            "WATCHDOG_USEC": str(int(self.watchdog_sec * 1_000_000)),
        }
        for pair in shlex.split(self.unit.get("Environment", "")):
            key, value = pair.split("=", 1)
            env[key] = value
        umask = int(self.unit.get("UMask", "0022"), 8)
        argv = [
            "setpriv", f"--reuid={user.pw_uid}", f"--regid={group.gr_gid}", "--init-groups",
            "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--",
        ] + shlex.split(self.unit["ExecStart"])

        def child():
            os.umask(umask)
            # A watchdog abort must not leave a core file behind.
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        log = open(self.journal, "ab")
        self.proc = subprocess.Popen(argv, env=env, cwd="/", stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log, preexec_fn=child)
        log.close()
        return self.proc.pid

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def watch_feed(notify, duration, limit):
    """Reads WATCHDOG=1 for `duration` seconds: (pings, longest gap)."""
    start = last = time.monotonic()
    deadline = start + duration
    pings, gap = 0, 0.0
    while (msg := notify.next(deadline)) is not None:
        at, lines = msg
        if "WATCHDOG=1" in lines:
            gap = max(gap, at - last)
            last = at
            pings += 1
    gap = max(gap, time.monotonic() - last)
    return pings, gap


def journal_count(path, text):
    with open(path, errors="replace") as f:
        return f.read().count(text)


def start_ready(daemon, notify, timeout, name):
    started = time.monotonic()
    pid = daemon.start()
    ready = notify.wait_for("READY=1", timeout)
    return report(ready is not None, name,
                  f"pid {pid}, READY=1 after {ready - started:.2f} s" if ready else
                  f"no READY=1 within {timeout:.0f} s")


def stop(daemon, notify, timeout, name):
    sent = time.monotonic()
    daemon.proc.send_signal(signal.SIGTERM)
    stopping = notify.wait_for("STOPPING=1", timeout)
    code = daemon.wait_exit(max(0.0, sent + timeout - time.monotonic()))
    took = time.monotonic() - sent
    report(stopping is not None, f"{name}: STOPPING=1 on SIGTERM")
    ok = code == 0
    report(ok, f"{name}: exit 0 within TimeoutStopSec={timeout:.0f} s",
           f"exit {code} after {took:.2f} s")
    if code is None:
        daemon.kill()
    return ok


def check(args, unit, folder):
    notify = Notify(folder)
    journal = os.path.join(folder, "journal.log")
    w = args.watchdog_sec
    start_timeout = seconds(unit.get("TimeoutStartSec", "90s"))
    stop_timeout = seconds(unit.get("TimeoutStopSec", "90s"))
    daemon = Daemon(unit, notify, w, journal)
    try:
        # 1. A normal life: ready, fed, stopped.
        if not start_ready(daemon, notify, start_timeout, "start: READY=1"):
            return
        st = proc_status(daemon.proc.pid)
        uid = pwd.getpwnam(unit["User"]).pw_uid
        report(st["Uid"].split() == [str(uid)] * 4, "runs as the service user", st["Uid"])
        report(st.get("Umask") == unit.get("UMask"), "UMask as the unit says", st.get("Umask"))
        report(st["NoNewPrivs"] == "1" and int(st["CapBnd"], 16) == 0,
               "no new privileges, no capabilities")
        pings, gap = watch_feed(notify, 3 * w, w)
        report(pings >= 3 and gap <= w, "WATCHDOG=1 keeps coming",
               f"{pings} in {3 * w:.0f} s, longest gap {gap:.2f} s, WatchdogSec={w:g}")
        stop(daemon, notify, stop_timeout, "stop")

        # 2. A worker hangs: the client file becomes a FIFO nobody writes.
        if not start_ready(daemon, notify, start_timeout, "restart: READY=1"):
            return
        pings, gap = watch_feed(notify, 2 * w, w)
        report(pings >= 2 and gap <= w, "fed before the hang", f"{pings} pings")
        saved = args.clients + ".saved"
        os.rename(args.clients, saved)
        os.mkfifo(args.clients, 0o644)
        hung = time.monotonic()
        # systemd's rule: no WATCHDOG=1 for WatchdogSec means the service hangs.
        last = hung
        deadline = hung + 4 * w + args.poll_seconds
        while (msg := notify.next(min(deadline, last + w))) is not None:
            if "WATCHDOG=1" in msg[1]:
                last = msg[0]
        timed_out = time.monotonic() - last >= w
        report(timed_out and last - hung <= 2 * w + args.poll_seconds,
               "the feed stops once the worker hangs",
               f"last WATCHDOG=1 {last - hung:.2f} s after the hang, "
               f"limit 2 x WatchdogSec + poll = {2 * w + args.poll_seconds:g} s")
        # What systemd does next: WatchdogSignal=SIGABRT, then Restart=on-failure.
        daemon.proc.send_signal(signal.SIGABRT)
        code = daemon.wait_exit(stop_timeout)
        report(code == -signal.SIGABRT, "the watchdog's SIGABRT ends the hung daemon",
               f"exit {code}")
        if code is None:
            daemon.kill()
        os.unlink(args.clients)
        os.rename(saved, args.clients)
        reads = journal_count(journal, "client file read")
        if not start_ready(daemon, notify, start_timeout, "restart after the hang: READY=1"):
            return
        pings, gap = watch_feed(notify, 3 * w, w)
        report(pings >= 3 and gap <= w, "healthy again: WATCHDOG=1 keeps coming",
               f"{pings} in {3 * w:.0f} s, longest gap {gap:.2f} s")
        report(journal_count(journal, "client file read") > reads,
               "the restarted worker read the client file")
        stop(daemon, notify, stop_timeout, "final stop")
    finally:
        daemon.kill()
        if FAILED:
            print(f"--- daemon log ({journal}) ---")
            with open(journal, errors="replace") as f:
                print(f.read()[-4000:])


def start_stop(args, unit, folder):
    """One start and one stop: the daemon opens its store and drains."""
    notify = Notify(folder)
    daemon = Daemon(unit, notify, args.watchdog_sec, os.path.join(folder, "journal.log"))
    try:
        if start_ready(daemon, notify, seconds(unit.get("TimeoutStartSec", "90s")),
                       "start: READY=1"):
            stop(daemon, notify, seconds(unit.get("TimeoutStopSec", "90s")), "stop")
    finally:
        daemon.kill()


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def cpu_ns(pid):
    """Time on a CPU of the live threads, in nanoseconds (schedstat's precision)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            total += int(f.read().split()[0])
    return total


def switches(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        st = proc_status(f"{pid}/task/{tid}")
        total += int(st["voluntary_ctxt_switches"]) + int(st["nonvoluntary_ctxt_switches"])
    return total


def idle(args, unit, folder):
    """CPU and memory of the idle daemon, fed by the unit's own WatchdogSec."""
    notify = Notify(folder)
    journal = os.path.join(folder, "journal.log")
    w = seconds(unit.get("WatchdogSec", "0"))
    daemon = Daemon(unit, notify, w, journal)
    try:
        if not start_ready(daemon, notify, seconds(unit.get("TimeoutStartSec", "90s")),
                           "idle: READY=1"):
            return
        pid = daemon.proc.pid
        # Let the first rounds (store open, first client file read) pass.
        notify.wait_for("never", 5)
        hz = os.sysconf("SC_CLK_TCK")
        t0, c0, n0, s0 = time.monotonic(), cpu_ticks(pid), cpu_ns(pid), switches(pid)
        notify.wait_for("never", args.seconds)
        t1, c1, n1, s1 = time.monotonic(), cpu_ticks(pid), cpu_ns(pid), switches(pid)
        st = proc_status(pid)
        # Ticks count threads that ended too; schedstat is finer. Take the larger.
        cpu = max((c1 - c0) / hz, (n1 - n0) / 1e9) / (t1 - t0) * 100
        rss_kb = int(st["VmRSS"].split()[0])
        hwm_kb = int(st["VmHWM"].split()[0])
        print(f"idle over {t1 - t0:.1f} s: cpu {cpu:.3f} % of one core "
              f"({c1 - c0} ticks at {hz} Hz, {(n1 - n0) / 1e6:.1f} ms on a CPU), "
              f"{(s1 - s0) / (t1 - t0):.2f} context switches/s, "
              f"threads {st['Threads']}, VmRSS {rss_kb / 1024:.1f} MiB, "
              f"VmHWM {hwm_kb / 1024:.1f} MiB")
        with open(journal, errors="replace") as f:
            print("daemon log, last lines:\n  " + "\n  ".join(f.read().splitlines()[-4:]))
        report(cpu < 1.0, "idle CPU under 1 % of one core", f"{cpu:.3f} %")
        report(rss_kb < 20 * 1024, "resident memory under 20 MB", f"{rss_kb / 1024:.1f} MiB")
        stop(daemon, notify, seconds(unit.get("TimeoutStopSec", "90s")), "idle stop")
    finally:
        daemon.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["check", "start-stop", "idle"])
    parser.add_argument("--unit", required=True, help="the installed unit file")
    parser.add_argument("--clients", help="the config's site.clients file (check)")
    parser.add_argument("--watchdog-sec", type=float, default=2.0,
                        help="WatchdogSec for the check, instead of the unit's")
    parser.add_argument("--poll-seconds", type=float, default=1.0,
                        help="the config's erp.poll_seconds")
    parser.add_argument("--seconds", type=float, default=60.0, help="idle measuring time")
    args = parser.parse_args()
    unit = read_unit(args.unit)
    with tempfile.TemporaryDirectory(prefix="relais-unit-") as folder:
        os.chmod(folder, 0o755)
        if args.mode == "check":
            check(args, unit, folder)
        elif args.mode == "start-stop":
            start_stop(args, unit, folder)
        else:
            idle(args, unit, folder)
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""numa-analyze top in a pseudo-terminal: it draws on the alternate screen with the cursor hidden,
takes keys without Enter (sort keys redraw), and whichever way it ends -- 'q', Ctrl-C, SIGTERM,
the watched process exiting -- it leaves the main screen with the cursor shown and the terminal
settings exactly as they were.

usage: top_pty_test.py NUMA_ANALYZE
Exit 0 on success, 1 on failure, 77 when no pseudo-terminal can be opened (skipped)."""
import fcntl
import os
import select
import signal
import subprocess
import sys
import termios
import time

ENTER = b"\x1b[?1049h\x1b[?25l"
LEAVE = b"\x1b[?25h\x1b[?1049l"
failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def read_until(fd, needle, timeout):
    """Reads from the pty master until `needle` shows up (returns everything read)."""
    data = b""
    deadline = time.monotonic() + timeout
    while needle not in data and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:   # EIO: the slave side is closed
                break
            if not chunk:
                break
            data += chunk
    return data


def drain(fd, proc, timeout):
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        elif proc.poll() is not None:
            break
    return data


def session(tool, target_pid, how):
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, b"\x28\x00\x78\x00\x00\x00\x00\x00")   # 40 rows x 120 columns
    before = termios.tcgetattr(slave)

    def become_terminal_owner():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)   # the pty is the controlling terminal: Ctrl-C is SIGINT

    proc = subprocess.Popen([tool, "top", "-p", str(target_pid), "--interval", "0.3"], stdin=slave, stdout=slave,
                            stderr=slave, preexec_fn=become_terminal_owner, close_fds=True)
    out = read_until(master, b"TID", 15)
    check(out.startswith(ENTER), how + ": enters the alternate screen and hides the cursor first")
    check(b"TID" in out, how + ": draws a frame")
    during = termios.tcgetattr(slave)
    check(not (during[3] & termios.ICANON) and not (during[3] & termios.ECHO),
          how + ": keys without Enter and without echo while running")
    if how == "keys":
        os.write(master, b"m")
        out += read_until(master, b"sort: migrations", 5)
        check(b"sort: migrations" in out, "keys: 'm' redraws sorted by migrations")
        os.write(master, b"s")
        out += read_until(master, b"sort: score", 5)
        check(b"sort: score" in out, "keys: 's' redraws sorted by score")
        os.write(master, b"q")
    elif how == "ctrl-c":
        os.write(master, b"\x03")
    elif how == "sigterm":
        proc.send_signal(signal.SIGTERM)
    elif how == "target-exits":
        os.kill(target_pid, signal.SIGKILL)
    out += drain(master, proc, 15)
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
        check(False, how + ": top ends")
    after = termios.tcgetattr(slave)
    os.close(master)
    os.close(slave)
    check(rc == 0, how + ": exit status 0 (got %s)" % rc)
    # Ctrl-C makes the tty discard output the master has not read yet (no NOFLSH), so the last frame
    # may arrive cut short; what must hold is that LEAVE comes after the last frame began and that
    # nothing but plain text (the exit line) follows it.
    last_frame = out.rfind(b"\x1b[H")
    leave = out.rfind(LEAVE)
    tail = out[leave:] if leave >= 0 else out[max(last_frame, 0):]
    check(leave > last_frame and b"\x1b" not in tail[len(LEAVE):],
          how + ": the last thing after the last frame shows the cursor and leaves the alternate screen (tail %r)"
          % tail[:80])
    check(after == before, how + ": terminal settings restored exactly")
    return tail


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    tool = sys.argv[1]
    try:
        m, s = os.openpty()
        os.close(m)
        os.close(s)
    except OSError as e:
        print("no pseudo-terminal: %s; skipped" % e)
        return 77
    for how in ("keys", "ctrl-c", "sigterm", "target-exits"):
        target = subprocess.Popen(["sleep", "60"])
        try:
            tail = session(tool, target.pid, how)
            if how == "target-exits":
                check(("numa-analyze: process %d exited" % target.pid).encode() in tail,
                      "target-exits: the exit line comes after the screen is restored")
        finally:
            target.kill()
            target.wait()
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

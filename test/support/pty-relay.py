"""Runs a command in a new pseudo-terminal (80x24), relaying this process's stdin
to the terminal as keystrokes and the terminal's output to this stdout. Exits
with the command's status (128 + signal if a signal ended it)."""
import fcntl
import os
import pty
import select
import struct
import sys
import termios

pid, master = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])

fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
reading_stdin = True
while True:
    ready, _, _ = select.select([master] + ([0] if reading_stdin else []), [], [])
    if master in ready:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the terminal's last process closed it.
            break
        if not data:
            break
        os.write(1, data)
    if 0 in ready:
        data = os.read(0, 65536)
        if data:
            os.write(master, data)
        else:
            reading_stdin = False

_, wait_status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(wait_status) % 256 if os.WIFEXITED(wait_status) else 128 + os.WTERMSIG(wait_status))

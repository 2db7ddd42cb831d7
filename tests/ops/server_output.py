"""What the ops checks share: failing with a message, and reading a server's start-up lines."""
import re
import selectors
import sys
import time

READY = re.compile(r"listening on (http://\S+)")


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def read_stdout(proc, timeout, visit):
    """Passes each line of PROC's stdout to VISIT until it returns something other than None,
    which is returned; None once TIMEOUT passes or the process closes its stdout."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if not sel.select(left):
            break
        line = proc.stdout.readline()
        if not line:
            return None
        if (result := visit(line)) is not None:
            return result
    return None

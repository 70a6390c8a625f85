"""``python -m tests.support.stubborn``: a process that ignores SIGTERM and dumps its stacks on
SIGUSR1, as a service does (services/common/grpc/server.py), for the test of a hung stop."""

import faulthandler
import signal
import threading

if __name__ == "__main__":
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("READY stubborn", flush=True)
    threading.Event().wait()

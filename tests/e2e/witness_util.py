"""A software TPM (swtpm) on loopback for the witness tests, and data-dir snapshots."""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

SWTPM = shutil.which("swtpm")
STATE_FILES = ("arca.db", "arca.db-wal", "arca.db-shm", "arca.db.key-store", "audit.log")


def free_port_pair():
    """A free port P with P + 1 free too: tpm2-tss's swtpm TCTI expects the control channel
    on the next port."""
    for _ in range(50):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        t = socket.socket()
        try:
            t.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
        finally:
            s.close()
            t.close()
    raise RuntimeError("no free port pair")


class Swtpm:
    """swtpm socket --tpm2 in dir, restartable over the same TPM state."""

    def __init__(self, dir_):
        if SWTPM is None:
            pytest.skip("swtpm is not installed (Debian packages swtpm, swtpm-tools)")
        self.dir = str(dir_)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port_pair()
        self.ctrl = self.port + 1
        self.proc = None
        self.start()

    @property
    def spec(self):
        return "tpm:swtpm:host=127.0.0.1,port=%d" % self.port

    def start(self):
        self.proc = subprocess.Popen(
            [SWTPM, "socket", "--tpm2", "--tpmstate", "dir=" + self.dir,
             "--server", "type=tcp,port=%d,bindaddr=127.0.0.1" % self.port,
             "--ctrl", "type=tcp,port=%d,bindaddr=127.0.0.1" % self.ctrl,
             "--flags", "not-need-init,startup-clear"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("swtpm did not start")

    def stop(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def swtpm(tmp_path):
    t = Swtpm(tmp_path / "tpm")
    yield t
    t.stop()


def save_state(data, to):
    """Copies the database, key-store and audit log (all three: the rollback a host can do)."""
    os.makedirs(to)
    for name in STATE_FILES:
        p = os.path.join(data, name)
        if os.path.isfile(p):
            shutil.copy2(p, to)


def restore_state(saved, data):
    for name in STATE_FILES:
        p = os.path.join(data, name)
        if os.path.exists(p):
            os.unlink(p)
    for name in os.listdir(saved):
        shutil.copy2(os.path.join(saved, name), data)

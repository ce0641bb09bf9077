"""A stand-in for lgpio on machines without it (x86 CI), failing the way the real one does.

The real module opens a notification FIFO named ``.lgd-nfy<n>`` in its working directory
(``$LG_WD``, else the current directory) while it is imported. Where that directory cannot be
written (a service started in ``/`` as an unprivileged user, or a directory that no longer
exists) the import fails with ``FileNotFoundError`` on that relative name. Opening a gpiochip
off a Raspberry Pi fails with ``lgpio.error``.
"""

import os

SET_PULL_NONE = 0
SET_PULL_UP = 1
SET_PULL_DOWN = 2
SET_BIAS_DISABLE = 0
SET_BIAS_PULL_UP = 1
SET_BIAS_PULL_DOWN = 2
RISING_EDGE = 1
FALLING_EDGE = 2
BOTH_EDGES = 3


class error(Exception):  # lgpio's own name
    pass


def _open_notify_fifo() -> str:
    workdir = os.environ.get("LG_WD")
    name = f".lgd-nfy{os.getpid()}"
    path = os.path.join(workdir, name) if workdir else name
    try:
        os.mkfifo(path)
    except FileExistsError:
        pass
    except OSError:
        # as lgpio does: the mkfifo result is not checked, the open below reports the failure
        pass
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # FileNotFoundError: '.lgd-nfy…'
    os.close(fd)
    return path


NOTIFY_FIFO = _open_notify_fifo()


def gpiochip_open(chip):
    raise error("can not open gpiochip")


def gpiochip_close(handle):
    pass

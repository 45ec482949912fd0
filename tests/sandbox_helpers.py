"""Reader stand-ins that misbehave, run in the sandbox's child (imported there by name, so this
module imports nothing heavy)."""

import os
import time


def sleep(content: bytes, seconds: float = 60, limits=None) -> str:
    time.sleep(seconds)
    return "woke up"


def spin(content: bytes, limits=None) -> None:
    while True:
        pass


def allocate(content: bytes, megabytes: int = 4096, limits=None) -> int:
    return len(bytearray(megabytes * 1024 * 1024))


def abort(content: bytes, limits=None) -> None:
    os.abort()


def exit_quietly(content: bytes, limits=None) -> None:
    os._exit(3)


def huge_result(content: bytes, megabytes: int = 80, limits=None) -> bytes:
    return os.urandom(megabytes * 1024 * 1024)


def bug(content: bytes, limits=None) -> None:
    raise KeyError("a bug in the reader")


def echo(content: bytes, limits=None) -> tuple[int, object]:
    return len(content), limits

"""Errors are Python exceptions with the library's message, never a crash."""

import os
import struct

import pytest

import framebus
from conftest import shm_path


def test_missing_segment_is_file_not_found(name):
    with pytest.raises(FileNotFoundError, match=name):
        framebus.Reader(name)


def test_bad_name_is_value_error():
    with pytest.raises(ValueError):
        framebus.Reader("no/slashes")
    with pytest.raises(ValueError):
        framebus.Writer("bad name", 64, 48)


def test_bad_format_is_value_error(name):
    with pytest.raises(ValueError, match="pixel format"):
        framebus.Writer(name, 64, 48, format="mpeg")
    assert not os.path.exists(shm_path(name))


def test_corrupt_segment_is_corrupt_segment(name):
    with open(shm_path(name), "wb") as f:  # the magic, then nonsense
        f.write(struct.pack("<Q", 0x5355424D41524646) + b"\xff" * 4088)
    with pytest.raises(framebus.CorruptSegment):
        framebus.Reader(name)
    assert issubclass(framebus.CorruptSegment, framebus.Error)


def test_second_writer_is_file_exists(name):
    with framebus.Writer(name, 64, 48):
        with pytest.raises(FileExistsError, match=str(os.getpid())):
            framebus.Writer(name, 64, 48)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_another_users_segment_is_permission_error(name):
    writer = framebus.Writer(name, 64, 48)
    pid = os.fork()
    if pid == 0:  # the child becomes nobody and tries to read
        code = 3
        try:
            os.setgid(65534)
            os.setuid(65534)
            framebus.Reader(name)
        except PermissionError:
            code = 0
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    writer.close()
    assert os.waitstatus_to_exitcode(status) == 0


def test_timeouts_are_checked():
    with pytest.raises(ValueError):
        framebus.Reader("x", wait=-1)


def without_ages(document):
    if isinstance(document, dict):
        return {k: without_ages(v) for k, v in document.items() if "age" not in k}
    if isinstance(document, list):
        return [without_ages(v) for v in document]
    return document


def test_list_and_info_are_the_cli_documents(name):
    import json
    import subprocess

    from conftest import CLI_BIN

    with framebus.Writer(name, 64, 48) as writer:
        reader = framebus.Reader(name)
        with writer.acquire() as slot:
            slot.array[:] = 1
        listed = framebus.list()
        assert listed["schema"] == "framebus.ls/2"
        mine = [s for s in listed["segments"] if s["name"] == name]
        assert len(mine) == 1 and mine[0]["state"] == "live"
        info = framebus.info(name)
        cli = json.loads(subprocess.run([CLI_BIN, "info", name, "--json"], capture_output=True,
                                         text=True, check=True).stdout)
        # The same document, field for field, except ages (they move with time).
        assert without_ages(info) == without_ages(cli)
        assert info["schema"] == "framebus.info/2"
        assert len(info["readers"]) == 1
        del reader
    with pytest.raises(FileNotFoundError):
        framebus.info(name)

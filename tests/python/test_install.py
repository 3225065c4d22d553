"""`cmake --install` puts the package where the interpreter finds it."""

import os
import subprocess
import sys

import pytest

BUILD_DIR = os.environ.get("FRAMEBUS_BUILD_DIR")
CMAKE = os.environ.get("FRAMEBUS_CMAKE", "cmake")


@pytest.mark.skipif(not BUILD_DIR, reason="needs FRAMEBUS_BUILD_DIR (set by ctest)")
def test_install_puts_the_package_on_the_interpreters_path(tmp_path):
    staging = tmp_path / "stage"
    prefix = "/usr/local"
    subprocess.run([CMAKE, "--install", BUILD_DIR, "--prefix", prefix], check=True,
                   capture_output=True, env=dict(os.environ, DESTDIR=str(staging)))
    installed = [os.path.dirname(os.path.dirname(os.path.join(root, f)))
                 for root, _, files in os.walk(staging) for f in files if f == "__init__.py"
                 and os.path.basename(root) == "framebus"]
    assert len(installed) == 1
    site = installed[0][len(str(staging)):]  # e.g. /usr/local/lib/python3.11/dist-packages
    # That directory is on the interpreter's own path, with no PYTHONPATH.
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    path = subprocess.run([sys.executable, "-c", "import sys; print('\\n'.join(sys.path))"],
                          capture_output=True, text=True, check=True, env=clean).stdout.split()
    assert site in path
    # And the installed copy imports and works (from the staging directory).
    out = subprocess.run(
        [sys.executable, "-c", "import framebus; print(framebus.__file__, framebus.pixel_formats())"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
        env=dict(clean, PYTHONPATH=installed[0])).stdout
    assert out.startswith(installed[0]) and "bgr24" in out

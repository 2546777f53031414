"""The CI client installs alone, with no dependency, and brings its command."""

import subprocess
import sys
import zipfile

from tests.conftest import ROOT


def test_the_wheel_holds_only_the_client_and_its_command(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path),
         str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip

    (wheel,) = tmp_path.glob("trackerclient-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    packages = {name.split("/")[0] for name in names if not name.startswith("trackerclient-")}
    assert packages == {"trackerclient"}
    metadata = next(n for n in names if n.endswith("METADATA"))
    assert "Requires-Dist" not in zipfile.ZipFile(wheel).read(metadata).decode()
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert (
        "trackerclient = trackerclient.cli:main"
        in zipfile.ZipFile(wheel).read(entry_points).decode()
    )

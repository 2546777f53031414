"""The layers hold: the import contracts `make lint` checks are kept, and the CI client, which
installs as a package of its own, imports nothing outside the standard library."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_are_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    command = str(lint_imports) if lint_imports.exists() else shutil.which("lint-imports")
    assert command, "lint-imports is not installed (requirements-dev.txt)"

    done = subprocess.run(
        [command, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def imported_top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


# Imported inside Tracker.series_frame only, when a frame is asked for.
OPTIONAL = {"trackerclient/api.py": ["pandas"]}


def test_the_ci_client_imports_only_the_standard_library():
    outside = {}
    for path in sorted((ROOT / "trackerclient").rglob("*.py")):
        names = imported_top_level_names(path) - set(sys.stdlib_module_names) - {"trackerclient"}
        if names:
            outside[str(path.relative_to(ROOT))] = sorted(names)

    assert outside == OPTIONAL


def test_importing_the_ci_client_loads_nothing_outside_the_standard_library():
    probe = (
        "import sys, trackerclient, trackerclient.api, trackerclient.cli;"
        "print(sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names)"
        " - {'trackerclient', '__main__'}))"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"

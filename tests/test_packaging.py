"""The import names are ``smtp_iac`` and ``pulumi_smtp_iac`` (the Python SDK of the Pulumi
plugin), the only top-level packages smtp-iac installs, with the plugin's console script; the
source folder ``providers/`` is no package, so no module loads under two names: not from an
installed wheel, not from the project root (where the Pulumi provider host runs).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IMPORT_EVERYTHING = (
    "import pkgutil, sys, smtp_iac\n"
    "for m in pkgutil.walk_packages(smtp_iac.__path__, 'smtp_iac.'):\n"
    "    __import__(m.name)\n"
    "print(sorted({n.split('.')[0] for n in sys.modules if n.startswith(('smtp_iac', 'providers'))}))\n"
)


def python(code: str, cwd: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel a user installs, built from a copy of the sources (the checkout stays clean)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("providers", "schemas"):
        shutil.copytree(
            ROOT / name, src / name, symlinks=True, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__")
        )
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (whl,) = out.glob("smtp_iac-*.whl")
    return whl


def test_the_wheel_installs_two_top_level_packages_with_their_types_schemas_and_plugin(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    dist_info = f"{wheel.name.split('-py3')[0]}.dist-info"
    assert {n.split("/")[0] for n in names} == {"smtp_iac", "pulumi_smtp_iac", dist_info}
    assert {
        "smtp_iac/py.typed",
        "pulumi_smtp_iac/py.typed",
        "smtp_iac/schemas/stack.schema.json",
        "smtp_iac/schemas/plan.schema.json",
        "smtp_iac/schemas/pulumi-schema.json",
    } <= set(names)
    (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
    assert sorted(zipfile.ZipFile(wheel).read(top_level).decode().split()) == ["pulumi_smtp_iac", "smtp_iac"]
    entry_points = zipfile.ZipFile(wheel).read(f"{dist_info}/entry_points.txt").decode()
    assert "pulumi-resource-smtp-iac = smtp_iac.pulumi.native.server:main" in entry_points


def test_from_the_unpacked_wheel_smtp_iac_imports_and_providers_does_not(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    # -S: no site-packages (so not the editable install of this checkout), -I: no cwd, no env.
    probe = (
        f"import sys; sys.path.insert(0, {str(site)!r}); import smtp_iac; print(smtp_iac.__file__); import providers"
    )
    done = python(probe, tmp_path, "-S", "-I")
    assert done.stdout.strip() == str(site / "smtp_iac" / "__init__.py")
    assert "ModuleNotFoundError: No module named 'providers'" in done.stderr


def test_outside_the_checkout_providers_is_not_importable(tmp_path: Path) -> None:
    done = python("import smtp_iac; import providers", tmp_path)
    assert "ModuleNotFoundError: No module named 'providers'" in done.stderr


def test_from_the_project_root_providers_refuses_to_load_and_no_module_has_two_names() -> None:
    for code in ("import providers", "import providers.smtp_iac.errors"):
        done = python(code, ROOT)
        assert "ImportError: providers/ is the source folder of smtp-iac, not a package: import smtp_iac" in (
            done.stderr
        ), code
    done = python(IMPORT_EVERYTHING, ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['smtp_iac']"

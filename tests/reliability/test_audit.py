"""script/audit, run against stand-ins for uv and pip-audit (the real service needs pypi.org).

The stand-ins come first on PATH: ``uv`` writes a one-line requirements file where it
is told to, ``pip-audit`` records its arguments and behaves as ``FAKE_AUDIT`` says
(clean, vulnerable, unreachable, broken).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]

FAKE_UV = """#!/bin/sh
echo "$@" > "$FAKE_DIR/uv.args"
while [ $# -gt 0 ]; do
  if [ "$1" = "--output-file" ]; then printf 'requests==2.19.0\\n' > "$2"; fi
  shift
done
"""

FAKE_PIP_AUDIT = """#!/bin/sh
echo "$@" > "$FAKE_DIR/pip-audit.args"
echo "WARNING:pip_audit._cli:--no-deps is supported, but users are encouraged" >&2
case "$FAKE_AUDIT" in
  clean) echo "No known vulnerabilities found" >&2; exit 0 ;;
  vulnerable)
    echo "Name     Version ID                  Fix Versions"
    echo "requests 2.19.0  GHSA-x84v-xcm2-53pg 2.20.0"
    echo "Found 1 known vulnerability in 1 package" >&2
    exit 1 ;;
  unreachable)
    echo "Traceback (most recent call last):" >&2
    echo "    raise ConnectionError(e, request=request)" >&2
    echo "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='pypi.org', port=443):\
 Max retries exceeded with url: /pypi/requests/2.19.0/json" >&2
    exit 1 ;;
  *) echo "pip-audit: error: unrecognized arguments" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def fakes(tmp_path: Path) -> Path:
    """A folder holding the stand-ins for uv and pip-audit."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name, text in (("uv", FAKE_UV), ("pip-audit", FAKE_PIP_AUDIT)):
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    return folder


def audit(
    fakes: Path, behaviour: str, ignore: str | None = None, **env: str
) -> subprocess.CompletedProcess:
    """Run script/audit from the repository root with the stand-ins first on PATH."""
    ignore_file = fakes.parent / "ignore"
    ignore_file.write_text(ignore or "# no exceptions\n")
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AUDIT_")},
        "PATH": f"{fakes}:{os.environ['PATH']}",
        "FAKE_DIR": str(fakes),
        "FAKE_AUDIT": behaviour,
        "AUDIT_IGNORE_FILE": str(ignore_file),
        **env,
    }
    return subprocess.run(
        ["script/audit"],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_unreachable_service_is_one_line_and_a_failure(fakes: Path) -> None:
    done = audit(fakes, "unreachable")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("FAILED: script/audit: PyPI's vulnerability service")
    assert "could not be used (requests.exceptions.ConnectionError" in lines[0]
    assert "set AUDIT_OFFLINE_OK=1 to skip it" in lines[0]
    assert "Traceback" not in done.stdout + done.stderr


def test_an_unreachable_service_is_skipped_when_offline_is_ok(fakes: Path) -> None:
    done = audit(fakes, "unreachable", AUDIT_OFFLINE_OK="1")
    assert done.returncode == 0, done.stderr
    skipped = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1 and "AUDIT_OFFLINE_OK=1" in skipped[0]


def test_the_locked_requirements_are_audited_without_resolving(fakes: Path) -> None:
    done = audit(fakes, "clean")
    assert done.returncode == 0, done.stderr
    assert "no known vulnerabilities in 1 locked packages" in done.stdout
    uv = (fakes / "uv.args").read_text().split()
    assert uv[:5] == ["export", "--frozen", "--all-extras", "--no-hashes", "--no-emit-project"]
    arguments = (fakes / "pip-audit.args").read_text()
    assert "--disable-pip --no-deps --strict" in arguments
    assert "--ignore-vuln" not in arguments


def test_a_known_vulnerability_fails_and_is_shown(fakes: Path) -> None:
    done = audit(fakes, "vulnerable")
    assert done.returncode == 1
    assert "GHSA-x84v-xcm2-53pg" in done.stdout
    assert "FAILED: script/audit: known vulnerabilities in the locked dependencies" in done.stderr


def test_a_recorded_exception_is_passed_on(fakes: Path) -> None:
    review = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    ignore = f"# reviewed\nGHSA-x84v-xcm2-53pg {review} requests is only used against moto\n"
    done = audit(fakes, "clean", ignore)
    assert done.returncode == 0, done.stderr
    assert "--ignore-vuln GHSA-x84v-xcm2-53pg" in (fakes / "pip-audit.args").read_text()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("GHSA-x84v-xcm2-53pg 2020-01-31 it was fine then", "expired on 2020-01-31"),
        ("GHSA-x84v-xcm2-53pg 2999-01-31", "gives no reason"),
        ("GHSA-x84v-xcm2-53pg next-year we will see", "with REVIEW-BY a date"),
    ],
    ids=["expired", "no-reason", "no-date"],
)
def test_an_exception_without_a_reason_or_past_its_review_fails(
    fakes: Path, entry: str, message: str
) -> None:
    done = audit(fakes, "clean", f"{entry}\n")
    assert done.returncode == 1
    assert "line 1" in done.stderr and message in done.stderr, done.stderr
    assert not (fakes / "pip-audit.args").exists()


def test_another_pip_audit_failure_shows_its_output(fakes: Path) -> None:
    done = audit(fakes, "broken")
    assert done.returncode == 2
    assert "unrecognized arguments" in done.stdout
    assert "pip-audit failed (exit 2)" in done.stderr


def test_the_repository_exceptions_file_is_valid(fakes: Path) -> None:
    done = audit(fakes, "clean", (REPOSITORY / ".pip-audit-ignore").read_text())
    assert done.returncode == 0, done.stderr

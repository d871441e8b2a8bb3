"""The developer guide's code runs: every ```python and ```sh block, in order.

Blocks run from the repository root with .venv/bin first on PATH, in the test's private
CORE_HOME (and a private transforms folder), one process per block, so that a block
sees what the blocks before it did (a secret set, a run started) as a reader would. A
block preceded by ``<!-- no-run -->`` is skipped; only blocks that need a Docker engine
or an AWS account may be.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
NO_RUN = "<!-- no-run -->"
FENCE = re.compile(r"^```(\w*)\s*$")
RUNNABLE = ("python", "sh")
# The seed dev guide's sections, which the developer guide follows.
SEED_SECTIONS = (
    "Running scripts",
    "Developing in Docker",
    "AWS credentials",
    "SessionHelper",
    "ConfigurationMocker",
    "Migrations",
    "Credentials",
    "Contracts",
    "Testing operators",
    "Spacers",
    "Over the wire",
    "Testing",
)


@dataclass(frozen=True)
class Block:
    """One fenced code block of a document."""

    language: str
    code: str
    line: int
    run: bool


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a markdown file, with their first line number."""
    found: list[Block] = []
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        code = "\n".join(lines[index + 1 : end]) + "\n"
        found.append(Block(opening.group(1), code, index + 1, previous.strip() != NO_RUN))
        index = end + 1
    return found


def _environment(home: Path, transforms: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORE_")}
    env.update(
        CORE_HOME=str(home),
        CORE_CONFIG=str(home / "absent-core.toml"),
        CORE_TRANSFORMS_DIR=str(transforms),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "/usr/bin:/bin")]),
    )
    return env


def _run(block: Block, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", block.code] if block.language == "python" else ["sh", "-ec"]
    if block.language == "sh":
        argv.append(block.code)
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_the_developer_guide_follows_the_seed_s_sections() -> None:
    text = (DOCS / "developer_guide.md").read_text()
    headings = [line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")]
    for section in SEED_SECTIONS:
        assert any(h.startswith(section) for h in headings), f"no section {section!r}"


def test_only_blocks_needing_docker_or_aws_are_not_run() -> None:
    document = blocks(DOCS / "developer_guide.md")
    assert [b for b in document if b.run and b.language in RUNNABLE]
    for block in document:
        assert block.language in RUNNABLE, f"line {block.line}: a ```{block.language} block"
        if not block.run:
            needs = re.search(r"\b(docker|script/dev_env|AWS_PROFILE|aws)\b", block.code)
            assert needs, f"line {block.line}: marked no-run but needs neither Docker nor AWS"


def test_every_runnable_block_of_the_developer_guide_runs(core_env: Path, tmp_path: Path) -> None:
    transforms = tmp_path / "transforms"
    transforms.mkdir()
    shutil.copy(ROOT / "transforms" / "Template.ipynb", transforms)
    env = _environment(core_env, transforms)
    for block in blocks(DOCS / "developer_guide.md"):
        if not block.run:
            continue
        result = _run(block, env)
        assert result.returncode == 0, (
            f"docs/developer_guide.md line {block.line} ({block.language}) failed:\n"
            f"{block.code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    assert (transforms / "fill_rates.ipynb").is_file()
    assert not (ROOT / "transforms" / "fill_rates.ipynb").exists()


def test_the_aws_policies_are_valid_json() -> None:
    policies = [b for b in blocks(DOCS / "deployment_aws.md") if b.language == "json"]
    assert len(policies) >= 3
    for block in policies:
        policy = json.loads(block.code)
        assert policy["Version"] == "2012-10-17" and policy["Statement"], block.line


def test_the_readme_links_every_guide_and_every_link_resolves() -> None:
    readme = (ROOT / "README.md").read_text()
    links = set(re.findall(r"\]\((docs/[\w.-]+\.md)", readme))
    for guide in ("user_guide", "developer_guide", "architecture", "security", "runbook"):
        assert f"docs/{guide}.md" in links
    assert "docs/deployment_aws.md" in links
    for link in links:
        assert (ROOT / link).is_file(), link
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([\w-]+\.md)(?:#[\w-]+)?\)", page.read_text()):
            assert (DOCS / target).is_file(), f"{page.name} links to missing {target}"

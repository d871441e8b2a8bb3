"""Where a transformation may read and write files: the configured roots, and nothing else.

A transformation's configuration is written by editors, so the places it names are
untrusted input. Every variable that names a location is confined here, on save and
again at run time (a symbolic link can appear after the save):

- a landing source (``extract_from_landing``'s ``source``) must lie in
  ``<landing root>/<company>/<brand>`` of the transformation's pipeline, for one of
  the ``landing_roots`` settings;
- an export destination (``publish_to_s3``'s ``destination``) must lie in
  ``<export root>/<company>/<brand>``, for one of the ``export_roots``;
- an SFTP ``remote_path`` may not climb with ``..`` (what the server's account reaches
  is the server's to limit).

A local path is checked after resolving symbolic links, so a link out of the root is
refused like the path it points to; ``..`` is refused outright. The settings refuse a
root that would expose CORE's own state (:func:`check_roots`): CORE_HOME, the
configuration database, the secrets file, the session key, the logs, the DAG cache,
the notebooks and the lake.

This module imports nothing heavy: the settings call it while loading.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from core.errors import TransformationVariableError
from core.transforms.library import BUILTINS

if TYPE_CHECKING:
    from core.settings import Settings

RootKind = Literal["landing", "export"]
# The setting that lists each kind of root, as an administrator sets it.
ROOT_SETTINGS: dict[str, str] = {"landing": "CORE_LANDING_ROOTS", "export": "CORE_EXPORT_ROOTS"}
# The folder of CORE_HOME that is each kind's root in dev and test unless set.
DEFAULT_FOLDERS: dict[str, str] = {"landing": "landing", "export": "outbox"}
# Which variables of which transform (by entrypoint, so a template of another name that
# runs the same function is confined too) name a location, and of what kind.
LOCATION_VARIABLES: dict[str, dict[str, str]] = {
    BUILTINS["extract_from_landing"]: {"source": "landing"},
    BUILTINS["publish_to_s3"]: {"destination": "export"},
    BUILTINS["extract_from_sftp"]: {"remote_path": "remote"},
    BUILTINS["publish_to_sftp"]: {"remote_path": "remote"},
}
S3_SCHEME = "s3://"
LOCAL_PREFIX = "file://"
# The name of the session key file in CORE_HOME (core.api.auth keeps it there).
SESSION_KEY_FILE = "web_session.key"


class OutsideRootError(TransformationVariableError):
    """A location variable names a place outside the configured roots (or climbs with '..')."""


@dataclass(frozen=True)
class Place:
    """A confined location.

    Attributes:
        uri: a resolved absolute local path, or an ``s3://bucket/prefix`` URL (no trailing '/').
        local: True for a local directory.
    """

    uri: str
    local: bool


# --- the settings' side ------------------------------------------------------------------


def parse_roots(value: Any) -> Any:
    """A roots setting as a list: a JSON list, or text separated by commas or newlines."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        import json

        return json.loads(text)
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


def normalize_root(value: str, home: Path) -> str:
    """A root as CORE compares it: an absolute real path, or an s3:// URL without '/' at the end.

    Raises:
        ValueError: the root is empty, climbs with '..', or has another scheme.
    """
    text = str(value).strip()
    if not text:
        raise ValueError("a root is empty; expected a directory or an s3://bucket/prefix URL")
    if text.startswith(S3_SCHEME):
        _s3_parts(text)  # refuses '..', empty parts and a missing bucket
        return text.rstrip("/")
    if "://" in text and not text.startswith(LOCAL_PREFIX):
        raise ValueError(f"root {text!r}: expected a directory or an s3://bucket/prefix URL")
    path = Path(text.removeprefix(LOCAL_PREFIX)).expanduser()
    if ".." in path.parts:
        raise ValueError(f"root {text!r} contains '..'; name the directory itself")
    return str((path if path.is_absolute() else home / path).resolve())


def check_roots(settings: Settings, kind: RootKind, roots: Sequence[str]) -> None:
    """Refuse roots that would let a transformation read or overwrite CORE's own state.

    A root may not contain CORE_HOME, the configuration database, the secrets file or
    the session key, nor overlap (contain or lie in) the logs, the DAG cache, the
    notebooks folder or the lake. A root inside CORE_HOME that holds none of them
    (the default ``$CORE_HOME/landing``) is fine.

    Raises:
        ValueError: naming the root, what it exposes and the fix.
    """
    home = Path(settings.home).resolve()
    contained = {"CORE_HOME": home, **_protected_files(settings)}
    overlapping = _protected_folders(settings)
    for root in roots:
        if root.startswith(S3_SCHEME):
            lake = str(settings.lake_root or "").rstrip("/")
            if lake.startswith(S3_SCHEME) and (_within_s3(root, lake) or _within_s3(lake, root)):
                raise ValueError(_exposes(kind, root, "the lake", lake))
            continue
        path = Path(root)
        for what, protected in contained.items():
            if _within(protected, path):
                raise ValueError(_exposes(kind, root, what, str(protected)))
        for what, protected in overlapping.items():
            if _within(protected, path) or _within(path, protected):
                raise ValueError(_exposes(kind, root, what, str(protected)))


def _exposes(kind: str, root: str, what: str, where: str) -> str:
    return (
        f"{kind} root {root!r} would expose {what} ({where}) to transformations; expected a "
        f"directory that holds none of CORE's own state, such as $CORE_HOME/{DEFAULT_FOLDERS[kind]}"
        f"; fix {ROOT_SETTINGS[kind]}"
    )


def _protected_files(settings: Settings) -> dict[str, Path]:
    home = Path(settings.home)
    files = {
        "the configuration database": home / "configuration.db",
        "the secrets file": Path(settings.secrets_file or home / "secrets.toml"),
        "the session key": home / SESSION_KEY_FILE,
    }
    url = settings.database_url or ""
    if url.startswith("sqlite") and "///" in url:
        files["the configuration database"] = Path(url.split("///", 1)[1].split("?", 1)[0])
    return {what: path.expanduser().resolve() for what, path in files.items()}


def _protected_folders(settings: Settings) -> dict[str, Path]:
    home = Path(settings.home)
    folders = {
        "the logs": home / "logs",
        "the Airflow DAG cache": Path(settings.airflow_dag_cache or home / "airflow"),
        "the notebooks folder": Path(settings.transforms_dir or "transforms"),
    }
    lake = str(settings.lake_root or "")
    if lake and not lake.startswith(S3_SCHEME):
        folders["the lake"] = Path(lake.removeprefix(LOCAL_PREFIX))
    return {what: path.expanduser().resolve() for what, path in folders.items()}


def protected_inodes(settings: Settings) -> set[tuple[int, int]]:
    """The (device, inode) of CORE's state files that exist: a hard link to one is refused."""
    found = set()
    for path in _protected_files(settings).values():
        try:
            info = path.stat()
        except OSError:
            continue
        found.add((info.st_dev, info.st_ino))
    return found


# --- the transformations' side -----------------------------------------------------------


def confine(
    settings: Settings,
    kind: RootKind,
    value: str,
    owner: tuple[str, str],
    who: str,
    variable: str,
) -> Place:
    """The place a location variable names, checked to lie in its pipeline's part of a root.

    Args:
        settings: CORE's settings (the roots, CORE_HOME for relative paths).
        kind: "landing" (a source) or "export" (a destination).
        value: the variable's value: a directory (relative to CORE_HOME) or an s3:// URL.
        owner: the pipeline's (company, brand): its part of a root is ``root/company/brand``.
        who: how messages name the transformation.
        variable: the variable's name.

    Returns:
        The resolved place.

    Raises:
        OutsideRootError: the value climbs with '..', or lies (or a symbolic link on its
            way leads) outside every ``root/company/brand``.
    """
    text = (value or "").strip()
    roots = _roots(settings, kind)
    bases = [f"{root}/{owner[0]}/{owner[1]}" for root in roots]
    if "://" in text and not text.startswith((S3_SCHEME, LOCAL_PREFIX)):
        raise _error(
            who,
            variable,
            value,
            f"it is not a location CORE confines; expected a directory under {_listed(bases)}",
            _fix(kind, owner, bases, settings),
        )
    if text.startswith(S3_SCHEME):
        parts = _s3_or_refuse(text, who, variable, value, bases)
        uri = S3_SCHEME + "/".join(parts)
        if not any(_within_s3(uri, base) for base in bases if base.startswith(S3_SCHEME)):
            raise _outside(kind, who, variable, value, uri, owner, bases, settings)
        return Place(uri, local=False)
    path = Path(text.removeprefix(LOCAL_PREFIX)).expanduser()
    if ".." in path.parts:
        raise _error(
            who,
            variable,
            value,
            f"'..' is not allowed in a location (it climbs out of the directory it names); "
            f"expected a directory under {_listed(bases)}",
            _fix(kind, owner, bases, settings),
        )
    absolute = Path(os.path.normpath(path if path.is_absolute() else settings.home / path))
    real = absolute.resolve()
    local_bases = [Path(b) for b in bases if not b.startswith(S3_SCHEME)]
    if any(_within(real, base.resolve()) for base in local_bases):
        return Place(str(real), local=True)
    if real != absolute and any(_within(absolute, base) for base in local_bases):
        raise _error(
            who,
            variable,
            value,
            f"a symbolic link on its way resolves to {real}, outside {_listed(bases)}; "
            "links may not lead out of a root",
            "replace the link by the directory itself, under the root",
        )
    raise _outside(kind, who, variable, value, str(real), owner, bases, settings)


def check_file(
    base: str, path: str, protected: set[tuple[int, int]], who: str, variable: str, value: str
) -> str:
    """The real path of one file found in a confined local directory, checked to stay in it.

    A file that is a symbolic link out of the directory, or a hard link to one of CORE's
    state files, is refused: listing the directory follows links.

    Args:
        base: the directory's real path (:func:`confine`'s result).
        path: the file's path as listed.
        protected: :func:`protected_inodes`.
        who: the transformation, for messages.
        variable: the location variable, for messages.
        value: its value, for messages.

    Returns:
        The file's real path, to read instead of the listed one.

    Raises:
        OutsideRootError: the file leads out of the directory or is CORE's own state.
    """
    real = Path(path).resolve()
    if not _within(real, Path(base)):
        raise _error(
            who,
            variable,
            value,
            f"the file {path} is a symbolic link (or passes through one) resolving to {real}, "
            f"outside {base}; links may not lead out of a root",
            "remove the link and put the file itself in the directory",
        )
    info = real.stat()
    if (info.st_dev, info.st_ino) in protected:
        raise _error(
            who,
            variable,
            value,
            f"the file {path} is a hard link to one of CORE's own state files",
            "remove it; CORE's database, secrets and session key are never read as data",
        )
    return str(real)


def check_remote_path(value: str | None, who: str, variable: str = "remote_path") -> None:
    """Refuse an SFTP directory that climbs with '..'.

    Raises:
        OutsideRootError: it has a '..' part.
    """
    if value and ".." in PurePosixPath(value).parts:
        raise _error(
            who,
            variable,
            value,
            "'..' is not allowed in a location (it climbs out of the directory it names)",
            "name the server's directory itself, e.g. '/outgoing'",
        )


def transformation_problems(row: Any, settings: Settings | None) -> list[OutsideRootError]:
    """Every location variable of a transformation about to be saved that is not confined.

    Args:
        row: a ``Transformation`` with its template and pipeline state loaded.
        settings: CORE's settings; None checks nothing (no roots are known).

    Returns:
        One error per refused variable (each with ``.variable`` set); empty when all is well.
    """
    template, state = row.transformation_template, row.pipeline_state
    if settings is None or template is None or state is None:
        return []
    variables = LOCATION_VARIABLES.get(template.entrypoint or BUILTINS.get(template.name, ""))
    if not variables:
        return []
    brand = state.pipeline.brand
    owner = (brand.pharmaceutical_company.name, brand.name)
    return _problems(settings, variables, row.stored_variables, owner, row.label)


def _problems(
    settings: Settings,
    variables: Mapping[str, str],
    values: Mapping[str, str | None],
    owner: tuple[str, str],
    who: str,
) -> list[OutsideRootError]:
    problems = []
    for name, kind in variables.items():
        value = values.get(name)
        if not value:
            continue  # a missing value is the variable check's to report
        try:
            if kind == "remote":
                check_remote_path(value, who, name)
            else:
                confine(settings, kind, value, owner, who, name)  # type: ignore[arg-type]
        except OutsideRootError as exc:
            problems.append(exc)
    return problems


# --- helpers -----------------------------------------------------------------------------


def _roots(settings: Settings, kind: str) -> list[str]:
    return list(getattr(settings, f"{kind}_roots", None) or [])


def _within(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


def _within_s3(uri: str, base: str) -> bool:
    return uri == base or uri.startswith(base.rstrip("/") + "/")


def _s3_parts(uri: str) -> list[str]:
    parts = uri[len(S3_SCHEME) :].rstrip("/").split("/")
    if not parts[0]:
        raise ValueError(f"{uri!r} names no bucket; expected s3://bucket/prefix")
    bad = [p for p in parts if p in ("", ".", "..")]
    if bad:
        raise ValueError(f"{uri!r} has an empty, '.' or '..' part; name the prefix itself")
    return parts


def _s3_or_refuse(
    text: str, who: str, variable: str, value: str, bases: Sequence[str]
) -> list[str]:
    try:
        return _s3_parts(text)
    except ValueError as exc:
        problem = f"{exc}; expected a location under {_listed(bases)}"
        raise _error(who, variable, value, problem, "write the prefix without them") from None


def _listed(bases: Iterable[str]) -> str:
    shown = list(bases)
    return " or ".join(shown) if shown else "(no root is configured)"


def _fix(kind: str, owner: tuple[str, str], bases: Sequence[str], settings: Settings) -> str:
    if not bases:
        return (
            f"no {kind} root is configured: an administrator sets {ROOT_SETTINGS[kind]} "
            "(directories or s3://bucket/prefix URLs)"
        )
    home = str(Path(settings.home).resolve())
    first = bases[0]
    suggested = first[len(home) + 1 :] if first.startswith(home + "/") else first
    return (
        f"put the files under {first} and set it to {suggested!r} (or a folder in it); "
        f"other places need another root in {ROOT_SETTINGS[kind]}"
    )


def _outside(
    kind: str,
    who: str,
    variable: str,
    value: str,
    resolved: str,
    owner: tuple[str, str],
    bases: Sequence[str],
    settings: Settings,
) -> OutsideRootError:
    company, brand = owner
    return _error(
        who,
        variable,
        value,
        f"it is {resolved}, outside the {kind} of {company}/{brand}; expected a location "
        f"under {_listed(bases)}",
        _fix(kind, owner, bases, settings),
    )


def _error(who: str, variable: str, value: str, problem: str, fix: str) -> OutsideRootError:
    error = OutsideRootError(f"{who}: variable {variable!r}={value!r} is refused: {problem}; {fix}")
    error.variable = variable
    return error

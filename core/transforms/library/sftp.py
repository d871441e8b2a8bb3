"""extract_from_sftp and publish_to_sftp: files to and from an SFTP directory (paramiko).

extract_from_sftp downloads the files of ``remote_path`` whose names match
``prefix`` and ``suffix`` and that raw lacks or holds an older copy of (the remote
modification time against ``RawContract.needs_update``). Each file is downloaded
to a local temporary file, its size checked against the server's, and only then
stored in raw: a dropped connection never leaves a truncated file in raw.

publish_to_sftp exports a dataset as CSV (see publish_to_s3), uploads it under a
hidden temporary name, checks its size and renames it into place. SFTP's rename
refuses an existing name, so an existing file is never overwritten.

Both retry a dropped connection (variables ``retries`` and ``backoff_seconds``).
"""

from __future__ import annotations

import contextlib
import posixpath
import shutil
import stat
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import paramiko

from core.errors import ConfigurationError
from core.lake.raw_contract import COPY_CHUNK
from core.roots import check_remote_path
from core.transforms.library import Builtin
from core.transforms.library._common import FILE_PART, owner
from core.transforms.library.publish import EXPORT_VARIABLES, exists_error, export_name
from core.transforms.library.sftp_client import (
    RETRY_VARIABLES,
    IncompleteTransferError,
    Retrying,
    SftpSession,
    endpoint,
    retrying,
)
from core.transforms.library.transfer import (
    HIDDEN_MARK,
    count_copied,
    dataset_without_metadata,
    raw_output,
    record_counts,
    write_csv,
)

if TYPE_CHECKING:
    from core.transforms.context import TransformContext

SECRET_VARIABLES = {
    "secret_name": {"type": "string", "description": "name of an SFTP secret"},
    "remote_path": {
        "type": "string",
        "required": False,
        "default": "/",
        "description": "the server's directory",
    },
}


def _secret_mode(default: str) -> dict[str, object]:
    return {
        "type": "string",
        "required": False,
        "default": default,
        "description": "the secret's mode (the last part of its identifier)",
    }


TEMPLATES = [
    Builtin(
        name="extract_from_sftp",
        entrypoint="core.transforms.library.sftp:extract_from_sftp",
        description=(
            "Download new or changed files from an SFTP directory into raw. By default "
            "(prefix and suffix empty) every file there, whatever its ending; files "
            "downloaded before and unchanged are skipped."
        ),
        state="raw",
        tags=("extract", "sftp"),
        variables={
            "secret_name": SECRET_VARIABLES["secret_name"],
            "secret_type": {
                "type": "string",
                "required": False,
                "default": "SFTP",
                "choices": ["SFTP", "FTP"],
                "description": "the secret's type; only SFTP is supported",
            },
            "remote_path": SECRET_VARIABLES["remote_path"],
            "prefix": {"type": "string", "required": False, "default": "", "check": FILE_PART},
            "suffix": {"type": "string", "required": False, "default": "", "check": FILE_PART},
            "secret_mode": _secret_mode("read"),
            **RETRY_VARIABLES,
        },
    ),
    Builtin(
        name="publish_to_sftp",
        entrypoint="core.transforms.library.sftp:publish_to_sftp",
        description=(
            "Export this run's rows of a dataset as a CSV file (.csv, or .csv.gz with gzip) "
            "to an SFTP directory, named by file_pattern; never overwrites."
        ),
        state="dimensional",
        tags=("publish", "sftp"),
        variables={
            "input": EXPORT_VARIABLES["input"],
            **SECRET_VARIABLES,
            "file_pattern": EXPORT_VARIABLES["file_pattern"],
            "gzip": EXPORT_VARIABLES["gzip"],
            "secret_mode": _secret_mode("write"),
            **RETRY_VARIABLES,
        },
    ),
]


@dataclass(frozen=True)
class RemoteFile:
    """One file of the remote directory (name, full path, size, mtime in epoch seconds)."""

    name: str
    path: str
    size: int
    modified_time: float


def extract_from_sftp(ctx: TransformContext) -> None:
    """Download the remote directory's new or changed files into the raw output.

    Records files_seen, files_copied, files_skipped and rows_out (files copied), also
    when it fails part way.

    Args:
        ctx: the context (variables secret_name, secret_type, remote_path, prefix, ...).

    Raises:
        ConfigurationError: not in raw, FTP asked for, login refused, no remote_path.
        TransferError: the connection kept dropping.
    """
    raw = raw_output(ctx)
    remote_path = ctx.variables["remote_path"] or "/"
    check_remote_path(remote_path, owner(ctx))
    login = endpoint(ctx, ctx.variables["secret_type"] or "SFTP")
    with SftpSession(login) as session, tempfile.TemporaryDirectory() as scratch:
        run = retrying(ctx, session)
        files = run(lambda sftp: list_remote(sftp, ctx), f"listing {remote_path}")
        changed = [f for f in files if raw.needs_update(f.name, f.modified_time)]
        record_counts(ctx, f"{remote_path} (SFTP secret {login.identifier})", files, changed)
        for file in changed:
            local, mtime = run(lambda sftp, f=file: download(sftp, f, Path(scratch)), file.path)
            raw.put_file(local, file.name, source_path=file.path, source_modified_time=mtime)
            local.unlink()
            count_copied(ctx)


def list_remote(sftp: paramiko.SFTPClient, ctx: TransformContext) -> list[RemoteFile]:
    """The regular files of ``remote_path`` matching prefix and suffix, by name.

    Raises:
        ConfigurationError: remote_path does not exist on the server.
    """
    variables = ctx.variables
    remote_path = variables["remote_path"] or "/"
    try:
        entries = sftp.listdir_attr(remote_path)
    except FileNotFoundError:
        raise _no_directory(ctx, remote_path) from None
    prefix, suffix = variables["prefix"] or "", variables.get("suffix") or ""
    files = [
        RemoteFile(e.filename, posixpath.join(remote_path, e.filename), e.st_size, e.st_mtime)
        for e in entries
        if stat.S_ISREG(e.st_mode or 0)
        and not e.filename.startswith(HIDDEN_MARK)
        and e.filename.startswith(prefix)
        and e.filename.endswith(suffix)
    ]
    return sorted(files, key=lambda f: f.name)


def download(sftp: paramiko.SFTPClient, file: RemoteFile, scratch: Path) -> tuple[Path, float]:
    """Download one file to a new local file, checking that all of it arrived.

    Args:
        sftp: the SFTP client.
        file: the remote file.
        scratch: the local directory to download into.

    Returns:
        The local file and the remote modification time when it was opened.

    Raises:
        IncompleteTransferError: fewer bytes arrived than the server said it holds
            (the local file is removed).
    """
    local = scratch / uuid.uuid4().hex
    try:
        with sftp.open(file.path, "rb") as reader, local.open("wb") as writer:
            attributes = reader.stat()
            if attributes.st_size:
                reader.prefetch(attributes.st_size)
            shutil.copyfileobj(reader, writer, COPY_CHUNK)
        received = local.stat().st_size
        if received < (attributes.st_size or 0):
            raise IncompleteTransferError(
                f"{file.path}: received {received} of {attributes.st_size} bytes"
            )
    except BaseException:
        local.unlink(missing_ok=True)
        raise
    return local, float(attributes.st_mtime or file.modified_time)


def publish_to_sftp(ctx: TransformContext) -> None:
    """Export this run's rows of ``input`` as a CSV file in the SFTP directory.

    Records rows_out, location, bytes and the secret's identifier in ``ctx.metadata``.

    Args:
        ctx: the context (variables input, secret_name, remote_path, file_pattern, gzip, ...).

    Raises:
        ConfigurationError: bad file_pattern, login refused, no remote_path.
        DuplicateError: the file already exists on the server.
        TransferError: the connection kept dropping.
    """
    variables = ctx.variables
    check_remote_path(variables["remote_path"], owner(ctx))
    name = export_name(ctx)
    target = posixpath.join(variables["remote_path"] or "/", name)
    login = endpoint(ctx)
    with SftpSession(login) as session, tempfile.TemporaryDirectory() as scratch:
        run = retrying(ctx, session)
        run(lambda sftp: refuse_remote(sftp, target, ctx), f"checking {target}")
        table = dataset_without_metadata(ctx, variables["input"])
        local = Path(scratch) / name
        size = write_csv(table, local, variables["gzip"])
        _upload(run, local, target, ctx)
    ctx.metadata.update(location=target, secret=login.identifier, rows_out=table.num_rows)
    ctx.metadata["bytes"] = size
    ctx.logger.info("exported %d rows (%d bytes) to %s", table.num_rows, size, target)


def refuse_remote(sftp: paramiko.SFTPClient, target: str, ctx: TransformContext) -> None:
    """Check that the target's directory exists and the target does not.

    Raises:
        ConfigurationError: the directory does not exist.
        DuplicateError: the target exists.
    """
    directory = posixpath.dirname(target)
    try:
        is_directory = stat.S_ISDIR(sftp.stat(directory).st_mode or 0)
    except FileNotFoundError:
        is_directory = False
    if not is_directory:
        raise _no_directory(ctx, directory)
    if _exists(sftp, target):
        raise exists_error(target, owner(ctx))


def _upload(run: Retrying, local: Path, target: str, ctx: TransformContext) -> None:
    name = posixpath.basename(target)
    temp = posixpath.join(posixpath.dirname(target), f"{HIDDEN_MARK}{name}.{uuid.uuid4().hex}.part")
    run(lambda sftp: upload(sftp, local, temp, target, ctx), f"uploading {target}")


def upload(
    sftp: paramiko.SFTPClient, local: Path, temp: str, target: str, ctx: TransformContext
) -> None:
    """Upload under a temporary name, check the size, rename into place (never overwriting).

    Raises:
        IncompleteTransferError: the uploaded size differs (the temporary file is removed).
        DuplicateError: the target appeared meanwhile.
    """
    try:
        sftp.put(str(local), temp, confirm=False)
        uploaded = sftp.stat(temp).st_size
        if uploaded != local.stat().st_size:
            raise IncompleteTransferError(f"{temp}: {uploaded} of {local.stat().st_size} bytes")
        _rename(sftp, temp, target, ctx)
    except BaseException:
        _remove_quietly(sftp, temp)
        raise


def _rename(sftp: paramiko.SFTPClient, temp: str, target: str, ctx: TransformContext) -> None:
    try:
        sftp.rename(temp, target)  # SSH_FXP_RENAME: fails when the target exists
    except OSError:
        if _exists(sftp, target):
            raise exists_error(target, owner(ctx)) from None
        raise


def _exists(sftp: paramiko.SFTPClient, path: str) -> bool:
    try:
        sftp.stat(path)
    except FileNotFoundError:
        return False
    return True


def _remove_quietly(sftp: paramiko.SFTPClient, path: str) -> None:
    # Gone already, or the connection is: a retry uploads to the same name again.
    with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
        sftp.remove(path)


def _no_directory(ctx: TransformContext, path: str) -> ConfigurationError:
    return ConfigurationError(
        f"{owner(ctx)}: variable 'remote_path'={ctx.variables['remote_path']!r}: {path} is not "
        "a directory on the SFTP server of secret "
        f"{ctx.variables['secret_name']!r}; expected an existing directory; fix 'remote_path'"
    )

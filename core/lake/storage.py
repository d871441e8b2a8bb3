"""Where the lake lives: one backend per URL scheme (local paths and s3://).

Each backend gives what the two kinds of reader need: the ``storage_options``
that deltalake (delta-rs) takes for Delta tables, and a ``pyarrow.fs``
file system for raw files. Backends are found through a dict keyed by scheme,
so adding one (gs://, abfs://) is one entry, not another branch.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from pyarrow import fs as pafs

from core.errors import LakeError
from core.settings import Settings

# delta-rs needs a way to make commits atomic on S3. Real S3 and moto both honour
# conditional puts (If-None-Match), so no DynamoDB lock table is needed.
S3_CONDITIONAL_PUT = {"aws_conditional_put": "etag"}
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# delta-rs prints an error's causes as a coloured tree: one cause per line, each after "↳".
_ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
_CAUSE_BREAK = re.compile(r"\s*\n\s*↳\s*")
# What a storage error most likely means, by a text its message holds (lower case).
DIAGNOSES = (
    ("no space left on device", "the lake's disk is full (no space left on device)"),
    ("file too large", "a file would be larger than this system allows (file too large)"),
    ("disk quota exceeded", "the lake's disk quota is used up (disk quota exceeded)"),
)


@dataclass(frozen=True)
class StorageBackend:
    """How to reach one kind of lake root.

    Attributes:
        scheme: the URL scheme it serves ("file" or "s3").
        storage_options: settings -> the deltalake ``storage_options``.
        filesystem: settings -> a ``pyarrow.fs.FileSystem``.
        fs_path: a URI -> the path that ``filesystem`` expects.
        atomic_put: True when writing an object is already all-or-nothing (S3 PUT), so
            raw files need no temporary name; False for local disks (temp name + rename).
        direct_data_files: True when publish may write a run's Parquet files itself
            through ``filesystem`` and commit them with delta-rs (a local disk); False
            where delta-rs must write them (S3: object_store's retries, time-outs and
            uploads are what the lake relies on there). See ``core.lake.partition_writer``.
    """

    scheme: str
    storage_options: Callable[[Settings], dict[str, str]]
    filesystem: Callable[[Settings], pafs.FileSystem]
    fs_path: Callable[[str], str]
    atomic_put: bool
    direct_data_files: bool


def _local_options(_settings: Settings) -> dict[str, str]:
    return {}


def _local_filesystem(_settings: Settings) -> pafs.FileSystem:
    return pafs.LocalFileSystem()


def _local_path(uri: str) -> str:
    return uri.removeprefix("file://")


def _s3_options(settings: Settings) -> dict[str, str]:
    options = {"AWS_REGION": settings.aws_region, **S3_CONDITIONAL_PUT, **_retry_options(settings)}
    endpoint = settings.aws_endpoint_url
    if endpoint:
        options["AWS_ENDPOINT_URL"] = endpoint
        options["AWS_ALLOW_HTTP"] = str(endpoint.startswith("http://")).lower()
    # delta-rs reads the environment itself too; passing the variables explicitly keeps
    # the credentials of this process (or of the lake's secret) authoritative.
    options.update(_s3_credentials(settings))
    return options


def _retry_options(settings: Settings) -> dict[str, str]:
    """object_store's retries and timeouts (durations in milliseconds, as it parses them).

    A request that fails (5xx, a timeout, a dropped connection) is retried
    ``aws_retries`` times with exponential backoff; each request may take
    ``aws_timeout_seconds``; retrying stops once every attempt could have timed out.
    """
    timeout = max(1, round(settings.aws_timeout_seconds * 1000))
    return {
        "max_retries": str(settings.aws_retries),
        "retry_timeout": f"{timeout * (settings.aws_retries + 1)}ms",
        "timeout": f"{timeout}ms",
        "connect_timeout": f"{timeout}ms",
    }


def _s3_credentials(settings: Settings) -> dict[str, str]:
    """The lake's S3 keys: from the secret CORE_LAKE_SECRET names, else the environment."""
    if not settings.lake_secret:
        return {k: os.environ[k] for k in CREDENTIAL_VARIABLES if os.environ.get(k)}
    from core.secret import Secret  # only when configured: reads the secrets backend

    secret = Secret(name=settings.lake_secret, type_of="s3", mode="read", settings=settings)
    keys = {
        "AWS_ACCESS_KEY_ID": secret.aws_access_key_id,
        "AWS_SECRET_ACCESS_KEY": secret.aws_secret_access_key,
    }
    missing = [name.lower() for name, value in keys.items() if not value]
    if missing:
        raise LakeError(
            f"lake secret {secret.identifier!r} has no {' or '.join(missing)}; add them, or "
            "unset CORE_LAKE_SECRET to use the environment's AWS credentials"
        )
    return keys


def _s3_filesystem(settings: Settings) -> pafs.FileSystem:
    credentials = _s3_credentials(settings) if settings.lake_secret else {}
    keys = {
        "access_key": credentials.get("AWS_ACCESS_KEY_ID"),
        "secret_key": credentials.get("AWS_SECRET_ACCESS_KEY"),
    }
    # The same retries (with the SDK's backoff) and timeouts as the Delta tables get.
    resilience = {
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=settings.aws_retries),
        "connect_timeout": settings.aws_timeout_seconds,
        "request_timeout": settings.aws_timeout_seconds,
    }
    endpoint = settings.aws_endpoint_url
    if not endpoint:
        return pafs.S3FileSystem(region=settings.aws_region, **keys, **resilience)
    parsed = urlparse(endpoint)
    return pafs.S3FileSystem(
        region=settings.aws_region,
        endpoint_override=parsed.netloc or endpoint,
        scheme=parsed.scheme or "https",
        **keys,
        **resilience,
    )


def _s3_path(uri: str) -> str:
    return uri.removeprefix("s3://")


LOCAL = StorageBackend(
    "file", _local_options, _local_filesystem, _local_path, atomic_put=False, direct_data_files=True
)
S3 = StorageBackend(
    "s3", _s3_options, _s3_filesystem, _s3_path, atomic_put=True, direct_data_files=False
)
BACKENDS: dict[str, StorageBackend] = {"": LOCAL, "file": LOCAL, "s3": S3, "s3a": S3}


def scheme_of(uri: str) -> str:
    """The URL scheme of a lake URI ('' for a plain local path)."""
    return uri.split("://", 1)[0].lower() if "://" in uri else ""


def backend_for(uri: str) -> StorageBackend:
    """The backend that serves a URI.

    Args:
        uri: a local path, a file:// URL or an s3:// URL.

    Returns:
        The registered StorageBackend.

    Raises:
        LakeError: no backend serves the URI's scheme.
    """
    scheme = scheme_of(uri)
    if scheme not in BACKENDS:
        raise LakeError(
            f"lake URI {uri!r} has scheme {scheme!r}, which CORE cannot store to: expected "
            f"one of {', '.join(s or 'a local path' for s in BACKENDS)}; fix CORE_LAKE_ROOT"
        )
    return BACKENDS[scheme]


def normalise_root(root: str) -> str:
    """A lake root without a trailing '/', local roots made absolute.

    Args:
        root: settings.lake_root.

    Returns:
        The root as contracts join paths onto it.
    """
    if scheme_of(root) in ("", "file"):
        return str(Path(_local_path(root)).expanduser().resolve())
    return root.rstrip("/")


def describe_storage_error(exc: BaseException) -> str:
    """A storage error (delta-rs, object_store, pyarrow) as one plain line, cause first.

    delta-rs colours its messages and puts each cause on a line of its own; both are
    undone here. A full disk, a file size limit or a used-up quota is said first, in
    words, ahead of the library's own text (which names the object and the retries).

    Args:
        exc: the error a storage call raised.

    Returns:
        The message, e.g. ``"the lake's disk is full (no space left on device): ..."``.
    """
    text = _CAUSE_BREAK.sub(": ", _ANSI_COLOUR.sub("", str(exc)))
    text = " ".join(text.split()) or type(exc).__name__
    lowered = text.lower()
    for needle, diagnosis in DIAGNOSES:
        if needle in lowered:
            return f"{diagnosis}: {text}"
    return text

"""The ``aws`` backend: AWS Secrets Manager through boto3.

Each secret is named by its identifier and holds a JSON object as its
SecretString (or SecretBinary). botocore's errors are turned into CORE errors
here, at the boundary; ResourceNotFoundException means "absent", so that the
caller can try the ``all/`` fallback.
"""

from __future__ import annotations

import logging
from typing import Any

from core.errors import ReadOnlySecretsBackendError, SecretsBackendError
from core.secrets.base import Change, Payload
from core.settings import Settings

NOT_FOUND = "ResourceNotFoundException"
# botocore logs every response body at DEBUG on this logger, secret values included.
BOTOCORE_BODY_LOGGER = "botocore.parsers"
_REDACTED = b"<redacted by core.secrets: a Secrets Manager secret value>"
_SECRET_MARKERS = (b'"SecretString"', b'"SecretBinary"')


class RedactSecretValues(logging.Filter):
    """Replaces botocore's DEBUG dump of a response body when it holds a secret value."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record's body argument if it carries a secret; keep the record.

        Args:
            record: a record of the ``botocore.parsers`` logger.

        Returns:
            Always True: the record is kept, only its body is replaced.
        """
        args = record.args if isinstance(record.args, tuple) else ()
        body = args[0] if args else None
        raw = body.encode("utf-8", "replace") if isinstance(body, str) else body
        if isinstance(raw, bytes | bytearray) and any(m in raw for m in _SECRET_MARKERS):
            record.args = (_REDACTED, *args[1:])
        return True


def install_log_redaction() -> None:
    """Make sure botocore's body logging never shows a secret value (idempotent)."""
    logger = logging.getLogger(BOTOCORE_BODY_LOGGER)
    if not any(isinstance(existing, RedactSecretValues) for existing in logger.filters):
        logger.addFilter(RedactSecretValues())


class AwsSecretsManagerBackend:
    """Secrets in AWS Secrets Manager (region ``aws_region``, endpoint ``aws_endpoint_url``).

    Args:
        settings: the settings naming the region and, for moto or a VPC endpoint, the URL.
    """

    name = "aws"
    # Listing a whole account is paged and often not permitted; no suggestions.
    suggests = False

    def __init__(self, settings: Settings) -> None:
        self.region = settings.aws_region
        self.endpoint_url = settings.aws_endpoint_url
        self.retries, self.timeout = settings.aws_retries, settings.aws_timeout_seconds
        self.cache_key = f"aws:{self.region}:{self.endpoint_url or ''}"
        self._client: Any = None

    def describe(self) -> str:
        """Where the secrets are, for messages."""
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"AWS Secrets Manager ({self.region}{where})"

    def how_to_add(self, identifier: str) -> str:
        """How to create a missing secret here."""
        return f"Create it with `aws secretsmanager create-secret --name {identifier} ...`"

    def read(self, identifier: str) -> Payload | None:
        """The SecretString (or SecretBinary) of ``identifier``, or None when absent.

        Raises:
            SecretsBackendError: AWS refused the request or could not be reached.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._secretsmanager().get_secret_value(SecretId=identifier)
        except ClientError as exc:
            if _error_code(exc) == NOT_FOUND:
                return None
            raise self._refused(f"read {identifier!r}", exc) from exc
        except BotoCoreError as exc:
            raise self._unreachable(exc) from exc
        if "SecretString" in response:
            return str(response["SecretString"])
        return bytes(response["SecretBinary"])

    def identifiers(self) -> list[str]:
        """Every secret name in the region, sorted.

        Raises:
            SecretsBackendError: AWS refused the request or could not be reached.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            pages = self._secretsmanager().get_paginator("list_secrets").paginate()
            return sorted(entry["Name"] for page in pages for entry in page["SecretList"])
        except ClientError as exc:
            raise self._refused("list secrets", exc) from exc
        except BotoCoreError as exc:
            raise self._unreachable(exc) from exc

    def update(self, identifier: str, change: Change) -> None:
        """Refused: secrets in AWS are managed in AWS, not through CORE.

        Raises:
            ReadOnlySecretsBackendError: always.
        """
        raise ReadOnlySecretsBackendError(
            f"cannot write {identifier!r}: the aws secrets backend is read-only in CORE. "
            "Change the secret in AWS Secrets Manager, or set CORE_SECRETS_BACKEND=local "
            "(setting secrets_backend) to keep secrets in the local file"
        )

    def _secretsmanager(self) -> Any:
        if self._client is None:
            # Imported here: boto3 is slow to import and dev machines use the local file.
            import boto3
            from botocore.config import Config

            install_log_redaction()
            # Standard mode retries throttling, 5xx and timeouts with exponential backoff.
            config = Config(
                retries={"mode": "standard", "total_max_attempts": self.retries + 1},
                connect_timeout=self.timeout,
                read_timeout=self.timeout,
            )
            self._client = boto3.client(
                "secretsmanager",
                region_name=self.region,
                endpoint_url=self.endpoint_url,
                config=config,
            )
        return self._client

    def _refused(self, action: str, exc: Any) -> SecretsBackendError:
        error = exc.response.get("Error", {})
        return SecretsBackendError(
            f"{self.describe()} refused to {action}: {error.get('Code', 'error')}: "
            f"{error.get('Message', '')}; check the IAM permissions of the current credentials"
        )

    def _unreachable(self, exc: Exception) -> SecretsBackendError:
        return SecretsBackendError(
            f"{self.describe()} could not be reached: {exc}; check the AWS credentials, "
            "CORE_AWS_REGION and CORE_AWS_ENDPOINT_URL"
        )


def _error_code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))

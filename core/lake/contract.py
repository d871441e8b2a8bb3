"""Contract: where one dataset lives in the lake.

The address is ``{lake_root}/{branch}/{parent}/{child}/{state}/{dataset}``: parent
is the pharmaceutical company (alias ``customer``), child the brand (alias
``brand``). Every part is validated when the contract is built, so a contract
that exists is always a safe S3 key and Athena name.
"""

from __future__ import annotations

from typing import Any

from pyarrow import fs as pafs

from core.errors import ContractError, InvalidNameError
from core.lake.storage import StorageBackend, backend_for, normalise_root, scheme_of
from core.models.configuration import STATE_TYPE_ORDER
from core.names import validate_path_part
from core.settings import Settings, load_settings

PROTECTED_BRANCHES = ("master", "test", "uat", "prod")
RAW_STATE = "raw"


class Contract:
    """The lake address of one dataset (or, in the raw state, one folder of files).

    Args:
        parent: the pharmaceutical company's name (alias: customer).
        child: the brand's name (alias: brand).
        state: one of STATE_TYPE_ORDER (raw, ingest, master, ...).
        dataset: the dataset's name (optional only for raw contracts).
        branch: the lake branch; settings.branch when omitted.
        settings: CORE's settings; load_settings() when omitted.
        customer: alias of parent.
        brand: alias of child.

    Raises:
        ContractError: a part is missing or invalid, or a protected branch is used in dev.
    """

    dataset_required = True

    def __init__(
        self,
        parent: str | None = None,
        child: str | None = None,
        state: str | None = None,
        dataset: str | None = None,
        *,
        branch: str | None = None,
        settings: Settings | None = None,
        customer: str | None = None,
        brand: str | None = None,
    ) -> None:
        self.settings = settings if settings is not None else load_settings()
        self.parent = _part(_alias(parent, customer, "parent", "customer"), "parent (company)")
        self.child = _part(_alias(child, brand, "child", "brand"), "child (brand)")
        self.state = _state(state)
        self.branch = _branch(branch or self.settings.branch or "", self.settings.environment)
        self.dataset = self._dataset(dataset)
        self.root = normalise_root(self.settings.require_lake_root())

    def _dataset(self, dataset: str | None) -> str | None:
        if dataset is None and not self.dataset_required:
            return None
        return _part(dataset, "dataset")

    @property
    def customer(self) -> str:
        """Alias of parent: the pharmaceutical company."""
        return self.parent

    @property
    def brand(self) -> str:
        """Alias of child: the brand."""
        return self.child

    @property
    def contract_type(self) -> str:
        """'raw' for the raw state (file grain), 'dataset' otherwise."""
        return "raw" if self.state == RAW_STATE else "dataset"

    @property
    def previous_state(self) -> str | None:
        """The state before this one in STATE_TYPE_ORDER (None for raw)."""
        index = STATE_TYPE_ORDER.index(self.state)
        return STATE_TYPE_ORDER[index - 1] if index > 0 else None

    @property
    def next_state(self) -> str | None:
        """The state after this one in STATE_TYPE_ORDER (None for the last)."""
        index = STATE_TYPE_ORDER.index(self.state)
        return STATE_TYPE_ORDER[index + 1] if index + 1 < len(STATE_TYPE_ORDER) else None

    @property
    def parts(self) -> list[str]:
        """branch, parent, child, state and (when set) dataset."""
        parts = [self.branch, self.parent, self.child, self.state]
        return [*parts, self.dataset] if self.dataset else parts

    @property
    def bucket(self) -> str | None:
        """The S3 bucket of an s3:// root; None for a local lake."""
        if scheme_of(self.root) in ("", "file"):
            return None
        return self.root.split("://", 1)[1].split("/", 1)[0]

    @property
    def key(self) -> str:
        """The path below the bucket (S3, including any root prefix) or below the root (local)."""
        below = "/".join(self.parts)
        if self.bucket is None:
            return below
        prefix = self.root.split("://", 1)[1].partition("/")[2]
        return f"{prefix}/{below}" if prefix else below

    @property
    def uri(self) -> str:
        """The full URI: an absolute local path or ``s3://bucket/key``."""
        return f"{self.root}/{'/'.join(self.parts)}"

    @property
    def path(self) -> str:
        """The path that :attr:`filesystem` expects (local path, or ``bucket/key``)."""
        return self.backend.fs_path(self.uri)

    @property
    def backend(self) -> StorageBackend:
        """The storage backend that serves this contract's root."""
        return backend_for(self.root)

    @property
    def storage_options(self) -> dict[str, str]:
        """The deltalake storage_options for this contract's root."""
        return self.backend.storage_options(self.settings)

    @property
    def filesystem(self) -> pafs.FileSystem:
        """A pyarrow file system for this contract's root."""
        return self.backend.filesystem(self.settings)

    def sibling(self, state: str | None = None, dataset: str | None = None) -> Any:
        """A contract of the same company and brand in another state or dataset.

        Args:
            state: the other state (this one when omitted).
            dataset: the other dataset (this one when omitted).

        Returns:
            A RawContract for the raw state, else a DatasetContract.
        """
        from core.lake.contracts import contract_class

        state = state or self.state
        return contract_class(state)(
            self.parent,
            self.child,
            state,
            dataset or self.dataset,
            branch=self.branch,
            settings=self.settings,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.uri == self.uri  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.uri))


def _alias(value: str | None, alias: str | None, name: str, alias_name: str) -> str | None:
    if value is not None and alias is not None and value != alias:
        raise ContractError(
            f"contract {name} {value!r} and {alias_name} {alias!r} disagree: "
            f"give one of {name}= or {alias_name}="
        )
    return value if value is not None else alias


def _part(value: object, field: str) -> str:
    try:
        return validate_path_part(value, f"contract {field}")
    except InvalidNameError as exc:
        raise ContractError(str(exc)) from exc


def _state(value: object) -> str:
    state = _part(value, "state")
    if state not in STATE_TYPE_ORDER:
        raise ContractError(
            f"contract state {state!r} is not a lake state: expected one of "
            f"{', '.join(STATE_TYPE_ORDER)}"
        )
    return state


def _branch(value: str, environment: str) -> str:
    branch = _part(value, "branch")
    if environment == "dev" and branch in PROTECTED_BRANCHES:
        raise ContractError(
            f"contract branch {branch!r} is protected and cannot be used when "
            f"environment is 'dev': expected a working branch such as 'dev' or your own name; "
            f"set CORE_BRANCH or pass branch="
        )
    return branch

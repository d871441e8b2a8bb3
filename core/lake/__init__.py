"""The data lake: contracts that fix where datasets and raw files live, and how they change.

Import from here: ``from core.lake import DatasetContract, RawContract``.
"""

from core.lake.contract import PROTECTED_BRANCHES, Contract
from core.lake.contracts import (
    contract_from_transformation_id,
    pipeline_contracts,
    relative_contract,
)
from core.lake.dataset_contract import METADATA_COLUMNS, DatasetContract, PublishSummary
from core.lake.raw_contract import RawContract, RawFile

__all__ = [
    "METADATA_COLUMNS",
    "PROTECTED_BRANCHES",
    "Contract",
    "DatasetContract",
    "PublishSummary",
    "RawContract",
    "RawFile",
    "contract_from_transformation_id",
    "pipeline_contracts",
    "relative_contract",
]

"""Pipeline plans: what runs, in which order (see :mod:`core.plan.model`).

from core.plan import load_plans, load_plan
"""

from core.plan.model import PipelinePlan, TaskGroup, TaskSpec, build_plan
from core.plan.queries import (
    PlanFilters,
    configuration_fingerprint,
    load_plan,
    load_plans,
    plan_of_transformation,
)

__all__ = [
    "PipelinePlan",
    "PlanFilters",
    "TaskGroup",
    "TaskSpec",
    "build_plan",
    "configuration_fingerprint",
    "load_plan",
    "load_plans",
    "plan_of_transformation",
]

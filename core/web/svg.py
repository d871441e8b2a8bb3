"""A picture of a pipeline's DAG, drawn on the server as SVG.

The shape is the one the Airflow DAG has (``core.airflow.dagbuilder.shape``)::

    RunEvent -> spacer 0 -> tasks of group 0 (in parallel) -> spacer 1 -> ... -> EndRun

laid out in columns from left to right: the hourglass, narrow at each spacer.
Every label is escaped (``Markup.format`` escapes its arguments); with a run's
task states, each task is coloured by its state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise

from markupsafe import Markup

from core.plan.model import PipelinePlan, TaskGroup, TaskSpec

RUN_EVENT, END_RUN = "RunEvent", "EndRun"
TASK_W, TASK_H = 190, 46
TERMINAL_W, TERMINAL_H = 92, 34
SPACER_R, SPACER_COL_W = 9, 120
COL_GAP, ROW_GAP, MARGIN = 34, 14, 16
LABEL_CHARS = 24
# (fill, stroke) by task state; "planned" when no run is shown.
COLOURS = {
    "planned": ("#eef3fc", "#2457c5"),
    "pending": ("#fff1d1", "#8a5a00"),
    "queued": ("#fff1d1", "#8a5a00"),
    "running": ("#dcecfb", "#0b5cad"),
    "success": ("#dff3e6", "#1f7a3e"),
    "failed": ("#fbe3e1", "#b3261e"),
    "upstream_failed": ("#fbe3e1", "#b3261e"),
    "skipped": ("#eceff3", "#5b6576"),
    "not run": ("#f7f8fa", "#9aa3b2"),
}


@dataclass(frozen=True)
class Node:
    """One box (or spacer dot) of the picture."""

    node_id: str
    kind: str  # run_event, spacer, task, end_run
    label: str
    detail: str
    state: str
    x: float
    y: float
    width: float
    height: float

    @property
    def left(self) -> tuple[float, float]:
        """Where edges come in."""
        return self.x, self.y + self.height / 2

    @property
    def right(self) -> tuple[float, float]:
        """Where edges leave."""
        return self.x + self.width, self.y + self.height / 2


def dag_svg(
    plan: PipelinePlan,
    task_states: Mapping[int, str] | None = None,
    title: str | None = None,
    key: str = "plan",
) -> Markup:
    """The DAG of a plan as an inline SVG element.

    Args:
        plan: the pipeline's plan (its groups, in order).
        task_states: transformation id -> task state of a run; None draws the plan only.
        title: the picture's accessible title (default: the pipeline's name).
        key: tells apart the element ids of several pictures on one page.

    Returns:
        The ``<svg>`` markup, every label escaped.
    """
    columns = _columns(plan, task_states)
    nodes = [node for column in columns for node in column]
    width = max(n.x + n.width for n in nodes) + MARGIN
    height = max(n.y + n.height for n in nodes) + MARGIN + 14
    edges = [_edge(a, b) for before, after in pairwise(columns) for a in before for b in after]
    head = Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="dag-svg" role="img" '
        'aria-labelledby="dag-title-{id}" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        'data-nodes="{n}" data-edges="{e}">'
        '<title id="dag-title-{id}">{title}</title>'
        '<defs><marker id="arrow-{id}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#8a94a6"/></marker></defs>'
    ).format(
        id=f"{key}-{plan.pipeline_id}",
        w=int(width),
        h=int(height),
        n=len(nodes),
        e=len(edges),
        title=title or f"DAG of {plan.name}",
    )
    arrows = Markup("").join(
        Markup(
            '<path class="edge" d="{d}" fill="none" stroke="#8a94a6" stroke-width="1.4" '
            'marker-end="url(#arrow-{id})"/>'
        ).format(d=d, id=f"{key}-{plan.pipeline_id}")
        for d in edges
    )
    boxes = Markup("").join(_node(node) for node in nodes)
    return head + arrows + boxes + Markup("</svg>")


def _columns(plan: PipelinePlan, states: Mapping[int, str] | None) -> list[list[Node]]:
    specs: list[list[tuple[str, str, str, str, str]]] = [
        [(RUN_EVENT, "run_event", RUN_EVENT, "start", "planned")]
    ]
    for group in plan.groups:
        specs.append([(group.spacer_id, "spacer", group.spacer_id, _spacer_detail(group), "")])
        specs.append([_task_spec(task, states) for task in group.tasks])
    specs.append([(END_RUN, "end_run", END_RUN, "end", "planned")])
    rows = max(len(column) for column in specs)
    tallest = rows * TASK_H + (rows - 1) * ROW_GAP
    columns, x = [], float(MARGIN)
    for column in specs:
        kind = column[0][1]
        w, h = _size(kind)
        total = len(column) * h + (len(column) - 1) * ROW_GAP
        top = MARGIN + (tallest - total) / 2
        columns.append(
            [Node(*spec, x, top + i * (h + ROW_GAP), w, h) for i, spec in enumerate(column)]
        )
        x += w + COL_GAP
    return columns


def _task_spec(task: TaskSpec, states: Mapping[int, str] | None) -> tuple[str, str, str, str, str]:
    if states is None:
        state, detail = "planned", f"#{task.transformation_id} · {task.state}"
    else:
        state = states.get(task.transformation_id, "not run")
        detail = f"#{task.transformation_id} · {state}"
    return task.task_id, "task", task.template, detail, state


def _spacer_detail(group: TaskGroup) -> str:
    return f"{group.state} · step {group.step}"


def _size(kind: str) -> tuple[float, float]:
    if kind == "task":
        return TASK_W, TASK_H
    if kind == "spacer":
        return SPACER_COL_W, TASK_H
    return TERMINAL_W, TERMINAL_H


def _edge(a: Node, b: Node) -> str:
    (x1, y1), (x2, y2) = _anchor(a, "right"), _anchor(b, "left")
    middle = (x1 + x2) / 2
    return f"M {x1:.1f} {y1:.1f} C {middle:.1f} {y1:.1f}, {middle:.1f} {y2:.1f}, {x2:.1f} {y2:.1f}"


def _anchor(node: Node, side: str) -> tuple[float, float]:
    if node.kind != "spacer":
        return node.right if side == "right" else node.left
    centre_x, centre_y = node.x + node.width / 2, node.y + node.height / 2
    return (centre_x + SPACER_R, centre_y) if side == "right" else (centre_x - SPACER_R, centre_y)


def _node(node: Node) -> Markup:
    if node.kind == "spacer":
        return _spacer(node)
    fill, stroke = COLOURS.get(node.state, COLOURS["planned"])
    radius = node.height / 2 if node.kind != "task" else 6
    text_x = node.x + node.width / 2
    return Markup(
        '<g class="node {kind}" data-task-id="{nid}" data-state="{state}">'
        "<title>{nid} ({state})</title>"
        '<rect x="{x:.1f}" y="{y:.1f}" width="{w}" height="{h}" rx="{r:.1f}" fill="{fill}" '
        'stroke="{stroke}" stroke-width="1.5"/>'
        '<text x="{tx:.1f}" y="{ty1:.1f}" text-anchor="middle" font-size="13" '
        'font-family="system-ui, sans-serif" fill="#1d2430">{label}</text>'
        '<text x="{tx:.1f}" y="{ty2:.1f}" text-anchor="middle" font-size="11" '
        'font-family="system-ui, sans-serif" fill="#5b6576">{detail}</text></g>'
    ).format(
        kind=node.kind,
        nid=node.node_id,
        state=node.state,
        x=node.x,
        y=node.y,
        w=node.width,
        h=node.height,
        r=radius,
        fill=fill,
        stroke=stroke,
        tx=text_x,
        ty1=node.y + node.height / 2 - (2 if node.kind == "task" else -4),
        ty2=node.y + node.height / 2 + 14,
        label=_short(node.label),
        detail=_short(node.detail) if node.kind == "task" else "",
    )


def _spacer(node: Node) -> Markup:
    cx, cy = node.x + node.width / 2, node.y + node.height / 2
    return Markup(
        '<g class="node spacer" data-task-id="{nid}"><title>{nid}</title>'
        '<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r}" fill="#ffffff" stroke="#8a94a6" '
        'stroke-width="1.5"/><text x="{cx:.1f}" y="{ty:.1f}" text-anchor="middle" '
        'font-size="11" font-family="system-ui, sans-serif" fill="#5b6576">{detail}</text></g>'
    ).format(
        nid=node.node_id,
        cx=cx,
        cy=cy,
        r=SPACER_R,
        ty=cy + SPACER_R + 14,
        detail=_short(node.detail, 20),
    )


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

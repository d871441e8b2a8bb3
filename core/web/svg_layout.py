"""Where each box of the DAG picture goes: columns left to right, wrapped into rows.

The DAG is ``RunEvent -> spacer -> group 0 -> spacer -> group 1 -> ... -> EndRun``, each
group's tasks depending on every task of the group before. A spacer is drawn as a thin
bar as tall as the groups beside it: every task's edge enters the bar at the task's own
height and leaves it straight into each task of the next group, so no edge suggests that
a task depends on its neighbour. The groups of one state sit on a band named after it.
A row ends before it would pass ``MAX_ROW_WIDTH``; it goes on in the next row from a
continuation bar, linked to the bar it continues.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from core.plan.model import PipelinePlan, TaskGroup, TaskSpec

RUN_EVENT, END_RUN = "RunEvent", "EndRun"
TASK_W, TASK_H, TERMINAL_W, TERMINAL_H = 176, 48, 84, 32
BAR_W, GAP, ROW_GAP, MARGIN = 6, 30, 12, 14
BAND_PAD, BAND_LABEL_H, ROW_SEP = 10, 22, 34
MAX_ROW_WIDTH = 1180  # the box on a 1,280 px page: a wider DAG wraps

Link = Callable[[TaskSpec, str], str | None]


@dataclass(frozen=True)
class Node:
    """One box, terminal or bar of the picture."""

    node_id: str
    kind: str  # run_event, spacer, continued, task, end_run
    label: str
    detail: str
    state: str
    x: float
    y: float
    width: float
    height: float
    tooltip: str = ""
    link: str | None = None

    @property
    def middle(self) -> float:
        """The node's vertical centre."""
        return self.y + self.height / 2


@dataclass(frozen=True)
class Band:
    """The background of one state's groups in one row."""

    state: str
    x: float
    y: float
    width: float
    height: float


@dataclass
class Layout:
    """The picture's parts, and its size."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[str] = field(default_factory=list)
    wraps: list[str] = field(default_factory=list)  # a row's last bar to the next row's first
    bands: list[Band] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0


@dataclass
class _Row:
    top: float
    columns: list[list[Node]] = field(default_factory=list)
    x: float = MARGIN


def layout(
    plan: PipelinePlan, states: Mapping[int, str] | None = None, link: Link | None = None
) -> Layout:
    """Place every node of the plan's DAG, its edges and its state bands."""
    tallest = max([len(g.tasks) for g in plan.groups] or [1])
    span = tallest * TASK_H + (tallest - 1) * ROW_GAP
    picture, row = Layout(), _Row(top=MARGIN + BAND_LABEL_H)
    rows = [row]
    previous = _place(row, span, [_terminal(RUN_EVENT, "run_event")])
    for index, group in enumerate(plan.groups):
        bar = _place(row, span, [_bar(group, "spacer")])
        _connect(picture, previous, bar)
        ending = TERMINAL_W + GAP if index == len(plan.groups) - 1 else BAR_W + GAP
        if len(row.columns) > 2 and row.x + TASK_W + GAP + ending > MAX_ROW_WIDTH:
            row = _Row(top=row.top + span + BAND_PAD * 2 + BAND_LABEL_H + ROW_SEP)
            rows.append(row)
            continued = _place(row, span, [_bar(group, "continued")])
            picture.wraps.append(_wrap_edge(bar[0], continued[0]))
            bar = continued
        tasks = _place(row, span, [_task(t, states, link) for t in group.tasks])
        _connect(picture, bar, tasks)
        previous = tasks
    _connect(picture, previous, _place(row, span, [_terminal(END_RUN, "end_run")]))
    for placed in rows:
        picture.nodes.extend(node for column in placed.columns for node in column)
        picture.bands.extend(_bands(placed, plan.groups, span))
    picture.width = max(n.x + n.width for n in picture.nodes) + MARGIN
    picture.height = rows[-1].top + span + 2 * BAND_PAD + MARGIN
    return picture


def _terminal(node_id: str, kind: str) -> Node:
    return Node(node_id, kind, node_id, "", "planned", 0, 0, TERMINAL_W, TERMINAL_H)


def _bar(group: TaskGroup, kind: str) -> Node:
    detail = f"{group.state} · step {group.step}"
    tooltip = f"{group.spacer_id}: group {group.step} starts once every task before it ended"
    node_id = group.spacer_id if kind == "spacer" else f"{group.spacer_id}__continued"
    return Node(node_id, kind, group.spacer_id, detail, "", 0, 0, BAR_W, 0, tooltip)


def _task(task: TaskSpec, states: Mapping[int, str] | None, link: Link | None) -> Node:
    state = "planned" if states is None else states.get(task.transformation_id, "not run")
    detail = f"{task.template} #{task.transformation_id}"
    detail += f" · {state}" if states is not None else ""
    dataset = task.dataset or task.template
    tooltip = f"{task.task_id}: writes {dataset} ({state})"
    target = link(task, state) if link else None
    return Node(task.task_id, "task", dataset, detail, state, 0, 0, TASK_W, TASK_H, tooltip, target)


def _place(row: _Row, span: float, column: list[Node]) -> list[Node]:
    """Put a column at the row's next x, centred on the row's middle line."""
    middle = row.top + BAND_PAD + span / 2
    if column[0].kind in ("spacer", "continued"):
        height = span + BAND_PAD
        placed = [_moved(column[0], row.x, middle - height / 2, height)]
    else:
        total = sum(n.height for n in column) + (len(column) - 1) * ROW_GAP
        top, placed = middle - total / 2, []
        for node in column:
            placed.append(_moved(node, row.x, top, node.height))
            top += node.height + ROW_GAP
    row.columns.append(placed)
    row.x += placed[0].width + GAP
    return placed


def _moved(node: Node, x: float, y: float, height: float) -> Node:
    return Node(
        node.node_id, node.kind, node.label, node.detail, node.state,
        x, y, node.width, height, node.tooltip, node.link,
    )  # fmt: skip


def _connect(picture: Layout, before: list[Node], after: list[Node]) -> None:
    """Edges from every node of one column to every node of the next, through a bar."""
    if after[0].kind in ("spacer", "continued"):
        picture.edges.extend(_line(n.x + n.width, n.middle, after[0].x, n.middle) for n in before)
    elif before[0].kind in ("spacer", "continued"):
        bar = before[0]
        picture.edges.extend(_line(bar.x + bar.width, n.middle, n.x, n.middle) for n in after)
    else:
        picture.edges.extend(
            _curve(a.x + a.width, a.middle, b.x, b.middle) for a in before for b in after
        )


def _line(x1: float, y1: float, x2: float, y2: float) -> str:
    return f"M {x1:.1f} {y1:.1f} L {x2:.1f} {y2:.1f}"


def _curve(x1: float, y1: float, x2: float, y2: float) -> str:
    middle = (x1 + x2) / 2
    return f"M {x1:.1f} {y1:.1f} C {middle:.1f} {y1:.1f}, {middle:.1f} {y2:.1f}, {x2:.1f} {y2:.1f}"


def _wrap_edge(bar: Node, continued: Node) -> str:
    """From the bottom of a row's last bar, down and back to the next row's first bar."""
    x1, y1 = bar.x + bar.width / 2, bar.y + bar.height
    x2, y2 = continued.x + continued.width / 2, continued.y
    turn = y1 + (y2 - y1) / 2
    return f"M {x1:.1f} {y1:.1f} L {x1:.1f} {turn:.1f} L {x2:.1f} {turn:.1f} L {x2:.1f} {y2:.1f}"


def _bands(row: _Row, groups: list[TaskGroup], span: float) -> list[Band]:
    """One band per run of consecutive task columns of the same state in the row."""
    by_id = {task.task_id: group.state for group in groups for task in group.tasks}
    bands: list[Band] = []
    for column in row.columns:
        if column[0].kind != "task":
            continue
        state, left, right = by_id[column[0].node_id], column[0].x, column[0].x + TASK_W
        if bands and bands[-1].state == state:
            last = bands.pop()
            left = last.x + BAND_PAD
        top = row.top - BAND_LABEL_H + BAND_PAD
        bands.append(
            Band(
                state,
                left - BAND_PAD,
                top,
                right - left + 2 * BAND_PAD,
                span + BAND_LABEL_H + BAND_PAD,
            )
        )
    return bands

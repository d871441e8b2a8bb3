"""A picture of a pipeline's DAG, drawn on the server as SVG.

The shape is the one the Airflow DAG has (``core.airflow.dagbuilder.shape``); where
each part goes is ``core.web.svg_layout``'s. Each task is named by the dataset it
writes, with its template and id beneath; with a run's task states each task is
coloured by its state, and may link somewhere (its log, its row). Every label is
escaped (``Markup.format`` escapes its arguments).
"""

from __future__ import annotations

from collections.abc import Mapping

from markupsafe import Markup

from core.plan.model import PipelinePlan
from core.web.svg_layout import Band, Link, Node, layout

LABEL_CHARS, DETAIL_CHARS = 22, 28
FONT = "system-ui, sans-serif"
# (fill, stroke) by task state; "planned" when no run is shown.
COLOURS = {
    "planned": ("#eef3fc", "#2457c5"),
    "pending": ("#fff1d1", "#8a5a00"),
    "queued": ("#fff1d1", "#8a5a00"),
    "running": ("#dcecfb", "#0b5cad"),
    "success": ("#dff3e6", "#1f7a3e"),
    "failed": ("#fbe3e1", "#b3261e"),
    "upstream_failed": ("#fbe3e1", "#b3261e"),
    "cancelled": ("#d5d9e0", "#3d4452"),  # the grey of its badge, darker than skipped
    "skipped": ("#eceff3", "#5b6576"),
    "not run": ("#f7f8fa", "#9aa3b2"),
}


def dag_svg(
    plan: PipelinePlan,
    task_states: Mapping[int, str] | None = None,
    title: str | None = None,
    key: str = "plan",
    link: Link | None = None,
) -> Markup:
    """The DAG of a plan as an inline SVG element.

    Args:
        plan: the pipeline's plan (its groups, in order).
        task_states: transformation id -> task state of a run; None draws the plan only.
        title: the picture's accessible title (default: the pipeline's name).
        key: tells apart the element ids of several pictures on one page.
        link: (task, state) -> where its node links to, or None for no link.

    Returns:
        The ``<svg>`` markup, every label escaped.
    """
    drawn = layout(plan, task_states, link)
    counted = [n for n in drawn.nodes if n.kind != "continued"]
    marker = f"arrow-{key}-{plan.pipeline_id}"
    head = Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="dag-svg" role="img" '
        'aria-labelledby="dag-title-{id}" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        'data-nodes="{n}" data-edges="{e}">'
        '<title id="dag-title-{id}">{title}</title>'
        '<defs><marker id="{marker}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#8a94a6"/></marker></defs>'
    ).format(
        id=f"{key}-{plan.pipeline_id}",
        marker=marker,
        w=int(drawn.width),
        h=int(drawn.height),
        n=len(counted),
        e=len(drawn.edges),
        title=title or f"DAG of {plan.name}",
    )
    bands = Markup("").join(_band(band) for band in drawn.bands)
    edges = Markup("").join(
        Markup(
            '<path class="{kind}" d="{d}" fill="none" stroke="#8a94a6" stroke-width="1.3" '
            'marker-end="url(#{marker})"/>'
        ).format(kind=kind, d=d, marker=marker)
        for kind, paths in (("edge", drawn.edges), ("wrap", drawn.wraps))
        for d in paths
    )
    nodes = Markup("").join(_node(node) for node in drawn.nodes)
    return head + bands + edges + nodes + Markup("</svg>")


def _band(band: Band) -> Markup:
    return Markup(
        '<g class="band" data-state="{state}"><rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" '
        'height="{h:.1f}" rx="8" fill="#f4f6f9" stroke="#d9dee6"/>'
        '<text x="{tx:.1f}" y="{ty:.1f}" font-size="12" font-weight="600" font-family="{font}" '
        'fill="#5b6576">{state}</text></g>'
    ).format(
        state=band.state,
        x=band.x,
        y=band.y,
        w=band.width,
        h=band.height,
        tx=band.x + 8,
        ty=band.y + 15,
        font=FONT,
    )


def _node(node: Node) -> Markup:
    if node.kind in ("spacer", "continued"):
        return _bar(node)
    fill, stroke = COLOURS.get(node.state, COLOURS["planned"])
    task = node.kind == "task"
    body = Markup(
        '<g class="node {kind}" data-task-id="{nid}" data-state="{state}">'
        "<title>{tooltip}</title>"
        '<rect x="{x:.1f}" y="{y:.1f}" width="{w}" height="{h}" rx="{r:.1f}" fill="{fill}" '
        'stroke="{stroke}" stroke-width="1.5"/>'
        '<text x="{tx:.1f}" y="{ty1:.1f}" text-anchor="middle" font-size="13" '
        'font-family="{font}" fill="#1d2430">{label}</text>'
        '<text x="{tx:.1f}" y="{ty2:.1f}" text-anchor="middle" font-size="11" '
        'font-family="{font}" fill="#5b6576">{detail}</text></g>'
    ).format(
        kind=node.kind,
        nid=node.node_id,
        state=node.state,
        tooltip=node.tooltip or node.node_id,
        x=node.x,
        y=node.y,
        w=node.width,
        h=node.height,
        r=6 if task else node.height / 2,
        fill=fill,
        stroke=stroke,
        tx=node.x + node.width / 2,
        ty1=node.middle - (3 if task else -4),
        ty2=node.middle + 13,
        label=_short(node.label, LABEL_CHARS),
        detail=_short(node.detail, DETAIL_CHARS) if task else "",
        font=FONT,
    )
    if node.link is None:
        return body
    return Markup('<a href="{href}" class="node-link">{body}</a>').format(href=node.link, body=body)


def _bar(node: Node) -> Markup:
    kind = "node spacer" if node.kind == "spacer" else "continued"
    return Markup(
        '<g class="{kind}" data-task-id="{nid}"><title>{tooltip}</title>'
        '<rect x="{x:.1f}" y="{y:.1f}" width="{w}" height="{h:.1f}" rx="3" fill="#8a94a6"/>'
        "</g>"
    ).format(
        kind=kind,
        nid=node.label,
        tooltip=node.tooltip,
        x=node.x,
        y=node.y,
        w=node.width,
        h=node.height,
    )


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

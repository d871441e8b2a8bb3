"""The DAG picture: the hourglass's nodes and edges, colours by state, escaped labels."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from core.plan.model import PipelinePlan, TaskGroup, TaskSpec
from core.web.svg import COLOURS, dag_svg

SVG = "{http://www.w3.org/2000/svg}"


def _task(tid: int, state: str, template: str = "noop", dataset: str | None = None) -> TaskSpec:
    return TaskSpec(tid, template, "python", None, state, 0, 0, 0, {}, dataset=dataset)


def _plan(groups: list[list[TaskSpec]], name: str = "p", description: str | None = None):
    return PipelinePlan(
        pipeline_id=7,
        name=name,
        company="c",
        brand="b",
        segment="s",
        pipeline_type="t",
        is_active=True,
        run_frequency="none",
        description=description,
        groups=[TaskGroup(i, tasks[0].state, i, tasks) for i, tasks in enumerate(groups)],
    )


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(str(svg))  # well-formed XML, or this raises


def _nodes(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class", "").startswith("node")]


def test_the_hourglass_has_a_spacer_before_each_group() -> None:
    plan = _plan([[_task(1, "ingest"), _task(2, "ingest")], [_task(3, "master")]])
    root = _parse(dag_svg(plan))
    nodes = _nodes(root)
    kinds = [node.get("class").split()[1] for node in nodes]
    assert kinds == ["run_event", "spacer", "task", "task", "spacer", "task", "end_run"]
    ids = [node.get("data-task-id") for node in nodes]
    assert ids[1] == "ingest_group_step_0" and ids[4] == "master_group_step_1"
    assert ids[2] == "ingest_noop_1" and ids[-1] == "EndRun"
    # RunEvent->s0, s0->2 tasks, 2 tasks->s1, s1->1 task, 1 task->EndRun: 2 * tasks + 1
    assert len(root.findall(f"{SVG}path[@class='edge']")) == 7
    assert root.get("data-nodes") == "7" and root.get("data-edges") == "7"


def test_parallel_tasks_share_a_column_and_groups_go_left_to_right() -> None:
    plan = _plan([[_task(1, "ingest"), _task(2, "ingest")], [_task(3, "master")]])
    root = _parse(dag_svg(plan))
    rects = {g.get("data-task-id"): g.find(f"{SVG}rect") for g in _nodes(root)}
    first, second, third = (
        rects[f"{s}_noop_{i}"] for s, i in (("ingest", 1), ("ingest", 2), ("master", 3))
    )
    assert first.get("x") == second.get("x") and first.get("y") != second.get("y")
    assert float(third.get("x")) > float(first.get("x"))


def test_an_empty_plan_is_run_event_to_end_run() -> None:
    root = _parse(dag_svg(_plan([])))
    assert [g.get("data-task-id") for g in _nodes(root)] == ["RunEvent", "EndRun"]
    assert len(root.findall(f"{SVG}path[@class='edge']")) == 1


def test_tasks_are_coloured_by_their_run_state() -> None:
    plan = _plan([[_task(1, "ingest"), _task(2, "ingest")], [_task(3, "master")]])
    root = _parse(dag_svg(plan, {1: "success", 2: "failed"}))
    fills = {
        g.get("data-task-id"): (g.get("data-state"), g.find(f"{SVG}rect").get("fill"))
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "node task"
    }
    assert fills["ingest_noop_1"] == ("success", COLOURS["success"][0])
    assert fills["ingest_noop_2"] == ("failed", COLOURS["failed"][0])
    assert fills["master_noop_3"] == ("not run", COLOURS["not run"][0])


def test_every_label_is_escaped() -> None:
    evil = '<script>alert(1)</script>"&'
    plan = _plan([[_task(1, evil, template=evil)]], name=evil)
    svg = str(dag_svg(plan, {1: evil}))
    assert "<script>" not in svg
    root = _parse(svg)
    assert root.find(f"{SVG}title").text == f"DAG of {evil}"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert any(text and text.startswith("<script>alert(1)") for text in texts)
    task = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "node task")
    assert task.get("data-task-id") == f"{evil}_{evil}_1"


def test_long_labels_are_shortened_with_the_full_name_in_the_tooltip() -> None:
    long = "a_dataset_with_a_very_long_name_indeed"
    root = _parse(dag_svg(_plan([[_task(1, "ingest", template="sql", dataset=long)]])))
    task = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "node task")
    assert task.find(f"{SVG}text").text.endswith("…")
    assert long in task.find(f"{SVG}title").text


def test_two_pictures_on_one_page_have_distinct_ids() -> None:
    plan = _plan([[_task(1, "ingest")]])
    ids = re.findall(r' id="([^"]+)"', str(dag_svg(plan)) + str(dag_svg(plan, key="preview")))
    assert len(ids) == len(set(ids))


def test_a_task_is_named_by_the_dataset_it_writes_with_template_and_id_beneath() -> None:
    plan = _plan([[_task(4, "ingest", "sql", "status_union")], [_task(5, "master", "sql")]])
    root = _parse(dag_svg(plan))
    labels = [
        [t.text for t in g.iter(f"{SVG}text")]
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "node task"
    ]
    assert labels == [["status_union", "sql #4"], ["sql", "sql #5"]]  # no dataset: template


def test_each_state_is_a_band_and_spacers_are_bars_with_straight_edges() -> None:
    plan = _plan(
        [
            [_task(1, "ingest"), _task(2, "ingest"), _task(3, "ingest")],
            [_task(4, "ingest")],
            [_task(5, "master"), _task(6, "master")],
        ]
    )
    root = _parse(dag_svg(plan))
    bands = [g.get("data-state") for g in root.iter(f"{SVG}g") if g.get("class") == "band"]
    assert bands == ["ingest", "master"]  # ingest's two groups share one band
    bars = [g for g in root.iter(f"{SVG}g") if g.get("class") == "node spacer"]
    assert len(bars) == 3 and all(b.find(f"{SVG}rect") is not None for b in bars)
    edges = [p.get("d") for p in root.iter(f"{SVG}path") if p.get("class") == "edge"]
    # RunEvent->bar, bar->3, 3->bar, bar->1, 1->bar, bar->2, 2->EndRun: every real edge
    assert len(edges) == 1 + 3 + 3 + 1 + 1 + 2 + 2
    straight = [d for d in edges if " L " in d and " C " not in d]
    assert len(straight) == 11  # only the edges into EndRun curve
    for d in straight:  # a task's edge into or out of a bar stays at its own height
        _, _, y1, _, _, y2 = d.split()
        assert y1 == y2


def test_a_wide_dag_wraps_into_rows_joined_at_a_continued_bar() -> None:
    groups = [[_task(i, "ingest", dataset=f"step_{i}")] for i in range(1, 13)]
    root = _parse(dag_svg(_plan(groups)))
    assert int(root.get("width")) <= 1180 + 14
    continued = [g for g in root.iter(f"{SVG}g") if g.get("class") == "continued"]
    assert continued  # 12 groups do not fit one row
    ys = {
        float(g.find(f"{SVG}rect").get("y"))
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "node task"
    }
    assert len(ys) == len(continued) + 1  # one task height per row
    assert root.get("data-nodes") == str(2 + 12 + 12)  # continued bars are not DAG nodes


def test_nodes_link_where_asked_and_cancelled_has_its_own_colour() -> None:
    plan = _plan([[_task(1, "ingest"), _task(2, "ingest")]])
    svg = dag_svg(
        plan,
        {1: "cancelled"},
        link=lambda task, state: f"/log/{task.transformation_id}" if state != "not run" else None,
    )
    root = _parse(svg)
    links = [a.get("href") for a in root.iter(f"{SVG}a")]
    assert links == ["/log/1"]
    cancelled = next(g for g in root.iter(f"{SVG}g") if g.get("data-state") == "cancelled")
    assert cancelled.find(f"{SVG}rect").get("fill") == COLOURS["cancelled"][0]
    assert COLOURS["cancelled"] not in (COLOURS["failed"], COLOURS["success"])


def test_the_picture_scales_to_its_box_through_its_view_box() -> None:
    root = _parse(dag_svg(_plan([[_task(1, "ingest")], [_task(2, "master")]])))
    width, height = root.get("width"), root.get("height")
    assert root.get("viewBox") == f"0 0 {width} {height}"  # CSS shrinks it, keeping its shape


def test_one_bar_per_gap_and_each_task_joins_the_bars_beside_it() -> None:
    sizes = [3, 1, 2, 4, 1, 2, 1, 3, 1, 2, 1, 1]  # wraps into rows
    tid = iter(range(1, sum(sizes) + 1))
    groups = [[_task(next(tid), f"s{g}") for _ in range(size)] for g, size in enumerate(sizes)]
    root = _parse(dag_svg(_plan(groups)))
    bars = [g for g in root.iter(f"{SVG}g") if g.get("class") == "node spacer"]
    assert len(bars) == len(sizes)  # RunEvent|g0, g0|g1, ..., g10|g11
    before = [1, *sizes]  # what enters each bar: RunEvent, then each group
    expected = sum(b + a for b, a in zip(before, sizes, strict=False)) + sizes[-1]  # + EndRun
    edges = root.findall(f"{SVG}path[@class='edge']")
    assert len(edges) == expected == int(root.get("data-edges"))
    wraps = root.findall(f"{SVG}path[@class='wrap']")  # a row's last bar to the next row's
    assert len(wraps) == len([g for g in root.iter(f"{SVG}g") if g.get("class") == "continued"])
    assert wraps


def test_cancelled_is_grey_and_unlike_every_other_state() -> None:
    fill, stroke = COLOURS["cancelled"]
    assert (fill, stroke) not in [c for s, c in COLOURS.items() if s != "cancelled"]
    assert fill not in (COLOURS["failed"][0], COLOURS["skipped"][0], COLOURS["pending"][0])
    red, green, blue = (int(stroke[i : i + 2], 16) for i in (1, 3, 5))
    assert max(red, green, blue) - min(red, green, blue) < 40  # a grey, not a red or purple

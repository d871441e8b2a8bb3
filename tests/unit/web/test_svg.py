"""The DAG picture: the hourglass's nodes and edges, colours by state, escaped labels."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from core.plan.model import PipelinePlan, TaskGroup, TaskSpec
from core.web.svg import COLOURS, dag_svg

SVG = "{http://www.w3.org/2000/svg}"


def _task(tid: int, state: str, template: str = "noop") -> TaskSpec:
    return TaskSpec(tid, template, "python", None, state, 0, 0, 0, {})


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


def test_the_hourglass_has_a_spacer_before_each_group() -> None:
    plan = _plan([[_task(1, "ingest"), _task(2, "ingest")], [_task(3, "master")]])
    root = _parse(dag_svg(plan))
    nodes = root.findall(f"{SVG}g")
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
    rects = {g.get("data-task-id"): g.find(f"{SVG}rect") for g in root.findall(f"{SVG}g")}
    first, second, third = (
        rects[f"{s}_noop_{i}"] for s, i in (("ingest", 1), ("ingest", 2), ("master", 3))
    )
    assert first.get("x") == second.get("x") and first.get("y") != second.get("y")
    assert float(third.get("x")) > float(first.get("x"))


def test_an_empty_plan_is_run_event_to_end_run() -> None:
    root = _parse(dag_svg(_plan([])))
    assert [g.get("data-task-id") for g in root.findall(f"{SVG}g")] == ["RunEvent", "EndRun"]
    assert len(root.findall(f"{SVG}path[@class='edge']")) == 1


def test_tasks_are_coloured_by_their_run_state() -> None:
    plan = _plan([[_task(1, "ingest"), _task(2, "ingest")], [_task(3, "master")]])
    root = _parse(dag_svg(plan, {1: "success", 2: "failed"}))
    fills = {
        g.get("data-task-id"): (g.get("data-state"), g.find(f"{SVG}rect").get("fill"))
        for g in root.findall(f"{SVG}g[@class='node task']")
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
    task = root.find(f"{SVG}g[@class='node task']")
    assert task.get("data-task-id") == f"{evil}_{evil}_1"


def test_long_labels_are_shortened_with_the_full_name_in_the_tooltip() -> None:
    long = "a_template_with_a_very_long_name_indeed"
    root = _parse(dag_svg(_plan([[_task(1, "ingest", template=long)]])))
    task = root.find(f"{SVG}g[@class='node task']")
    assert task.find(f"{SVG}text").text.endswith("…")
    assert long in task.find(f"{SVG}title").text


def test_two_pictures_on_one_page_have_distinct_ids() -> None:
    plan = _plan([[_task(1, "ingest")]])
    ids = re.findall(r' id="([^"]+)"', str(dag_svg(plan)) + str(dag_svg(plan, key="preview")))
    assert len(ids) == len(set(ids))

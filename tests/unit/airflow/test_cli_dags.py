"""``core dags list`` and ``core dags show``: the generated structure, without Airflow."""

import subprocess
import sys

from tests.unit.test_cli import core


def test_dags_list_shows_active_pipelines_only(shapes, capsys) -> None:
    assert core("dags", "list") == 0
    out = capsys.readouterr().out
    assert "mixed" in out and "@hourly" in out and "0 6 * * 1-5" in out
    assert "asleep" not in out


def test_dags_show_prints_tasks_and_edges_in_order(shapes, capsys) -> None:
    assert core("dags", "show", "mixed") == 0
    out = capsys.readouterr().out
    edges = [line.strip() for line in out.splitlines() if ">>" in line]
    assert edges[0] == "RunEvent >> ingest_group_step_0"
    assert edges[-1] == "metrics_noop_4 >> EndRun" and len(edges) == 9
    assert out.index("ingest_other_2") < out.index("ingest_noop_1") < out.index("EndRun")
    assert core("dags", "show", "asleep") == 0
    assert "inactive" in capsys.readouterr().out
    assert core("dags", "show", "mixd") != 0
    assert "Did you mean 'mixed'" in capsys.readouterr().err


def test_the_cli_does_not_import_airflow() -> None:
    code = "import sys, core.cli; print('airflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False"

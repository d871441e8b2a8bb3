import shutil
from pathlib import Path

import pytest
import typer

from core.cli import app, run
from core.errors import ConfigurationError, DuplicateError, InvalidNameError, NotFoundError
from core.helpers.session_helper import SessionHelper
from core.models import configuration as cfg
from core.settings import load_settings
from core.transforms.authoring import new_notebook_template, notebook_variables
from core.transforms.notebook_validation import check_notebook_parameters

REPOSITORY_TEMPLATE = Path(__file__).resolve().parents[3] / "transforms" / "Template.ipynb"


@pytest.fixture
def transforms_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "transforms"
    folder.mkdir()
    shutil.copyfile(REPOSITORY_TEMPLATE, folder / "Template.ipynb")
    monkeypatch.setenv("CORE_TRANSFORMS_DIR", str(folder))
    return folder


def test_new_creates_the_notebook_and_registers_its_variables(world, transforms_dir) -> None:
    settings = load_settings()
    with SessionHelper(settings) as session:
        path, template = new_notebook_template(settings, session, "fill_rates", "metrics")
        saved = session.get(cfg.TransformationTemplate, template.id)
        assert (saved.kind, saved.pipeline_state_type.name) == ("notebook", "metrics")
        assert saved.variable_structures["factor"] == {
            "type": "int",
            "required": False,
            "default": 2,
        }
        assert "transform_id" not in saved.variable_structures
    assert path == transforms_dir / "fill_rates.ipynb" and path.exists()
    assert check_notebook_parameters("fill_rates", saved.variable_structures, settings) == []


def test_bad_requests_leave_nothing_behind(world, transforms_dir) -> None:
    settings = load_settings()
    with SessionHelper(settings) as session:
        with pytest.raises(InvalidNameError):
            new_notebook_template(settings, session, "Fill Rates", "metrics")
        with pytest.raises(NotFoundError, match="no pipeline state 'metric'.*'metrics'"):
            new_notebook_template(settings, session, "fill_rates", "metric")
        with pytest.raises(DuplicateError, match="'numbers' exists already"):
            new_notebook_template(settings, session, "numbers", "ingest")
        (transforms_dir / "taken.ipynb").write_text("{}")
        with pytest.raises(DuplicateError, match="taken.ipynb exists already"):
            new_notebook_template(settings, session, "taken", "ingest")
    assert sorted(p.name for p in transforms_dir.iterdir()) == ["Template.ipynb", "taken.ipynb"]


def test_a_notebook_without_parameters_cell_is_refused(tmp_path) -> None:
    import nbformat

    path = tmp_path / "bare.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), path)
    with pytest.raises(ConfigurationError, match="no code cell tagged 'parameters'"):
        notebook_variables(path)


def test_core_transforms_new(world, transforms_dir, capsys) -> None:
    command = typer.main.get_command(app)
    assert run(command, ["transforms", "new", "journeys", "--state", "enrich"], "core") == 0
    assert "registered notebook template 'journeys'" in capsys.readouterr().out
    assert run(command, ["transforms", "new", "journeys", "--state", "enrich"], "core") == 2
    assert "exists already" in capsys.readouterr().err

"""ConfigurationMocker: an in-memory configuration database with a small mock world.

from core.helpers.configuration_mocker import ConfigurationMocker as CMock
mock = CMock()
session = mock.get_session()
mock.generate_mocks()
"""

from __future__ import annotations

from core.database.audit import CoreSession
from core.database.engine import build_engine
from core.database.seed import load_world, mock_world
from core.helpers.session_helper import make_session
from core.models.configuration import Base


class ConfigurationMocker:
    """A private in-memory SQLite database with CORE's schema.

    Every instance has its own database, so mocks never leak between tests.

    Args:
        actor: who the mock's changes are recorded as.
    """

    def __init__(self, actor: str | None = None) -> None:
        self.engine = build_engine("sqlite://")
        Base.metadata.create_all(self.engine)
        self.session: CoreSession = make_session(self.engine, actor or "configuration_mocker")

    def get_session(self) -> CoreSession:
        """The mock database's session."""
        return self.session

    def generate_mocks(self) -> None:
        """Fill the database with the mock world (companies to run events) and commit."""
        load_world(self.session, mock_world())
        self.session.commit()

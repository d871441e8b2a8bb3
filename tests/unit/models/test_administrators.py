import pytest
from sqlalchemy.exc import IntegrityError

import core.models.configuration as config
from core.errors import ConfigurationError
from core.helpers.configuration_mocker import ConfigurationMocker


def test_email_is_lower_cased_and_role_defaults_to_viewer() -> None:
    session = ConfigurationMocker().get_session()
    person = config.Administrator(email_address="Ana@Example.com")
    session.add(person)
    session.commit()
    assert (person.email_address, person.role, person.is_active) == (
        "ana@example.com",
        "viewer",
        True,
    )


@pytest.mark.parametrize("email", ["ana", "ana@@example.com", "ana @example.com", None])
def test_invalid_emails_are_refused(email) -> None:
    with pytest.raises(ConfigurationError, match="expected name@domain"):
        config.Administrator(email_address=email)


def test_unknown_roles_are_refused() -> None:
    with pytest.raises(
        ConfigurationError, match="role 'owner' is not valid: expected one of viewer, editor, admin"
    ):
        config.Administrator(email_address="a@b.c", role="owner")


def test_emails_are_unique() -> None:
    session = ConfigurationMocker().get_session()
    session.add_all(
        [config.Administrator(email_address="a@b.c"), config.Administrator(email_address="A@B.C")]
    )
    with pytest.raises(IntegrityError):
        session.commit()

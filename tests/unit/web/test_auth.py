"""Logging in and out of the UI: the form, its errors, throttling and redirects."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.unit.web.conftest import PASSWORD, csrf_of, log_in


def _post_login(client: TestClient, email: str, password: str, **extra: str):
    token = csrf_of(client.get("/login").text)
    data = {"email": email, "password": password, "csrf_token": token, **extra}
    return client.post("/login", data=data, follow_redirects=False)


def test_a_page_without_a_session_redirects_to_login_and_back(
    client: TestClient, users: dict
) -> None:
    response = client.get("/runs?state=failed", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fruns%3Fstate%3Dfailed"
    login = _post_login(client, "viewer@example.com", PASSWORD, next="/runs?state=failed")
    assert login.status_code == 303 and login.headers["location"] == "/runs?state=failed"
    assert client.get("/runs?state=failed").status_code == 200


def test_the_login_cookie_is_signed_secure_and_lax(client: TestClient, users: dict) -> None:
    response = _post_login(client, "editor@example.com", PASSWORD)
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie


def test_the_root_is_the_pipeline_list(client: TestClient, as_viewer: str) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/pipelines"


def test_a_wrong_password_shows_the_error_on_the_form(client: TestClient, users: dict) -> None:
    response = _post_login(client, "editor@example.com", "wrong password")
    assert response.status_code == 401
    assert 'id="login-error"' in response.text
    assert "wrong email or password" in response.text
    assert 'value="editor@example.com"' in response.text  # the email is kept
    assert client.get("/pipelines", follow_redirects=False).status_code == 303


def test_a_refused_password_is_never_shown_back(client: TestClient, users: dict) -> None:
    secret = "hunter2-" + "x" * 1200  # longer than the form accepts
    response = _post_login(client, "editor@example.com", secret)
    assert response.status_code == 422 and "password" in response.text
    assert "hunter2" not in response.text and "(redacted)" in response.text


def test_too_many_failures_are_throttled(client: TestClient, users: dict) -> None:
    for _ in range(5):
        assert _post_login(client, "editor@example.com", "nope").status_code == 401
    response = _post_login(client, "editor@example.com", PASSWORD)  # even the right one
    assert response.status_code == 429
    assert "too many failed logins" in response.text
    assert int(response.headers["Retry-After"]) > 0


def test_the_login_form_needs_its_own_token(client: TestClient, users: dict) -> None:
    client.get("/login")
    response = client.post(
        "/login",
        data={"email": "editor@example.com", "password": PASSWORD, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert response.status_code == 403 and "expired" in response.text


def test_a_login_posted_from_another_site_is_refused(client: TestClient, users: dict) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"email": "editor@example.com", "password": PASSWORD, "csrf_token": token},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_next_must_be_a_local_path(client: TestClient, users: dict) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = _post_login(client, "viewer@example.com", PASSWORD, next=target)
        assert response.headers["location"] == "/pipelines", target
        client.cookies.clear()


def test_logout_needs_the_csrf_token_and_ends_the_session(
    client: TestClient, as_viewer: str
) -> None:
    assert client.post("/logout", follow_redirects=False).status_code == 403
    response = client.post("/logout", data={"csrf_token": as_viewer}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.get("/pipelines", follow_redirects=False).status_code == 303


def test_htmx_requests_without_a_session_are_sent_to_login(client: TestClient) -> None:
    response = client.get(
        "/pipelines?q=x",
        headers={
            "HX-Request": "true",
            "HX-Target": "pipeline-results",
            "HX-Current-URL": "https://testserver/pipelines?q=x",
        },
    )
    assert response.headers["HX-Redirect"] == "/login?next=%2Fpipelines%3Fq%3Dx"


def test_the_api_still_answers_json(client: TestClient, as_viewer: str) -> None:
    client.cookies.clear()
    response = client.get("/api/pipelines")
    assert response.status_code == 401 and response.json()["detail"].startswith("not signed in")
    assert client.get("/api/nothing-here").headers["content-type"] == "application/json"


def test_a_signed_in_user_skips_the_login_form(client: TestClient, users: dict) -> None:
    log_in(client, "viewer@example.com")
    response = client.get("/login?next=/audit", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/audit"

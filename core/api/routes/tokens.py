"""API tokens: issued to a user (the plain token shown once), listed, revoked. Admins only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from core.api.deps import Admin, SessionDep
from core.api.schemas import TokenIn, TokenIssued, TokenOut, json_response
from core.models.administrators import ApiToken
from core.service import users
from core.service.resources import MAX_ID

router = APIRouter(prefix="/api", tags=["tokens"])
UserId = Annotated[int, Path(ge=1, le=MAX_ID, description="the user's id")]
TokenId = Annotated[int, Path(ge=1, le=MAX_ID, description="the token's id")]


@router.post("/users/{user_id}/tokens", response_model=TokenIssued, status_code=201)
def issue(user_id: UserId, body: TokenIn, session: SessionDep, _: Admin) -> Any:
    """Create an API token for a user; the response is the only time the token is shown."""
    issued = users.issue_token(session, user_id, body.name, body.expires_in_days)
    issued_out = TokenIssued.model_validate({**_out(issued.row), "token": issued.token})
    return json_response(issued_out, status_code=201)


@router.get("/users/{user_id}/tokens", response_model=list[TokenOut])
def list_tokens(user_id: UserId, session: SessionDep, _: Admin) -> Any:
    """A user's tokens, newest first: names, prefixes and dates, never the tokens."""
    rows = users.list_tokens(session, user_id)
    return json_response([TokenOut.model_validate(row) for row in rows])


@router.delete("/tokens/{token_id}", status_code=204)
def revoke(token_id: TokenId, session: SessionDep, _: Admin) -> None:
    """Revoke a token: requests that present it are refused from now on."""
    users.revoke_token(session, token_id)


def _out(row: ApiToken) -> dict[str, Any]:
    return TokenOut.model_validate(row).model_dump()

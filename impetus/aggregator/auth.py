"""Who may do what: API keys carried as `Authorization: Bearer KEY`, four roles, one permission
per route. A missing or unknown key answers 401, a known key without the permission 403.

| permission   | operator | technician | privacy_officer | admin |
|--------------|----------|------------|-----------------|-------|
| read         | yes      | yes        | yes             | yes   |
| act (alerts) | yes      |            |                 | yes   |
| silence      | yes      | yes        |                 | yes   |
| maintain     |          | yes        |                 | yes   |
| audit        |          |            | yes             | yes   |

`read` covers alerts, events, devices, the site plan, rules, silences, metrics and the live feeds;
`maintain` the dead letters (they hold excerpts of what devices sent). Browsers cannot set headers
on a WebSocket, so the WebSocket routes also take the key as `?token=KEY`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from fastapi import Depends, HTTPException, Request, WebSocket

from impetus.aggregator.alerts_store import AlertStore, User

Permission = Literal["read", "act", "silence", "maintain", "audit"]

PERMISSIONS: dict[str, frozenset[str]] = {
    "operator": frozenset({"read", "act", "silence"}),
    "technician": frozenset({"read", "silence", "maintain"}),
    "privacy_officer": frozenset({"read", "audit"}),
    "admin": frozenset({"read", "act", "silence", "maintain", "audit"}),
}


def _users(request: Request | WebSocket) -> AlertStore:
    users: AlertStore = request.app.state.users
    return users


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, key = header.partition(" ")
    return key.strip() if scheme.lower() == "bearer" and key.strip() else None


def require(permission: Permission) -> Callable[[Request], User]:
    """A FastAPI dependency: the calling user, if their role grants `permission`."""

    def check(request: Request) -> User:
        key = _bearer(request.headers.get("authorization"))
        if key is None:
            raise HTTPException(
                status_code=401,
                detail="an API key is required: send `Authorization: Bearer KEY` "
                "(keys come from `impetus aggregator user add NAME --role ROLE`)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        user = _users(request).user_for_key(key)
        if user is None:
            raise HTTPException(
                status_code=401, detail="unknown API key", headers={"WWW-Authenticate": "Bearer"}
            )
        if permission not in PERMISSIONS.get(user.role, frozenset()):
            raise HTTPException(
                status_code=403, detail=f"role {user.role} may not {permission} (user {user.name})"
            )
        return user

    return check


READ = Depends(require("read"))
MAINTAIN = Depends(require("maintain"))


def websocket_user(websocket: WebSocket, permission: Permission = "read") -> User | None:
    """The user of a WebSocket handshake (`?token=` or the header), or None if refused."""
    key = websocket.query_params.get("token") or _bearer(websocket.headers.get("authorization"))
    if not key:
        return None
    user = _users(websocket).user_for_key(key)
    if user is None or permission not in PERMISSIONS.get(user.role, frozenset()):
        return None
    return user

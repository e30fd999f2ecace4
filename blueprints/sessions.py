"""The caller's own sessions: one per login, listed and ended one by one."""

from flask import Blueprint

from auth.access import authentication, login_required
from errors import NotFoundError
from openapi import doc
from plumbing.validation import parse_no_query
from schemas.session import SessionListSchema, SessionSchema
from services import sessions

bp = Blueprint("sessions", __name__, url_prefix="/api/auth/sessions")

SESSION = SessionSchema()
SESSION_LIST = SessionListSchema()


@bp.get("")
@login_required
@doc(response=SESSION_LIST)
def list_sessions():
    """The caller's open sessions, newest first.

    One session per login. `current` marks the session of the token used;
    `last_used_at` is the last request or refresh, to within a minute;
    `expires_at` is when the session ends unless it is refreshed before.
    """
    parse_no_query()
    auth = authentication()
    listed = sessions.open_sessions(auth.user)
    data = SESSION.dump(listed, many=True)
    for shown, session in zip(data, listed, strict=True):
        shown["current"] = session.id == auth.session.id
    return {"data": data}


@bp.delete("/<id:session_id>")
@login_required
@doc(status=204, errors=[NotFoundError])
def delete_session(session_id):
    """End one of the caller's sessions: its access and refresh tokens stop working.

    404 for an id that is not one of the caller's open sessions.
    """
    parse_no_query()
    if not sessions.end_own(authentication().user, session_id):
        raise NotFoundError("Session not found.")
    return "", 204

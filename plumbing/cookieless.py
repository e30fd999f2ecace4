"""No cookie session: the service keeps no state in cookies.

Clients authenticate with a bearer token (the contract has no auth cookies), so
Flask's default signed-cookie session would only be opened on every request to
find it empty, at the cost of building a signing serializer each time. This
interface hands every request Flask's ``NullSession`` instead, which refuses
writes, so no code can start relying on a cookie by accident.
"""

from flask.sessions import NullSession, SessionInterface


class NoCookieSessions(SessionInterface):
    null_session_class = NullSession

    def open_session(self, app, request):
        return None  # Flask then uses ``make_null_session``

    def save_session(self, app, session, response):
        return None

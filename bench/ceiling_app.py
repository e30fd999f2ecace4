"""The ceiling ``bench/compare.py`` measures the service against: bare Flask.

No database, no hooks, no extensions: a route that answers a fixed user as JSON,
served by gunicorn with the project's ``gunicorn.conf.py`` exactly like the
service. Whatever the service answers per second, as a fraction of this app in
the same run, is the cost of its own work on top of Flask and gunicorn.

    gunicorn -c gunicorn.conf.py 'bench.ceiling_app:app'
"""

from flask import Flask, jsonify

app = Flask(__name__)

USER = {
    "id": 3,
    "name": "Vera Viewer",
    "email": "viewer@example.com",
    "role": "viewer",
    "is_active": True,
    "created_at": "2026-01-01T00:00:00.000Z",
    "updated_at": "2026-01-01T00:00:00.000Z",
}


@app.get("/api/users/<int:user_id>")
def get_user(user_id):
    return jsonify({**USER, "id": user_id})

"""Demo data for development: known accounts to try the API with."""

from extensions import db
from models import User

# Development-only credentials; ``seed-demo`` refuses to run in production.
DEMO_USERS = (
    ("Ada Admin", "admin@example.com", "admin", "admin-demo-pass"),
    ("Eddie Editor", "editor@example.com", "editor", "editor-demo-pass"),
    ("Vera Viewer", "viewer@example.com", "viewer", "viewer-demo-pass"),
)


def seed_users():
    """Create the demo accounts that do not exist yet; return the ones created."""
    created = []
    for name, email, role, password in DEMO_USERS:
        if User.by_email(email) is not None:
            continue
        user = User(name=name, email=email, role=role, is_active=True)
        user.set_password(password)
        db.session.add(user)
        created.append((email, role, password))
    db.session.commit()
    return created

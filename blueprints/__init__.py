"""One blueprint per resource; ``register_blueprints`` mounts them all."""

from . import auth, health, users


def register_blueprints(app):
    for module in (health, auth, users):
        app.register_blueprint(module.bp)

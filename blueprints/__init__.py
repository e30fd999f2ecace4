"""One blueprint per resource; ``register_blueprints`` mounts them all."""

from . import auth, health, products, users


def register_blueprints(app):
    for module in (health, auth, users, products):
        app.register_blueprint(module.bp)

"""One blueprint per resource; ``register_blueprints`` mounts them all."""

from . import admin, auth, client_config, feedback, health, products, users


def register_blueprints(app):
    for module in (health, auth, users, admin, products, feedback, client_config):
        app.register_blueprint(module.bp)

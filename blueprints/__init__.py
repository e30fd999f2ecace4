"""One blueprint per resource; ``register_blueprints`` mounts them all."""

from . import admin, auth, client_config, docs, feedback, health, products, users


def register_blueprints(app):
    for module in (health, auth, users, admin, products, feedback, client_config, docs):
        app.register_blueprint(module.bp)
    app.register_blueprint(docs.swagger_ui)  # the docs page's assets

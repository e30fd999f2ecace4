"""One blueprint per resource; ``register_blueprints`` mounts them all."""

from . import admin, auth, client_config, docs, feedback, health, index, products, sessions, users


def register_blueprints(app):
    for module in (
        index,
        health,
        auth,
        sessions,
        users,
        admin,
        products,
        feedback,
        client_config,
        docs,
    ):
        app.register_blueprint(module.bp)
    app.register_blueprint(docs.swagger_ui)  # the docs page's assets

"""One blueprint per resource; ``register_blueprints`` mounts them all."""

from . import auth, docs, health, users


def register_blueprints(app):
    for module in (health, auth, users, docs):
        app.register_blueprint(module.bp)
    app.register_blueprint(docs.swagger_ui)  # the docs page's assets

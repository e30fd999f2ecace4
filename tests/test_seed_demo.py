"""seed-demo: one user per role, the catalog and feedback, added once; --products adds bulk rows."""

from decimal import Decimal

from sqlalchemy import func, select

from extensions import db
from models import Feedback, Product, User


def _invoke(app, *args):
    # The flask command pushes an app context for its commands; the test runner does not.
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


def _count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_seed_demo_creates_one_user_per_role_once(app, login):
    first = _invoke(app, "seed-demo")
    assert first.exit_code == 0, first.output
    assert "admin@example.com / admin-demo-pass" in first.output
    assert _invoke(app, "seed-demo").exit_code == 0
    with app.app_context():
        roles = sorted(db.session.scalars(select(User.role)))
    assert roles == ["admin", "editor", "viewer"]
    assert login("viewer@example.com", "viewer-demo-pass")


def test_seed_demo_is_idempotent(app):
    first = _invoke(app, "seed-demo")
    assert first.exit_code == 0, first.output
    products, feedback = _count(app, Product), _count(app, Feedback)
    assert products > 200 and feedback > 0
    again = _invoke(app, "seed-demo")
    assert "0 products added" in again.output
    assert (_count(app, Product), _count(app, Feedback)) == (products, feedback)


def test_bulk_products_are_readable(app, client):
    result = _invoke(app, "seed-demo", "--products", "120")
    assert result.exit_code == 0, result.output
    body = client.get("/api/products?q=bulk&order_by=price&sort=desc&limit=3").get_json()
    assert body["meta"]["total"] == 120
    prices = [Decimal(product["price"]) for product in body["data"]]
    assert prices == sorted(prices, reverse=True)
    assert all(product["created_at"].endswith("Z") for product in body["data"])


def test_seed_demo_is_refused_in_production(make_app):
    app = make_app(APP_ENV="production")
    result = _invoke(app, "seed-demo")
    assert result.exit_code == 1 and "production" in result.output
    with app.app_context():
        assert db.session.scalar(select(User)) is None
    assert _count(app, Product) == 0

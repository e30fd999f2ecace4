"""Management commands: ``flask --app app <command>``."""

import signal
import sys
import threading
import time

import click
from flask import current_app
from flask.cli import with_appcontext
from marshmallow import ValidationError
from sqlalchemy import delete, or_

import demo
from errors import Conflict
from extensions import db
from features import idempotency
from models import ROLES, AuthSession, PasswordResetToken
from models.base import utcnow
from models.catalog import bump_catalog_version
from schemas.user import UserCreateSchema
from services import mail_outbox
from services.accounts import create_account


@click.command("create-user")
@with_appcontext
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user_command(email, name, role, password_stdin):
    """Create a user (for example the first admin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        data = UserCreateSchema().load(
            {"email": email, "name": name, "role": role, "password": password}
        )
    except ValidationError as exc:
        for field, messages in exc.messages.items():
            click.echo(f"Error: {field}: {' '.join(messages)}", err=True)
        sys.exit(1)
    try:
        user = create_account(**data)
        db.session.commit()
    except Conflict as exc:
        click.echo(f"Error: {exc.detail}", err=True)
        sys.exit(1)
    click.echo(f"Created {user.role} {user.email} (id {user.id}).")


@click.command("seed-demo")
@with_appcontext
@click.option(
    "--products",
    "bulk",
    type=click.IntRange(min=0),
    default=0,
    help="Also insert this many generated products (bulk, for benchmarks).",
)
def seed_demo_command(bulk):
    """Add demo users, a catalog and feedback (development only); safe to run again."""
    if current_app.config["APP_ENV"] == "production":
        click.echo("Error: seed-demo is for development; APP_ENV is production.", err=True)
        sys.exit(1)
    created = demo.seed_users()
    for email, role, password in created:
        click.echo(f"Demo {role}: {email} / {password}")
    if not created:
        click.echo("Demo users exist already.")
    click.echo(f"Demo catalog: {demo.seed_catalog()} products added.")
    click.echo(f"Demo feedback: {demo.seed_feedback()} added.")
    if bulk:
        started = time.perf_counter()
        demo.add_bulk_products(bulk)
        seconds = time.perf_counter() - started
        click.echo(f"Bulk: {bulk} products added in {seconds:.1f} s.")


@click.command("purge-expired")
@with_appcontext
def purge_expired_command():
    """Delete expired and revoked sessions, expired idempotency keys and used or
    expired password reset tokens (run it from cron: nothing deleted could still
    be used)."""
    now = utcnow()
    result = db.session.execute(
        delete(AuthSession).where(
            or_(AuthSession.expires_at <= now, AuthSession.revoked_at.is_not(None))
        )
    )
    keys = idempotency.delete_expired(now)
    reset_tokens = db.session.execute(
        delete(PasswordResetToken).where(
            or_(PasswordResetToken.expires_at <= now, PasswordResetToken.used_at.is_not(None))
        )
    )
    db.session.commit()
    click.echo(f"Deleted {result.rowcount} sessions and {keys} idempotency keys.")
    click.echo(f"Deleted {reset_tokens.rowcount} password reset tokens.")


@click.command("bump-catalog-version")
@with_appcontext
def bump_catalog_version_command():
    """Invalidate the server-side cache of the catalog (after SQL run around the API)."""
    bump_catalog_version(db.session.connection())
    db.session.commit()
    click.echo("The catalog has a new version; cached catalog answers are no longer served.")


@click.command("send-mail")
@with_appcontext
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
def send_mail_command(once):
    """Send the mail outbox's mail: until stopped (SIGTERM, Ctrl+C), or once.

    Any number of these may run beside the servers' own sender threads; each
    mail is sent by one of them. Stopped, it lets the mail being sent finish.
    """
    app = current_app.extensions["mail_outbox"]  # the app, for contexts of its own
    sender_id = mail_outbox.new_sender_id()
    if not app.config["MAIL_URL"]:
        click.echo("Error: MAIL_URL is not set; no mail can be sent.", err=True)
        sys.exit(1)
    if once:
        result = mail_outbox.run_pass(app, sender_id)
        if result is None:
            sys.exit(1)
        click.echo(
            f"Sent {result.sent}, dropped {result.dropped}, refused {result.refused}, "
            f"failed {result.failed}, given up {result.given_up}."
        )
        return
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    click.echo(f"Sending mail every {mail_outbox.POLL_SECONDS} s until stopped.")
    while not stopping.is_set():
        mail_outbox.run_pass(app, sender_id, stopping)
        stopping.wait(mail_outbox.POLL_SECONDS)


def init_app(app):
    for command in (
        create_user_command,
        seed_demo_command,
        purge_expired_command,
        bump_catalog_version_command,
        send_mail_command,
    ):
        app.cli.add_command(command)
    # The command's earlier name, kept for existing cron jobs.
    app.cli.add_command(purge_expired_command, "purge-sessions")

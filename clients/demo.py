"""``idp demo``: a demo traveller and a demo platform, so the provider can be tried at once.
Idempotent; refused in production."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from urllib.parse import urlencode

import click
from flask import current_app
from flask.cli import with_appcontext

from idp.accounts.service import create_user, find_user
from idp.digests import digest
from idp.extensions import db
from idp.keys import key_store
from idp.oauth.models import Client

DEMO_EMAIL = "umberto@example.org"
DEMO_PASSWORD = "a bus stop near the carpool area"
DEMO_CLIENT_ID = "demo-regional-carpool"
DEMO_REDIRECT_URI = "http://127.0.0.1:5001/callback"
DEMO_SCOPE = "openid profile:alias profile email phone home_commune carpool offline_access"
DEMO_POLICY = {
    "email": {"required": True, "purpose": {
        "fr": "Nous vous envoyons la confirmation de chaque covoiturage.",
        "en": "We send you the confirmation of each carpool."}},
    "profile:alias": {"required": True, "purpose": {
        "fr": "Votre conducteur ou vos passagers voient votre pseudo.",
        "en": "Your driver or passengers see your alias."}},
    "phone": {"required": False, "purpose": {
        "fr": "Le conducteur peut vous appeler le jour du trajet.",
        "en": "The driver can call you on the day of the trip."}},
    "carpool": {"required": False, "purpose": {
        "fr": "Nous vous proposons des trajets qui vous conviennent.",
        "en": "We suggest trips that suit you."}},
}
DEMO_VERIFIER = "demo-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"


def demo_secret() -> str:
    """Stable for one installation (derived from its secret key), unguessable elsewhere."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"demo client secret", hashlib.sha256).hexdigest()


def ensure_demo_user() -> None:
    if find_user(DEMO_EMAIL) is None:
        user = create_user(DEMO_EMAIL, DEMO_PASSWORD, "Umberto", "Rossi")
        user.locality, user.postal_code, user.country = "Angoulême", "16000", "France"
        user.nickname, user.phone_number = "Umberto R.", "+33 6 12 34 56 78"
        user.mobility = {"mob_home_commune": {"name": "Angoulême", "insee_code": "16015"},
                         "mob_carpool_role": "passenger",
                         "mob_preferred_modes": ["bus", "train", "carpool"]}
        db.session.commit()


def ensure_demo_client() -> Client:
    client = db.session.scalar(db.select(Client).where(Client.client_id == DEMO_CLIENT_ID))
    if client is None:
        client = Client(
            client_id=DEMO_CLIENT_ID,
            client_name="Covoiturage régional (démo)",
            redirect_uris=[DEMO_REDIRECT_URI],
            scope=DEMO_SCOPE,
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="client_secret_basic",
            policy_uri="http://127.0.0.1:5001/privacy",
            tos_uri="http://127.0.0.1:5001/terms",
            contacts=["dpo@covoiturage-regional.example"],
        )
        db.session.add(client)
    client.scope = DEMO_SCOPE
    client.scope_policy = DEMO_POLICY
    client.client_secret_hash = digest(demo_secret())
    db.session.commit()
    return client


def example_authorization_url() -> str:
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(DEMO_VERIFIER.encode()).digest()).decode().rstrip("=")
    query = urlencode({
        "response_type": "code", "client_id": DEMO_CLIENT_ID,
        "redirect_uri": DEMO_REDIRECT_URI, "scope": "openid profile:alias email phone carpool",
        "state": "demo-state",
        "code_challenge": challenge, "code_challenge_method": "S256",
    })
    return f"{current_app.extensions['idp.settings'].issuer}/authorize?{query}"


@click.command(help="Create the demo traveller and platform (idempotent).")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def demo(as_json: bool) -> None:
    if current_app.extensions["idp.settings"].is_production:
        click.echo("error: idp demo is refused with IDP_ENV=production", err=True)
        sys.exit(1)
    key_store().ensure_keys()
    ensure_demo_user()
    ensure_demo_client()
    info = {
        "traveller": {"email": DEMO_EMAIL, "password": DEMO_PASSWORD},
        "platform": {"client_id": DEMO_CLIENT_ID, "client_secret": demo_secret(),
                     "redirect_uri": DEMO_REDIRECT_URI, "code_verifier": DEMO_VERIFIER},
        "try": example_authorization_url(),
    }
    if as_json:
        click.echo(json.dumps(info))
        return
    click.echo("Demo traveller:  email    " + DEMO_EMAIL)
    click.echo("                 password " + DEMO_PASSWORD)
    click.echo("Demo platform:   client_id     " + DEMO_CLIENT_ID)
    click.echo("                 client_secret " + demo_secret())
    click.echo("                 redirect_uri  " + DEMO_REDIRECT_URI)
    click.echo("                 code_verifier " + DEMO_VERIFIER)
    click.echo("Try it: open " + example_authorization_url())

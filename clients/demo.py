"""``idp demo``: a demo traveller and two demo platforms, a regional and a national
carpool site, so that Umberto's story (shared/CONTEXT.md) can be walked through at once.
``idp demo platforms`` serves both platforms. Idempotent; refused in production."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import click
from flask import current_app
from flask.cli import with_appcontext

from clients import resources
from clients.demo_platform import Partner, PlatformConfig
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
NATIONAL_CLIENT_ID = "demo-national-carpool"
NATIONAL_SCOPE = "openid profile:alias email phone"
NATIONAL_POLICY = {
    "email": {"required": True, "purpose": {
        "fr": "Nous vous envoyons la réservation de votre trajet.",
        "en": "We send you the booking of your trip."}},
    "profile:alias": {"required": True, "purpose": {
        "fr": "Le conducteur voit votre pseudo avant d'accepter votre réservation.",
        "en": "The driver sees your alias before accepting your booking."}},
    "phone": {"required": False, "purpose": {
        "fr": "Le conducteur peut vous appeler si le point de rendez-vous change.",
        "en": "The driver can call you if the meeting point changes."}},
}
DEMO_VERIFIER = "demo-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"
# The national platform's API (issue 14): what the regional one may do there for a
# traveller who allows it, in the national platform's words, and what it then sees.
NATIONAL_API_NAME = "API de Covoiturage national"
NATIONAL_ACTIONS = {
    "trips:search": {"fr": "chercher des trajets", "en": "search rides"},
    "bookings:create": {"fr": "réserver des places", "en": "book seats"},
}
NATIONAL_API_CLAIMS = ["nickname", "phone_number"]
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
# The regional platform's own data about its members: where Umberto usually meets drivers.
MEETING_POINT = "Aire de covoiturage de Ruelle-sur-Touvre, près de l’arrêt de bus"


@dataclass(frozen=True)
class DemoPlatform:
    """One demo platform: its registration at the provider and where it runs."""

    client_id: str
    name: str
    port: int
    scope: str
    policy: dict[str, Any]
    contact: str
    host: str = "127.0.0.1"
    serves_api: bool = False  # the national platform's rides and bookings
    exchanges_tokens: bool = False  # the regional one acts there for its travellers

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api(self) -> str:
        """The API's identifier (RFC 8707), also its address: the ``aud`` of its tokens."""
        return f"{self.origin}/api"

    @property
    def sector(self) -> str:
        """Both demo platforms listen on 127.0.0.1, which would make them one sector
        (OIDC Core 8.1) seeing one `sub` for the traveller. Each is named by the domain
        it would have online (never fetched: ``idp demo`` writes the registration
        itself), so that they see different ones, as real platforms do."""
        return f"https://{self.contact.split('@', 1)[1]}/sector.json"

    @property
    def grant_types(self) -> list[str]:
        extra = [TOKEN_EXCHANGE] if self.exchanges_tokens else []
        return ["authorization_code", "refresh_token", *extra]

    @property
    def requested_scope(self) -> str:
        """What the platform asks for at login: no refresh token (it keeps the access
        token only for the session), and the actions it wants to do on the partner's API."""
        actions = list(NATIONAL_ACTIONS) if self.exchanges_tokens else []
        return " ".join([s for s in self.scope.split() if s != "offline_access"] + actions)


REGIONAL = DemoPlatform(DEMO_CLIENT_ID, "Covoiturage régional", 5001, DEMO_SCOPE, DEMO_POLICY,
                        "dpo@covoiturage-regional.example", exchanges_tokens=True)
NATIONAL = DemoPlatform(NATIONAL_CLIENT_ID, "Covoiturage national", 5002, NATIONAL_SCOPE,
                        NATIONAL_POLICY, "dpo@covoiturage-national.example", serves_api=True)
DEMO_PLATFORMS = (REGIONAL, NATIONAL)


def demo_secret(client_id: str = DEMO_CLIENT_ID) -> str:
    """Stable for one installation (derived from its secret key), unguessable elsewhere."""
    key = current_app.config["SECRET_KEY"].encode()
    label = b"demo client secret"
    if client_id != DEMO_CLIENT_ID:  # the regional platform keeps its earlier secret
        label += b" " + client_id.encode()
    return hmac.new(key, label, hashlib.sha256).hexdigest()


def ensure_demo_user() -> None:
    if find_user(DEMO_EMAIL) is None:
        user = create_user(DEMO_EMAIL, DEMO_PASSWORD, "Umberto", "Rossi")
        user.locality, user.postal_code, user.country = "Angoulême", "16000", "France"
        user.nickname, user.phone_number = "Umberto R.", "+33 6 12 34 56 78"
        user.mobility = {"mob_home_commune": {"name": "Angoulême", "insee_code": "16015"},
                         "mob_carpool_role": "passenger",
                         "mob_preferred_modes": ["bus", "train", "carpool"]}
        db.session.commit()


def ensure_demo_client(platform: DemoPlatform = REGIONAL) -> Client:
    """Register the platform, or bring its registration back to the demo's."""
    client = db.session.scalar(
        db.select(Client).where(Client.client_id == platform.client_id))
    if client is None:
        client = Client(
            client_id=platform.client_id,
            response_types=["code"],
            token_endpoint_auth_method="client_secret_basic",
        )
        db.session.add(client)
    client.client_name = platform.name
    client.grant_types = platform.grant_types
    client.sector_identifier_uri = platform.sector
    client.redirect_uris = [f"{platform.origin}/callback"]
    client.policy_uri = f"{platform.origin}/privacy"
    client.tos_uri = f"{platform.origin}/terms"
    client.contacts = [platform.contact]
    client.backchannel_logout_uri = f"{platform.origin}/backchannel-logout"
    client.events_uri = f"{platform.origin}/events"  # told when a delegation stops
    client.scope = platform.scope
    client.scope_policy = platform.policy
    client.client_secret_hash = digest(demo_secret(platform.client_id))
    if platform.serves_api:
        api = resources.ResourceSpec(platform.api, NATIONAL_API_NAME, NATIONAL_ACTIONS,
                                     NATIONAL_API_CLAIMS)
        resources.save(client, resources.validate([api], platform.client_id))
    db.session.commit()
    return client


def platform_config(platform: DemoPlatform,
                    partner: DemoPlatform | None = None) -> PlatformConfig:
    """How the demo platform is configured to talk to this provider, and to the API of
    its ``partner`` when it acts there for its travellers."""
    return PlatformConfig(
        name=platform.name, port=platform.port, host=platform.host,
        client_id=platform.client_id, client_secret=demo_secret(platform.client_id),
        issuer=current_app.extensions["idp.settings"].issuer, scope=platform.requested_scope,
        api=platform.api if platform.serves_api else None,
        partner=Partner(partner.name, partner.api, MEETING_POINT) if partner else None,
        actors=tuple((p.client_id, p.name) for p in DEMO_PLATFORMS
                     if platform.serves_api and p.exchanges_tokens),
    )


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


def refuse_in_production() -> None:
    if current_app.extensions["idp.settings"].is_production:
        click.echo("error: idp demo is refused with IDP_ENV=production", err=True)
        sys.exit(1)


def print_info(info: dict[str, Any]) -> None:
    click.echo("Demo traveller:  email    " + DEMO_EMAIL)
    click.echo("                 password " + DEMO_PASSWORD)
    click.echo("Demo platform:   client_id     " + DEMO_CLIENT_ID)
    click.echo("                 client_secret " + demo_secret())
    click.echo("                 redirect_uri  " + DEMO_REDIRECT_URI)
    click.echo("                 code_verifier " + DEMO_VERIFIER)
    click.echo("Try it: open " + info["try"])
    print_addresses()


def print_addresses() -> None:
    click.echo("Demo platforms (`idp demo platforms` serves them; `make run` does too):")
    for platform in DEMO_PLATFORMS:
        click.echo(f"  {platform.name:<22} {platform.origin}/   client_id {platform.client_id}")
        if platform.serves_api:
            click.echo(f"  {'':<22} {platform.api}   its API (rides, bookings)")


def serve_platforms() -> None:
    configs = [platform_config(REGIONAL, partner=NATIONAL), platform_config(NATIONAL)]
    for config in configs:
        click.echo(f"Serving {config.name} at {config.origin}/ (Ctrl-C to stop)")
    from clients.demo_platform.serve import serve_until_stopped

    serve_until_stopped(configs)


@click.group(invoke_without_command=True,
             help="Create the demo traveller and platforms (idempotent).")
@click.option("--json", "as_json", is_flag=True)
@click.option("--serve", is_flag=True, help="Then serve the demo platforms until Ctrl-C.")
@with_appcontext
def demo(as_json: bool, serve: bool) -> None:
    if click.get_current_context().invoked_subcommand is not None:
        return
    refuse_in_production()
    key_store().ensure_keys()
    ensure_demo_user()
    for platform in DEMO_PLATFORMS:
        ensure_demo_client(platform)
    info = {
        "traveller": {"email": DEMO_EMAIL, "password": DEMO_PASSWORD},
        "platform": {"client_id": DEMO_CLIENT_ID, "client_secret": demo_secret(),
                     "redirect_uri": DEMO_REDIRECT_URI, "code_verifier": DEMO_VERIFIER},
        "platforms": [{"name": p.name, "url": f"{p.origin}/", "client_id": p.client_id,
                       "client_secret": demo_secret(p.client_id)} for p in DEMO_PLATFORMS],
        "try": example_authorization_url(),
    }
    if as_json:
        click.echo(json.dumps(info))
    else:
        print_info(info)
    if serve:
        serve_platforms()


@demo.command("platforms", help="Serve the demo platforms on their ports until Ctrl-C.")
@with_appcontext
def platforms() -> None:
    refuse_in_production()
    serve_platforms()

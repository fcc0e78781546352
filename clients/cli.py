"""``idp clients``: register and manage platforms from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from clients.credentials import issue_initial_access_token
from clients.registration import ClientMetadata, ClientMetadataError, all_clients, delete, find
from clients.registration import register as register_client
from idp.cli import fail
from idp.extensions import db
from idp.oauth.models import ACCESS_TOKEN_FORMATS, OPAQUE_ACCESS_TOKENS, Client
from idp.oauth.subjects import SUBJECT_TYPES


def describe(client: Client, secret: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "client_id": client.client_id,
        "client_name": client.client_name,
        "redirect_uris": client.redirect_uris,
        "scope": client.scope,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "grant_types": client.grant_types,
        "application_type": client.application_type,
        "jwks_uri": client.jwks_uri,
        "require_pkce": client.require_pkce,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "events_uri": client.events_uri,
        "subject_type": client.subject_type,
        "sector_identifier_uri": client.sector_identifier_uri,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "access_token_format": client.access_token_format,
        "created_at": client.created_at.isoformat(),
    }
    if secret:
        data["client_secret"] = secret
    return data


@click.group(help="Register and manage platforms (OAuth clients).")
def clients() -> None:
    pass


@clients.command("create")
@click.option("--name", required=True, help="The platform's name, shown to travellers.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True,
              help="An exact redirect URI; repeat for several.")
@click.option("--scope", default="openid profile email", show_default=True,
              help="The scopes the platform may ask for.")
@click.option("--public", is_flag=True, help="A public client (no secret; PKCE mandatory); "
              "the same as --token-endpoint-auth-method none.")
@click.option("--token-endpoint-auth-method", "auth_method", default=None,
              metavar="METHOD", help="client_secret_basic (the default), client_secret_post, "
              "private_key_jwt (with --jwks-uri or --jwks-file) or none.")
@click.option("--jwks-uri", default=None, help="Where the platform publishes its public keys.")
@click.option("--jwks-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A JSON file holding the platform's public keys (a JWK Set).")
@click.option("--grant-type", "grant_types", multiple=True, metavar="GRANT",
              help="authorization_code, refresh_token, client_credentials; repeat for "
                   "several (default: from the scope).")
@click.option("--require-par", is_flag=True,
              help="Every authorization request must be pushed to /par first (RFC 9126).")
@click.option("--request-object-alg", type=click.Choice(["RS256", "ES256", "none"]),
              default=None, help="The one algorithm of its request objects (RFC 9101); "
              "none lets it send unsigned ones.")
@click.option("--application-type", default="web", show_default=True, metavar="web|native",
              help="native: redirect URIs after RFC 8252 (loopback, private-use scheme).")
@click.option("--no-require-pkce", is_flag=True,
              help="Let this confidential client skip PKCE (not recommended).")
@click.option("--logo-uri", default=None)
@click.option("--policy-uri", default=None)
@click.option("--tos-uri", default=None)
@click.option("--backchannel-logout-uri", default=None,
              help="Where the platform receives logout tokens (Back-Channel Logout 1.0).")
@click.option("--events-uri", default=None,
              help="Where the platform receives the security events we push (RFC 8935), "
                   "such as a delegation stopped; registered as mob_events_uri.")
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True,
              help="An exact URI to return to after logout (RP-Initiated Logout 1.0); "
                   "repeat for several.")
@click.option("--id-token-alg", type=click.Choice(["RS256", "ES256"]), default="RS256",
              show_default=True)
@click.option("--sector-identifier-uri", default=None,
              help="A JSON array of the redirect URIs, needed when they are on several "
                   "hosts (OIDC Core 8.1); fetched now.")
@click.option("--required-scope", "required_scopes", multiple=True, metavar="SCOPE=PURPOSE",
              help="A scope the service cannot work without, and why; repeat for several.")
@click.option("--optional-scope", "optional_scopes", multiple=True, metavar="SCOPE=PURPOSE",
              help="A scope the traveller may refuse, and why; repeat for several.")
@click.option("--purpose-lang", default="fr", show_default=True,
              help="The language of the purpose sentences.")
@click.option("--access-token-format", type=click.Choice(list(ACCESS_TOKEN_FORMATS)),
              default=OPAQUE_ACCESS_TOKENS, show_default=True,
              help="Random access tokens, or JWTs after RFC 9068.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@with_appcontext
def create(name: str, redirect_uris: tuple[str, ...], scope: str, public: bool,
           no_require_pkce: bool, logo_uri: str | None, policy_uri: str | None,
           backchannel_logout_uri: str | None, post_logout_redirect_uris: tuple[str, ...],
           tos_uri: str | None, id_token_alg: str, required_scopes: tuple[str, ...],
           optional_scopes: tuple[str, ...], purpose_lang: str, as_json: bool,
           sector_identifier_uri: str | None = None,
           access_token_format: str = OPAQUE_ACCESS_TOKENS, auth_method: str | None = None,
           jwks_uri: str | None = None, jwks_file: Path | None = None,
           grant_types: tuple[str, ...] = (), application_type: str = "web",
           require_par: bool = False, request_object_alg: str | None = None,
           events_uri: str | None = None) -> None:
    """Register a platform; prints its client_id and, once only, its secret. Checked by
    the same code as dynamic registration (clients.registration.configure)."""
    policy = scope_policy(required_scopes, optional_scopes, purpose_lang)
    public = public or auth_method == "none"
    if public and no_require_pkce:
        fail("--public and --no-require-pkce cannot go together: a public client needs PKCE.")
    meta = ClientMetadata(
        client_name=name, redirect_uris=list(redirect_uris), scope=scope, public=public,
        require_pkce=not no_require_pkce, logo_uri=logo_uri, policy_uri=policy_uri,
        backchannel_logout_uri=backchannel_logout_uri, events_uri=events_uri,
        post_logout_redirect_uris=list(post_logout_redirect_uris),
        tos_uri=tos_uri, id_token_signed_response_alg=id_token_alg, scope_policy=policy,
        sector_identifier_uri=sector_identifier_uri, access_token_format=access_token_format,
        token_endpoint_auth_method=auth_method, jwks_uri=jwks_uri, jwks=read_jwks(jwks_file),
        grant_types=list(grant_types) or None, application_type=application_type,
        require_pushed_authorization_requests=require_par,
        request_object_signing_alg=request_object_alg, by_operator=True,
    )
    try:
        registration = register_client(meta)
    except ClientMetadataError as error:
        fail(f"{error.error}: {error.description}")
        return
    client, secret = registration.client, registration.client_secret
    if as_json:
        click.echo(json.dumps(describe(client, secret)))
        return
    click.echo(f"client_id: {client.client_id}")
    if secret:
        click.echo(f"client_secret: {secret}")
        click.echo("(the secret is shown once; only its digest is stored)")


def scope_policy(required_scopes: tuple[str, ...], optional_scopes: tuple[str, ...],
                 lang: str) -> dict[str, Any]:
    """The ``mob_scope_policy`` of ``--required-scope``/``--optional-scope SCOPE=PURPOSE``."""
    policy: dict[str, Any] = {}
    for required, entries in ((True, required_scopes), (False, optional_scopes)):
        for entry in entries:
            scope_name, _, purpose = entry.partition("=")
            if not purpose.strip():
                fail(f"{entry!r}: write SCOPE=PURPOSE, the purpose in plain words")
            policy[scope_name.strip()] = {"required": required,
                                          "purpose": {lang: purpose.strip()}}
    return policy


def read_jwks(path: Path | None) -> dict[str, Any] | None:
    """A JWK Set from a file; its keys are checked with the registration's other fields."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        fail(f"--jwks-file {path}: not a readable JSON file")
    if not isinstance(data, dict):
        fail(f"--jwks-file {path}: a JWK Set is a JSON object with a 'keys' array")
    return data


@clients.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, one object per line.")
@with_appcontext
def list_clients(as_json: bool) -> None:
    """List the registered platforms."""
    for client in all_clients():
        if as_json:
            click.echo(json.dumps(describe(client)))
        else:
            uris = " ".join(client.redirect_uris)
            click.echo(f"{client.client_id}\t{client.client_name}\t{uris}")


@clients.command("subject-type")
@click.argument("client_id")
@click.argument("subject_type", type=click.Choice(list(SUBJECT_TYPES)))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def subject_type(client_id: str, subject_type: str, as_json: bool) -> None:
    """Grant public subjects to a platform, or return it to pairwise ones (OIDC Core 8).
    A public `sub` is the same at every platform that has one: grant it knowingly."""
    client = find(client_id)
    if client is None:
        fail(f"no client with client_id {client_id}")
        return
    client.subject_type = subject_type
    db.session.commit()
    current_app.logger.info("client %s: subject type %s", client_id, subject_type)
    if as_json:
        click.echo(json.dumps({"client_id": client_id, "subject_type": subject_type}))
    else:
        click.echo(f"{client_id} now receives {subject_type} subject identifiers")


@clients.command("delete")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def delete_client(client_id: str, as_json: bool) -> None:
    """Delete a platform, its codes and its tokens."""
    client = find(client_id)
    if client is None:
        fail(f"no client with client_id {client_id}")
        return
    delete(client)
    click.echo(json.dumps({"deleted": client_id}) if as_json else f"deleted {client_id}")


@clients.command("registration-token")
@click.option("--expires-in", type=click.IntRange(min=1), default=24 * 3600, show_default=True,
              metavar="SECONDS", help="How long the token can be used.")
@click.option("--uses", type=click.IntRange(min=1), default=1, show_default=True,
              help="How many platforms it can register.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@with_appcontext
def registration_token(expires_in: int, uses: int, as_json: bool) -> None:
    """Issue an initial access token for the registration endpoint (RFC 7591 3), to give
    to a platform's operator. Shown once; only its digest is stored."""
    row, token = issue_initial_access_token(expires_in, uses)
    endpoint = f"{current_app.extensions['idp.settings'].issuer}/register"
    if as_json:
        click.echo(json.dumps({"initial_access_token": token, "uses": uses,
                               "expires_at": row.expires_at.isoformat(),
                               "registration_endpoint": endpoint}))
        return
    click.echo(f"initial_access_token: {token}")
    click.echo(f"(shown once; registers {uses} platform(s) at {endpoint} "
               f"until {row.expires_at.isoformat(timespec='seconds')})")

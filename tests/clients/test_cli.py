"""``idp clients``: an operator registers, lists and deletes platforms."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from joserfc.jwk import ECKey

from idp.extensions import db
from idp.oauth.models import Client, Token
from tests import factories

REDIRECT_URI = "https://carpool.example/callback"


def create(runner: CliRunner, *options: str) -> Result:
    return runner.invoke(args=["clients", "create", "--name", "Regional carpool",
                               "--redirect-uri", REDIRECT_URI, *options])


def stored(client_id: str) -> Client:
    client = db.session.scalar(db.select(Client).where(Client.client_id == client_id))
    assert client is not None
    return client


def count_clients() -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(Client))


def error_line(result: Result) -> str:
    assert result.exit_code == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")
    return line


def test_clients_create_prints_an_id_and_a_secret_stored_only_as_its_digest(
        runner: CliRunner) -> None:
    result = create(runner)

    assert result.exit_code == 0, result.output
    printed = dict(line.split(": ", 1) for line in result.stdout.splitlines()[:2])
    client = stored(printed["client_id"])
    secret = printed["client_secret"]
    assert client.client_secret_hash != secret
    assert client.client_secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert client.check_client_secret(secret)
    assert client.token_endpoint_auth_method == "client_secret_basic"
    assert client.require_pkce
    assert client.redirect_uris == [REDIRECT_URI]
    assert client.scope == "openid profile email"


def test_clients_create_json_describes_the_platform(runner: CliRunner) -> None:
    result = create(runner, "--redirect-uri", "https://carpool.example/other",
                    "--scope", "profile phone offline_access", "--json")

    assert result.exit_code == 0, result.output
    described = json.loads(result.stdout)
    client = stored(described["client_id"])
    assert client.client_secret_hash == hashlib.sha256(
        described["client_secret"].encode()).hexdigest()
    assert described["client_name"] == "Regional carpool"
    assert described["redirect_uris"] == [REDIRECT_URI, "https://carpool.example/other"]
    assert described["scope"] == "openid profile phone offline_access"  # openid always
    assert described["token_endpoint_auth_method"] == "client_secret_basic"
    assert described["require_pkce"] is True
    assert client.grant_types == ["authorization_code", "refresh_token"]


def test_clients_create_takes_where_the_platform_receives_events(runner: CliRunner) -> None:
    result = create(runner, "--events-uri", "https://carpool.example/events", "--json")

    assert result.exit_code == 0, result.output
    described = json.loads(result.stdout)
    assert described["events_uri"] == "https://carpool.example/events"
    assert stored(described["client_id"]).events_uri == "https://carpool.example/events"


def test_a_public_client_has_no_secret_and_must_use_pkce(runner: CliRunner) -> None:
    result = create(runner, "--public", "--json")

    assert result.exit_code == 0, result.output
    described = json.loads(result.stdout)
    assert "client_secret" not in described
    client = stored(described["client_id"])
    assert client.client_secret_hash is None
    assert client.token_endpoint_auth_method == "none"
    assert client.require_pkce


def test_a_confidential_client_may_be_let_off_pkce(runner: CliRunner) -> None:
    result = create(runner, "--no-require-pkce", "--json")

    assert result.exit_code == 0, result.output
    assert stored(json.loads(result.stdout)["client_id"]).require_pkce is False


def test_a_native_app_may_use_an_http_loopback_redirect_uri(runner: CliRunner) -> None:
    result = runner.invoke(args=["clients", "create", "--name", "Desktop app", "--public",
                                 "--redirect-uri", "http://127.0.0.1:8765/callback", "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["redirect_uris"] == ["http://127.0.0.1:8765/callback"]


@pytest.mark.parametrize(("options", "reason"), [
    (["--public", "--no-require-pkce"], "PKCE"),
    (["--scope", "openid wallet"], "unknown scope: wallet"),
    (["--redirect-uri", "https://carpool.example/callback#done"], "fragment"),
    (["--redirect-uri", "http://carpool.example/callback"], "https"),
    (["--redirect-uri", "http://192.168.1.10/callback"], "https"),
    (["--redirect-uri", "/callback"], "absolute"),
    (["--redirect-uri", "carpool://callback"], "absolute"),
    (["--policy-uri", "http://carpool.example/privacy"], "policy_uri"),
    (["--name", "   "], "client_name"),
])
def test_clients_create_refuses_unsafe_metadata(runner: CliRunner, options: list[str],
                                                reason: str) -> None:
    result = create(runner, *options)

    assert reason in error_line(result)
    assert count_clients() == 0


def test_clients_list_json_gives_one_platform_per_line_without_secrets(
        runner: CliRunner) -> None:
    first = factories.make_platform()
    second = factories.make_platform(public=True)

    result = runner.invoke(args=["clients", "list", "--json"])

    assert result.exit_code == 0, result.output
    listed = [json.loads(line) for line in result.stdout.splitlines()]
    assert [c["client_id"] for c in listed] == [first.client_id, second.client_id]
    assert [c["client_name"] for c in listed] == [first.model.client_name,
                                                  second.model.client_name]
    assert all("client_secret" not in c for c in listed)


def test_clients_list_says_nothing_when_there_is_no_platform(runner: CliRunner) -> None:
    result = runner.invoke(args=["clients", "list"])

    assert (result.exit_code, result.output) == (0, "")


def test_clients_delete_removes_the_platform_and_its_tokens(runner: CliRunner) -> None:
    platform = factories.make_platform()
    kept = factories.make_platform()
    user = factories.make_user()
    for client_id, digest in ((platform.client_id, "a" * 64), (kept.client_id, "b" * 64)):
        db.session.add(Token(client_id=client_id, user_id=user.model.id,
                             access_token_hash=digest, scope="openid", expires_in=3600,
                             auth_time=datetime.now(UTC)))
    db.session.commit()

    result = runner.invoke(args=["clients", "delete", platform.client_id, "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"deleted": platform.client_id}
    db.session.expire_all()
    assert [c.client_id for c in db.session.scalars(db.select(Client))] == [kept.client_id]
    assert [t.client_id for t in db.session.scalars(db.select(Token))] == [kept.client_id]


def test_clients_delete_fails_for_an_unknown_client(runner: CliRunner) -> None:
    factories.make_platform()

    result = runner.invoke(args=["clients", "delete", "no-such-client"])

    assert "no-such-client" in error_line(result)
    assert count_clients() == 1


# Issue 10, item 7: the operator pre-registers any platform that cannot register itself,
# checked by the same code as dynamic registration.

def created(result: Result) -> Client:
    assert result.exit_code == 0, result.output
    return stored(json.loads(result.stdout)["client_id"])


def test_clients_create_takes_the_token_endpoint_auth_method(runner: CliRunner) -> None:
    result = create(runner, "--token-endpoint-auth-method", "client_secret_post", "--json")

    client = created(result)
    assert client.token_endpoint_auth_method == "client_secret_post"
    assert client.check_client_secret(json.loads(result.stdout)["client_secret"])


def test_clients_create_registers_a_private_key_jwt_platform_with_its_keys(
        runner: CliRunner, tmp_path: Path) -> None:
    key = ECKey.generate_key("P-256", parameters={"kid": "carpool-1"}, private=True)
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))

    inline = created(create(runner, "--token-endpoint-auth-method", "private_key_jwt",
                            "--jwks-file", str(keys), "--json"))
    by_url = create(runner, "--token-endpoint-auth-method", "private_key_jwt",
                    "--jwks-uri", "https://carpool.example/jwks.json", "--json")

    assert inline.token_endpoint_auth_method == "private_key_jwt"
    assert inline.client_secret_hash is None
    assert inline.jwks == {"keys": [key.as_dict(private=False)]}
    assert "client_secret" not in json.loads(by_url.stdout)
    assert created(by_url).jwks_uri == "https://carpool.example/jwks.json"


def test_clients_create_with_auth_method_none_is_a_public_client(runner: CliRunner) -> None:
    result = create(runner, "--token-endpoint-auth-method", "none", "--json")

    client = created(result)
    assert client.is_public and client.client_secret_hash is None and client.require_pkce
    assert "client_secret" not in json.loads(result.stdout)


def test_clients_create_takes_grant_types_reconciled_with_the_scope(runner: CliRunner) -> None:
    kept = created(create(runner, "--grant-type", "authorization_code",
                          "--grant-type", "refresh_token", "--json"))
    added = created(create(runner, "--scope", "openid email offline_access",
                           "--grant-type", "authorization_code", "--json"))

    assert kept.grant_types == ["authorization_code", "refresh_token"]
    assert kept.scope == "openid profile email"
    assert added.grant_types == ["authorization_code", "refresh_token"]


def test_clients_create_registers_client_credentials_par_and_request_objects(
        runner: CliRunner) -> None:
    client = created(create(runner, "--grant-type", "authorization_code",
                            "--grant-type", "client_credentials", "--require-par",
                            "--request-object-alg", "ES256", "--json"))

    assert client.grant_types == ["authorization_code", "client_credentials"]
    assert client.require_pushed_authorization_requests is True
    assert client.request_object_signing_alg == "ES256"


def test_only_the_operator_may_allow_unsigned_request_objects(runner: CliRunner) -> None:
    client = created(create(runner, "--request-object-alg", "none", "--json"))

    assert client.request_object_signing_alg == "none"


def test_clients_create_registers_a_native_app(runner: CliRunner) -> None:
    result = runner.invoke(args=[
        "clients", "create", "--name", "Carpool app", "--application-type", "native",
        "--public", "--redirect-uri", "org.example.carpool:/oauth2redirect",
        "--redirect-uri", "http://127.0.0.1/cb", "--json"])

    client = created(result)
    assert client.application_type == "native"
    assert json.loads(result.stdout)["application_type"] == "native"
    assert client.redirect_uris == ["org.example.carpool:/oauth2redirect",
                                    "http://127.0.0.1/cb"]


@pytest.mark.parametrize(("options", "message"), [
    (["--token-endpoint-auth-method", "tls_client_auth"],
     "token_endpoint_auth_method must be one of"),
    (["--token-endpoint-auth-method", "private_key_jwt"], "private_key_jwt needs the client's"),
    (["--public", "--token-endpoint-auth-method", "client_secret_post"],
     "a public client uses token_endpoint_auth_method none"),
    (["--token-endpoint-auth-method", "none", "--no-require-pkce"],
     "a public client needs PKCE"),
    (["--jwks-uri", "https://carpool.example/jwks", "--jwks-file", "{jwks}"],
     "jwks and jwks_uri must not both be present"),
    (["--jwks-file", "{bad}"], "not a readable JSON file"),
    (["--jwks-file", "{list}"], "a JWK Set is a JSON object"),
    (["--grant-type", "implicit"], "implicit not supported"),
    (["--public", "--grant-type", "client_credentials", "--grant-type", "authorization_code"],
     "client_credentials is for confidential clients only"),
    (["--grant-type", "password", "--grant-type", "authorization_code"],
     "password not supported"),
    (["--application-type", "desktop"], "application_type must be web or native"),
    (["--application-type", "native", "--redirect-uri", "http://localhost/cb"],
     "a native app uses https"),
])
def test_clients_create_refuses_bad_values_in_one_line(
        runner: CliRunner, tmp_path: Path, options: list[str], message: str) -> None:
    files = {"jwks": tmp_path / "jwks.json", "bad": tmp_path / "bad.json",
             "list": tmp_path / "list.json"}
    files["jwks"].write_text(json.dumps({"keys": []}))
    files["bad"].write_text("{not json")
    files["list"].write_text("[]")
    options = [o.format(**{k: str(v) for k, v in files.items()}) for o in options]

    line = error_line(create(runner, *options))

    assert message in line
    assert count_clients() == 0

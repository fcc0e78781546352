"""What the fuzz test sends requests to: every endpoint listed in discovery, the
management of a registration, the consent records, and every form of signing in. Each
target names its parameters, with a few valid values to mix in with the hostile ones."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Target:
    path: str  # {name} segments are drawn like parameters
    methods: tuple[str, ...]
    params: dict[str, list[str]]
    segments: dict[str, list[str]] = field(default_factory=dict)
    form: bool = False  # a browser form, protected by a CSRF token
    json: bool = False  # a JSON body
    dpop: bool = False  # may carry a DPoP proof header (RFC 9449)


NONE: dict[str, list[str]] = {}
AUTHORIZE = {
    "response_type": ["code", "token", "code id_token"], "client_id": [], "redirect_uri": [],
    "scope": ["openid", "openid email offline_access", "openid profile phone"],
    "state": ["xyz"], "nonce": ["n-0S6"], "code_challenge": ["E9Melhoa2OwvFrEMTJguCHaoeK1t8UR"
                                                              "WbN4N7oxTc3M"],
    "code_challenge_method": ["S256", "plain"], "prompt": ["none", "login", "consent"],
    "max_age": ["0", "600"], "login_hint": ["umberto@example.org"], "ui_locales": ["en fr"],
    "claims": ['{"userinfo": {"email": {"essential": true}}}', '{"id_token": []}'],
    "request": ["eyJhbGciOiJub25lIn0.e30."], "request_uri": ["https://a.example/r"],
    "response_mode": ["query", "form_post", "fragment"], "display": ["page"],
    "acr_values": ["urn:mace:incommon:iap:silver"], "id_token_hint": [],
}
TOKEN = {
    "grant_type": ["authorization_code", "refresh_token", "client_credentials", "password"],
    "code": ["a-code"], "redirect_uri": [], "code_verifier": ["v" * 43], "refresh_token": [],
    "client_id": [], "client_secret": ["secret"], "scope": ["openid email"],
    "client_assertion_type": ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"],
    "client_assertion": ["eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "a.b.c"],
}
PAR = {name: values for name, values in AUTHORIZE.items() if name != "id_token_hint"} | {
    "client_secret": ["secret"], "client_assertion": TOKEN["client_assertion"],
    "client_assertion_type": TOKEN["client_assertion_type"]}
TOKEN_HINT = {"token": [], "token_type_hint": ["access_token", "refresh_token", "id_token"],
              "client_id": [], "client_secret": ["secret"]}
REGISTRATION = {
    "client_name": ["Carpool"], "redirect_uris": [["https://a.example/cb"], "https://a.example/"],
    "scope": ["openid email", "openid offline_access"], "client_id": [],
    "grant_types": [["authorization_code"], ["refresh_token"]], "response_types": [["code"]],
    "token_endpoint_auth_method": ["none", "client_secret_post", "private_key_jwt"],
    "contacts": [["dpo@a.example"]], "logo_uri": ["https://a.example/l.png"],
    "policy_uri": ["https://a.example/p"], "tos_uri": [], "client_uri": [],
    "jwks": [{"keys": []}], "jwks_uri": ["https://a.example/jwks"],
    "id_token_signed_response_alg": ["RS256", "ES256", "none"],
    "backchannel_logout_uri": ["https://a.example/bcl"], "sector_identifier_uri": [],
    "post_logout_redirect_uris": [["https://a.example/bye"]],
    "mob_scope_policy": [{"email": {"required": True, "purpose": {"en": "So."}}}],
    "subject_type": ["public", "pairwise"],
}
END_SESSION = {"id_token_hint": [], "post_logout_redirect_uri": ["https://a.example/bye"],
               "state": ["s"], "client_id": [], "ui_locales": ["en"], "logout_hint": ["x"]}
SIGN_IN = {"email": [], "password": ["a long walk to the carpool meeting point"],
           "interaction": ["abc"], "next": ["/account", "//evil.example", "/\\evil"],
           "login_hint": ["umberto@example.org"], "remember": ["y"]}
SIGN_UP = {"email": ["new@example.org"], "password": ["a long walk to the carpool meeting"],
           "given_name": ["Ada"], "family_name": ["Lovelace"], "birthdate": ["2000-01-01"],
           "interaction": ["abc"], "accept": ["y"]}
CODE = {"code": ["123456", "abcd-efgh"], "interaction": ["abc"], "next": ["/account"],
        "trust": ["y"]}
RESET = {"password": ["a long walk to the carpool meeting point"], "confirm": ["x"]}
TOKEN_SEGMENT = {"token": ["eyJ1c2VyIjoxfQ.ZZZ.abc", "x"]}

TARGETS = [
    Target("/authorize", ("GET", "POST"), AUTHORIZE),
    Target("/authorize/continue/{interaction}", ("GET",), NONE, {"interaction": ["abc"]}),
    Target("/consent/{interaction}", ("POST",), {"decision": ["allow", "deny"],
           "scope": ["email"], "claim": ["email"]}, {"interaction": ["abc"]}, form=True),
    Target("/token", ("POST",), TOKEN, dpop=True),
    Target("/par", ("POST",), PAR),
    Target("/userinfo", ("GET", "POST"), {"access_token": []}, dpop=True),
    Target("/jwks.json", ("GET",), NONE),
    Target("/.well-known/openid-configuration", ("GET",), NONE),
    Target("/register", ("POST",), REGISTRATION, json=True),
    Target("/register/{client_id}", ("GET", "PUT", "DELETE"), REGISTRATION, {"client_id": []},
           json=True),
    Target("/revoke", ("POST",), TOKEN_HINT),
    Target("/introspect", ("POST",), TOKEN_HINT),
    Target("/end_session", ("GET", "POST"), END_SESSION),
    Target("/end_session/confirm", ("POST",), END_SESSION | {"decision": ["yes"]}, form=True),
    Target("/consent/records", ("GET", "POST"), {"sub": ["a-sub"], "client_id": []}),
    Target("/login", ("GET", "POST"), SIGN_IN, form=True),
    Target("/signup", ("GET", "POST"), SIGN_UP, form=True),
    Target("/password/forgot", ("GET", "POST"), {"email": []}, form=True),
    Target("/password/reset/{token}", ("GET", "POST"), RESET, TOKEN_SEGMENT, form=True),
    Target("/login/code", ("GET", "POST"), CODE, form=True),
    Target("/login/recovery", ("GET", "POST"), CODE, form=True),
    Target("/login/code/refuse", ("POST",), CODE, form=True),
    Target("/language/{code}", ("GET",), {"next": ["/account", "/authorize?x=1"]},
           {"code": ["en", "fr"]}),
    Target("/logout", ("GET", "POST"), {"next": ["/"]}, form=True),
    Target("/email/verify/{token}", ("GET", "POST"), NONE, TOKEN_SEGMENT, form=True),
]

"""Hostile values for every kind of input a request carries: text with NUL bytes, lone
surrogates, control characters, CR/LF, non-ASCII and great lengths; bytes that are not
UTF-8; JSON of the wrong types or nested deep; base64 that is not. Each strategy mixes in
valid values, so that requests also get past the first check to the code behind it."""

from __future__ import annotations

import base64
import json
from functools import cache
from typing import Any
from urllib.parse import quote_from_bytes

from hypothesis import strategies as st

PIECES = ["\x00", "\ud800", "\udfff", "\r\n", "\r", "\n", "\t", "\x1b", "\x7f", "\x85",
          "\u2028", "\u202e", "\ufeff", "\uffff", '"', "\\", "'", "<script>", "%", "%00",
          "%0d%0a", "../", "é", "日本", "😀", " ", "=", "&", "#", "?", "/", "@", ":", "[", "]",
          "{", "}", "http://[127.0.0.1]/", "javascript:", "0", "-1", "1e309", "null", "true"]

piece = st.sampled_from(PIECES)
# Hypothesis leaves lone surrogates out of text unless asked: ask.
any_char = st.one_of(st.characters(), st.characters(categories=["Cs"]))


@cache
def hostile_text(valid: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    """Text a platform or a browser could send, from plausible to absurd."""
    options: list[st.SearchStrategy[str]] = [
        st.lists(st.one_of(piece, st.text(any_char, max_size=4)), max_size=8).map("".join),
        st.text(any_char, max_size=40),
        st.builds(lambda p, n: p * n, piece, st.integers(100, 3000)),
        st.integers(1, 20_000).map(lambda n: "a" * n),
    ]
    if valid:
        good = st.sampled_from(valid)
        options.append(good)
        options.append(st.builds(lambda v, p: v + p, good, piece))
    return st.one_of(*options)


def to_bytes(text: str) -> bytes:
    """As a client would put it on the wire: UTF-8, lone surrogates included."""
    return text.encode("utf-8", "surrogatepass")


raw_bytes = st.binary(max_size=64)


def percent_encode(fields: list[tuple[str, str | bytes]]) -> str:
    """A query string or form body, with bytes that may not be UTF-8 at all."""
    return "&".join(
        quote_from_bytes(name if isinstance(name, bytes) else to_bytes(name), safe="")
        + "=" + quote_from_bytes(value if isinstance(value, bytes) else to_bytes(value),
                                 safe="")
        for name, value in fields)


@cache
def header_value(valid: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    """A header as WSGI hands it over (bytes read as latin-1), without CR, LF or NUL,
    which no HTTP server lets through."""
    return hostile_text(valid).map(
        lambda text: to_bytes(text).decode("latin-1").translate({0: None, 10: None, 13: None}))


def basic(user: str | bytes, password: str | bytes) -> str:
    raw = (user if isinstance(user, bytes) else to_bytes(user)) + b":" + (
        password if isinstance(password, bytes) else to_bytes(password))
    return "Basic " + base64.b64encode(raw).decode()


@cache
def authorization(valid_basic: tuple[str, ...],
                  valid_bearer: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Credentials right and wrong: garbage base64, base64 of non-UTF-8, no colon."""
    texts = hostile_text()
    return st.one_of(
        st.sampled_from([f"Basic {b}" for b in valid_basic]
                        + [f"Bearer {t}" for t in valid_bearer]),
        st.builds(basic, st.one_of(texts, raw_bytes), st.one_of(texts, raw_bytes)),
        st.builds(lambda b: "Basic " + base64.b64encode(b).decode(), raw_bytes),
        header_value().map(lambda v: "Basic " + v),
        header_value().map(lambda v: "Bearer " + v),
        header_value(),
    )


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                      hostile_text())
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(hostile_text(), inner, max_size=4)),
    max_leaves=12)


def json_body(fields: dict[str, list[Any]]) -> st.SearchStrategy[bytes]:
    """A JSON document: the right fields with values of any type, deep nesting, or
    something that is not JSON at all."""
    field = st.sampled_from(sorted(fields))
    document = st.dictionaries(
        st.one_of(field, hostile_text()),
        st.one_of(json_value, field.flatmap(lambda f: st.sampled_from(fields[f] or [None]))),
        max_size=len(fields) + 2)
    return st.one_of(
        document.map(lambda d: json.dumps(d).encode()),
        json_value.map(lambda d: json.dumps(d).encode()),
        st.integers(100, 100_000).map(lambda n: b"[" * n + b"]" * n),
        st.integers(100, 100_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
        raw_bytes,
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_jwt(header: Any, claims: Any) -> str:
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()),
                     b64(b"not a signature")])


@cache
def signed_proof_key() -> Any:
    from joserfc.jwk import ECKey

    return ECKey.generate_key("P-256")


def signed_proof(claims: dict[str, Any]) -> str:
    """A proof with a valid signature and hostile claims, so the claim checks are reached."""
    from joserfc import jws

    key = signed_proof_key()
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    # Escaped JSON: lone surrogates in claims stay representable, as on the wire.
    return jws.serialize_compact(header, json.dumps(claims).encode(), key,
                                 algorithms=["ES256"])


PROOF_CLAIMS: dict[str, list[Any]] = {"jti": ["j"], "htm": ["GET", "POST"], "iat": [0, 1e309, "1"],
                "htu": ["https://idp.test/token", "https://idp.test/userinfo"], "ath": ["x"]}


@cache
def dpop_proof() -> st.SearchStrategy[str]:
    """A ``DPoP`` header (RFC 9449): garbage, JWTs with hostile headers (wrong typ, alg,
    jwk of the wrong kind or with private parts), or signed ones with hostile claims."""
    headers = st.fixed_dictionaries({}, optional={
        "typ": st.sampled_from(["dpop+jwt", "JWT"]) | hostile_text(),
        "alg": st.sampled_from(["ES256", "RS256", "none", "HS256"]) | hostile_text(),
        "jwk": json_value | st.just({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"})
        | st.just({"kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "AQ"}),
    })
    claims = st.dictionaries(st.sampled_from(sorted(PROOF_CLAIMS)) | hostile_text(),
                             json_value | st.sampled_from(
                                 [v for vs in PROOF_CLAIMS.values() for v in vs]),
                             max_size=6)
    return st.one_of(
        header_value(("eyJhbGciOiJub25lIn0.e30.", "a.b.c")),
        st.builds(unsigned_jwt, headers | json_value, claims | json_value),
        claims.map(signed_proof),
    )

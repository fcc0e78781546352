"""The one guard on every request the provider makes to an address a platform chose
(idp.outbound, idp.addresses): only globally routable addresses in any spelling, loopback
outside production only, no redirect, a size cap, short timeouts, a bounded number in
flight. A local listener counts connections: a refused address is never connected to."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask

from idp import outbound
from idp.addresses import check_address
from tests.platform_server import PlatformServer, no_loopback, platform_server  # noqa: F401

# Every way of writing this host's loopback that a resolver reads as such.
LOOPBACK_SPELLINGS = ["127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1",
                      "0x7f.1", "127.0.0.2", "[::ffff:7f00:1]", "[::ffff:127.0.0.1]",
                      "localhost"]
# Refused everywhere, in development too: these reach the local host or the network inside.
INTERNAL = ["0.0.0.0", "[::]", "0", "169.254.169.254", "[::ffff:169.254.169.254]",  # noqa: S104
            "[64:ff9b::a9fe:a9fe]", "[2002:a9fe:a9fe::]", "[::a9fe:a9fe]", "10.0.0.1",
            "192.168.1.1", "172.16.0.1", "100.64.0.1", "[fd00::1]", "[fe80::1]",
            "[fec0::1]", "224.0.0.1", "[ff02::1]", "255.255.255.255", "198.18.0.1",
            "[2001:db8::1]", "[::ffff:10.0.0.1]"]


@pytest.mark.parametrize(("address", "in_production", "in_development"), [
    ("8.8.8.8", True, True),
    ("2606:4700:4700::1111", True, True),
    ("::ffff:8.8.8.8", True, True),
    ("64:ff9b::808:808", True, True),  # NAT64 of a public address (RFC 6052)
    ("127.0.0.1", False, True),
    ("127.255.0.9", False, True),
    ("::1", False, True),
    ("::ffff:127.0.0.1", False, True),
    ("64:ff9b::7f00:1", False, False),  # NAT64 of loopback is not this host
    *[(a.strip("[]"), False, False) for a in INTERNAL if a != "0"],
])
def test_only_globally_routable_addresses_are_reached(
        address: str, in_production: bool, in_development: bool) -> None:
    parsed = ip_address(address)

    assert check_address(parsed, allow_loopback=False) is in_production
    assert check_address(parsed, allow_loopback=True) is in_development


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS + INTERNAL)
def test_no_spelling_of_an_internal_address_is_reached_in_production(
        no_loopback: Flask, platform_server: Callable[..., PlatformServer], host: str) -> None:
    server = platform_server(body=b"[]")

    with pytest.raises(outbound.FetchError) as error:
        outbound.get(server.url(host=host))
    with pytest.raises(outbound.FetchError):
        outbound.post_form(server.url(host=host), {"logout_token": "t"})

    assert error.value.reason == "AddressRefused"
    assert server.connections == 0


@pytest.mark.parametrize("host", INTERNAL)
def test_internal_addresses_are_refused_in_development_too(
        app: Flask, platform_server: Callable[..., PlatformServer], host: str) -> None:
    server = platform_server(body=b"[]")

    with pytest.raises(outbound.FetchError) as error:
        outbound.get(server.url(host=host))

    assert error.value.reason == "AddressRefused"
    assert server.connections == 0


def test_loopback_is_reached_outside_production(
        app: Flask, platform_server: Callable[..., PlatformServer]) -> None:
    server = platform_server(body=b'["https://carpool.example/cb"]')

    assert outbound.get(server.url()) == b'["https://carpool.example/cb"]'
    assert outbound.post_form(server.url(host="localhost"), {"logout_token": "t"}) == 200
    assert server.connections == 2


def test_production_never_reaches_loopback_whatever_the_setting(
        app: Flask, platform_server: Callable[..., PlatformServer]) -> None:
    server = platform_server(body=b"[]")
    settings = app.extensions["idp.settings"]
    app.extensions["idp.settings"] = replace(settings, env="production",
                                             outbound_allow_loopback=True)
    try:
        with pytest.raises(outbound.FetchError):
            outbound.get(server.url())
    finally:
        app.extensions["idp.settings"] = settings
    assert server.connections == 0


def test_a_redirect_is_not_followed(app: Flask,
                                    platform_server: Callable[..., PlatformServer]) -> None:
    inside = platform_server(body=b"[]")
    redirector = platform_server(status=302, headers={"Location": inside.url()})

    with pytest.raises(outbound.FetchError) as error:
        outbound.get(redirector.url())

    assert error.value.reason == "TooManyRedirects"  # the session follows none
    assert inside.connections == 0


def test_only_a_200_answer_is_read_and_its_status_is_not_told(
        app: Flask, platform_server: Callable[..., PlatformServer]) -> None:
    server = platform_server(status=404, body=b"internal admin console")

    with pytest.raises(outbound.FetchError) as error:
        outbound.get(server.url())

    assert "404" not in str(error.value) and "admin" not in str(error.value)


def test_a_document_over_the_size_cap_is_refused(
        app: Flask, platform_server: Callable[..., PlatformServer]) -> None:
    server = platform_server(body=b"[" + b" " * outbound.MAX_BYTES + b"]")

    with pytest.raises(outbound.FetchError) as error:
        outbound.get(server.url())

    assert error.value.reason == "TooLarge"


def test_a_silent_platform_is_given_up_after_the_timeout(
        app: Flask, platform_server: Callable[..., PlatformServer]) -> None:
    app.extensions["idp.settings"] = replace(app.extensions["idp.settings"],
                                             outbound_timeout=0.3)
    server = platform_server(body=b"[]", delay=3)
    started = time.monotonic()

    with pytest.raises(outbound.FetchError) as error:
        outbound.get(server.url())

    assert error.value.reason == "ReadTimeout"
    assert time.monotonic() - started < 2


def test_when_every_slot_is_busy_a_request_fails_at_once(
        app: Flask, platform_server: Callable[..., PlatformServer]) -> None:
    server = platform_server(body=b"[]")
    with ExitStack() as held:
        for _ in range(outbound.SLOTS):
            held.enter_context(outbound.slot())
        started = time.monotonic()
        with pytest.raises(outbound.Busy):
            outbound.get(server.url())
        assert time.monotonic() - started < 0.5
    assert server.connections == 0
    assert outbound.get(server.url()) == b"[]"  # the slots are free again


def test_a_session_that_is_not_the_guards_is_refused(
        app: Flask, platform_server: Callable[..., PlatformServer]) -> None:
    server = platform_server(body=b"[]")

    with requests.Session() as plain, pytest.raises(TypeError):
        outbound.post_form(server.url(), {"logout_token": "t"}, session=plain)

    assert server.connections == 0


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """A certificate for ``name`` and its key, the certificate being its own CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_checks_the_name_while_connecting_to_the_checked_address(
        app: Flask, platform_server: Callable[..., PlatformServer], tmp_path: Path) -> None:
    """The connection goes to the address resolved and checked, and the certificate is
    still verified against the host name of the URI, not against that address."""
    cert, key = self_signed(tmp_path, "localhost")
    server = platform_server(body=b"[]")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)

    with outbound.new_session() as session:
        session.verify = str(cert)  # our test CA instead of the system's
        assert outbound.get(f"https://localhost:{server.port}/doc", session=session) == b"[]"
        with pytest.raises(outbound.FetchError) as error:
            outbound.get(f"https://127.0.0.1:{server.port}/doc", session=session)

    assert error.value.reason == "SSLError"  # the certificate does not name 127.0.0.1

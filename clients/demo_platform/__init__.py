"""A demo platform of the federation: a small relying party that logs travellers in with
Mobility ID, the way any carpool site would, with Authlib's Flask client.

It knows only the provider's issuer and its own registration; it never imports the
provider's code. ``idp demo platforms`` runs two of them, a regional and a national
carpool site, to walk through Umberto's story (shared/CONTEXT.md)."""

from clients.demo_platform.app import Partner, PlatformConfig, create_app

__all__ = ["Partner", "PlatformConfig", "create_app"]

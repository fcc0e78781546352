"""The OAuth 2.0 and OpenID Connect core, on Authlib."""

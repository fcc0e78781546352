"""Travellers' accounts: sign-up, login, the browser session, the profile."""

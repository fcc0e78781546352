"""The platform's pages: plain server-rendered HTML, no JavaScript, in French (this is a
French regional demo; its words are not part of the provider's catalogue). Kept here
as strings so that the package needs no data files to be installed."""

BASE = """<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}{{ platform.name }}{% endblock %}</title>
<style>
body { font: 1.125rem/1.5 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto;
       padding: 0 1rem; color: #1a1a1a; }
a, button { font: inherit; }
.button { display: inline-block; padding: .6rem 1.2rem; background: #0b5394; color: #fff;
          border: 0; border-radius: .3rem; text-decoration: none; cursor: pointer; }
.button:focus, a:focus { outline: 3px solid #f1c232; outline-offset: 2px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }
dt { font-weight: bold; }
.notice { border-left: .3rem solid #0b5394; padding-left: .8rem; }
</style>
</head>
<body>
<header><p><a href="{{ url_for('platform.home') }}">{{ platform.name }}</a>
 · plateforme de démonstration</p></header>
<main>
{% with messages = get_flashed_messages() %}{% for message in messages %}
<p class="notice" role="status">{{ message }}</p>
{% endfor %}{% endwith %}
{% block main %}{% endblock %}
</main>
</body>
</html>
"""

HOME = """{% extends "base.html" %}
{% block main %}
<h1>{{ platform.name }}</h1>
{% if local %}
<p>Vous êtes connecté·e{% if local.claims.nickname %} en tant que
 <strong>{{ local.claims.nickname }}</strong>{% endif %}.</p>
<p><a href="{{ url_for('platform.profile') }}">Voir ce que {{ platform.name }} sait de vous</a></p>
{% include "logout_form.html" %}
{% else %}
<p>Trouvez un covoiturage avec votre compte Mobility ID : pas de nouveau mot de passe.</p>
<p><a class="button" href="{{ url_for('platform.login') }}">Se connecter avec Mobility ID</a></p>
{% endif %}
{% endblock %}
"""

PROFILE = """{% extends "base.html" %}
{% block title %}Votre profil · {{ platform.name }}{% endblock %}
{% block main %}
<h1>Ce que {{ platform.name }} a reçu de Mobility ID</h1>
<p>Mobility ID a transmis ces informations, et seulement celles-ci, avec votre accord.</p>
<dl>
{% for label, name, value in claims %}
<dt>{{ label }}</dt><dd>{{ value }} <small>({{ name }})</small></dd>
{% endfor %}
</dl>
{% include "logout_form.html" %}
{% endblock %}
"""

LOGOUT_FORM = """<form method="post" action="{{ url_for('platform.logout') }}">
<input type="hidden" name="csrf" value="{{ csrf }}">
<button class="button" type="submit">Se déconnecter de {{ platform.name }}</button>
</form>
"""

ERROR = """{% extends "base.html" %}
{% block title %}Connexion interrompue · {{ platform.name }}{% endblock %}
{% block main %}
<h1>La connexion n'a pas abouti</h1>
<p>{{ message }}</p>
<p><a class="button" href="{{ url_for('platform.login') }}">Réessayer</a></p>
{% endblock %}
"""

POLICY = """{% extends "base.html" %}
{% block title %}{{ title }} · {{ platform.name }}{% endblock %}
{% block main %}
<h1>{{ title }}</h1>
<p>{{ platform.name }} est une plateforme de démonstration de Mobility ID. Elle ne garde
rien sur disque : ce que Mobility ID lui transmet reste en mémoire le temps de votre
session, et disparaît quand vous vous déconnectez, quand vous retirez votre accord dans
Mobility ID, ou quand elle s'arrête.</p>
<p><a href="{{ url_for('platform.home') }}">Retour à l'accueil</a></p>
{% endblock %}
"""

TEMPLATES = {
    "base.html": BASE,
    "home.html": HOME,
    "profile.html": PROFILE,
    "logout_form.html": LOGOUT_FORM,
    "error.html": ERROR,
    "policy.html": POLICY,
}

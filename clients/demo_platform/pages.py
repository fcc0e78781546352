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
 <strong>{{ local.claims.nickname|string|trim(".") }}</strong>{% endif %}.</p>
<p><a href="{{ url_for('platform.profile') }}">Voir ce que {{ platform.name }} sait de vous</a></p>
{% include "stopped_notice.html" %}
{% include "partner_link.html" %}
{% if platform.api %}
<h2>Vos réservations</h2>
{% for booking in bookings %}
<p>{{ booking.trip.origin }} → {{ booking.trip.destination }}, le {{ booking.trip.as_json().date }}
 à {{ booking.trip.departs_at }}, avec {{ booking.trip.driver.rstrip('.') }}.
 Rendez-vous : {{ booking.meeting_point or "à convenir avec le conducteur" }}.
{% if booking.actor %}<small>(réservé pour vous par une autre plateforme, avec votre
 accord)</small>{% endif %}</p>
{% else %}
<p>Aucune réservation pour le moment.</p>
{% endfor %}
{% endif %}
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
{% include "partner_link.html" %}
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

PARTNER_LINK = """{% if platform.partner %}
<p><a href="{{ url_for('rides.listing') }}">Voir les trajets sur {{ platform.partner.name }}</a></p>
{% endif %}
"""

RIDES = """{% extends "base.html" %}
{% block title %}Trajets sur {{ partner.name }} · {{ platform.name }}{% endblock %}
{% block main %}
<h1>Trajets sur {{ partner.name }}</h1>
{% include "stopped_notice.html" %}
<p>Nous réservons pour vous sur {{ partner.name }}, comme vous l’avez permis. Votre point
de rendez-vous habituel : <strong>{{ partner.meeting_point }}</strong>.</p>
<ul>
{% for trip in trips %}
<li id="trip-{{ trip.id }}">
<p><strong>{{ trip.from }} → {{ trip.to }}</strong>, le {{ trip.date }} à {{ trip.departs_at }},
avec {{ trip.driver }} : {{ trip.seats }} place(s), {{ trip.price_eur }} €.</p>
<form method="post" action="{{ url_for('rides.book') }}">
<input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="trip_id" value="{{ trip.id }}">
<button class="button" type="submit">Réserver {{ trip.from }} → {{ trip.to }}</button>
</form>
</li>
{% else %}
<li>Aucun trajet pour le moment.</li>
{% endfor %}
</ul>
{% endblock %}
"""

BOOKED = """{% extends "base.html" %}
{% block title %}Réservation confirmée · {{ platform.name }}{% endblock %}
{% block main %}
<h1>Votre place est réservée</h1>
<p>{{ partner.name }} a enregistré votre place : <strong>{{ booking.trip.from }} →
{{ booking.trip.to }}</strong>, le {{ booking.trip.date }} à {{ booking.trip.departs_at }},
avec {{ booking.trip.driver.rstrip('.') }}.</p>
<p>Rendez-vous : <strong>{{ booking.meeting_point }}</strong>.</p>
<p><a href="{{ url_for('rides.listing') }}">Voir les autres trajets</a></p>
{% endblock %}
"""

PARTNER_ERROR = """{% extends "base.html" %}
{% block title %}{{ partner.name }} · {{ platform.name }}{% endblock %}
{% block main %}
<h1>Trajets sur {{ partner.name }}</h1>
{% include "stopped_notice.html" %}
{% if reason == "stopped" %}
<p>{{ partner.name }} n’accepte plus nos réservations pour vous. Vous pouvez l’autoriser
à nouveau.</p>
<p><a class="button" href="{{ url_for('platform.login') }}">Se connecter à nouveau</a></p>
{% elif reason == "session" %}
<p>Votre session a pris fin. Connectez-vous à nouveau.</p>
<p><a class="button" href="{{ url_for('platform.login') }}">Se connecter à nouveau</a></p>
{% elif reason == "gone" %}
<p>Ce trajet n’est plus proposé.</p>
<p><a href="{{ url_for('rides.listing') }}">Voir les autres trajets</a></p>
{% else %}
<p>{{ partner.name }} ne répond pas. Réessayez plus tard.</p>
<p><a href="{{ url_for('rides.listing') }}">Réessayer</a></p>
{% endif %}
{% endblock %}
"""

# Told by the provider (a security event: views.security_event) that the traveller
# stopped a delegation between the two platforms; said on the pages it concerns.
STOPPED_NOTICE = """{% if stopped %}<p class="notice" id="delegation-stopped">
{%- if platform.partner -%}
Vous avez arrêté nos réservations sur {{ platform.partner.name }} le {{ stopped.day }}.
{%- else -%}
{{ platform.actor_name(stopped.actor) }} ne réserve plus pour vous (arrêté le {{ stopped.day }}).
{%- endif %}</p>
{% endif %}"""

TEMPLATES = {
    "base.html": BASE,
    "home.html": HOME,
    "profile.html": PROFILE,
    "logout_form.html": LOGOUT_FORM,
    "error.html": ERROR,
    "policy.html": POLICY,
    "partner_link.html": PARTNER_LINK,
    "rides.html": RIDES,
    "booked.html": BOOKED,
    "partner_error.html": PARTNER_ERROR,
    "stopped_notice.html": STOPPED_NOTICE,
}

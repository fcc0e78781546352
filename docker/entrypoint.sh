#!/bin/sh
# Mobility ID's container entrypoint. One image, several roles:
#   serve      (default) migrate the database, then gunicorn with idp/gunicorn_conf.py
#   migrate    only `idp db upgrade` (the compose file's one-shot service)
#   worker     `idp outbox work`: back-channel logout and mail deliveries
#   scheduler  hourly: `idp sessions prune`, `idp users prune`, and a signing-key
#              rotation once the active key is IDP_KEY_ROTATION_DAYS old (default 90)
#   anything else runs as a command: `idp clients create ...`, `sh`
# Several instances may start together: `idp db upgrade` holds a PostgreSQL advisory
# lock (idp/migrations/env.py), so the migrations run once and the others wait.
# Settings come from IDP_* variables, or IDP_*_FILE for secrets (idp/settings.py).
set -eu

migrate() {
    idp db upgrade
}

# Runs in the foreground as PID 1's child; a stop signal ends the loop between or
# during the waits (the sleep runs in the background so that the trap fires at once).
scheduler() {
    interval="${IDP_SCHEDULER_INTERVAL:-3600}"
    days="${IDP_KEY_ROTATION_DAYS:-90}"
    trap 'echo "scheduler: stopped"; exit 0' TERM INT
    while :; do
        idp sessions prune || echo "scheduler: idp sessions prune failed" >&2
        idp users prune || echo "scheduler: idp users prune failed" >&2
        idp advisors expire || echo "scheduler: idp advisors expire failed" >&2
        for alg in RS256 ES256; do
            idp keys rotate --alg "$alg" --if-older-than "$days" \
                || echo "scheduler: idp keys rotate --alg $alg failed" >&2
        done
        sleep "$interval" &
        wait $! || true
    done
}

role="${1:-serve}"
[ "$#" -gt 0 ] && shift

case "$role" in
    serve)
        migrate
        exec gunicorn -c python:idp.gunicorn_conf "$@" idp.wsgi:app
        ;;
    migrate)
        migrate
        ;;
    worker)
        exec idp outbox work "$@"
        ;;
    scheduler)
        scheduler
        ;;
    *)
        exec "$role" "$@"
        ;;
esac

#!/bin/sh
# Writes the secrets docker/compose.yaml mounts, each a random value in its own file,
# once: an existing file is kept (replacing the key encryption key would make every
# stored signing key unreadable). Run from anywhere: sh docker/secrets/generate.sh
set -eu
cd "$(dirname "$0")"
umask 077

# 32 random bytes, URL-safe base64 without padding: what `idp` expects for its keys.
random_key() {
    head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

write() {  # name value
    if [ -s "$1" ]; then
        echo "kept      docker/secrets/$1"
        return
    fi
    printf '%s\n' "$2" > "$1"
    # Readable inside the containers, whose users are not the host's (compose mounts
    # the file as it is); the directory itself stays private to its owner.
    chmod 0644 "$1"
    echo "generated docker/secrets/$1"
}

chmod 0700 .
write idp_secret_key "$(random_key)"
write idp_key_encryption_key "$(random_key)"
write postgres_password "$(random_key)"
write idp_metrics_token "$(random_key)"
write idp_database_url "postgresql+psycopg://idp:$(cat postgres_password)@db:5432/idp"

#!/usr/bin/env bash
# The local PostgreSQL the tests need (make test calls this; CI starts from a clean machine):
# start the server if it is down, and keep one role that must give a password, so the
# wrong-password test meets a real authentication failure. Every other local connection keeps
# the machine's own rules (trust for user postgres). Idempotent.
set -euo pipefail
version=$(ls /etc/postgresql | head -n 1)
hba=/etc/postgresql/$version/main/pg_hba.conf
role=ressearch_auth

pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect "$version" main start
for _ in $(seq 1 20); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not answering on 127.0.0.1:5432" >&2; exit 1; }

if ! grep -q "^host all $role " "$hba"; then
  # First match wins in pg_hba.conf: this line goes above the trust lines.
  sed -i "1i host all $role 127.0.0.1/32 scram-sha-256" "$hba"
  psql -q -h 127.0.0.1 -U postgres -c "SELECT pg_reload_conf()" >/dev/null
fi
if [ -z "$(psql -tA -h 127.0.0.1 -U postgres -c "SELECT 1 FROM pg_roles WHERE rolname = '$role'")" ]; then
  # The password is a random one nobody needs: the tests only ever give a wrong one.
  psql -q -h 127.0.0.1 -U postgres -c "CREATE ROLE $role LOGIN PASSWORD '$(head -c 18 /dev/urandom | base64)'"
fi

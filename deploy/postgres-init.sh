#!/bin/sh
# Run by the postgres image once, when its volume is new (/docker-entrypoint-initdb.d): the bot's
# own database user. An ordinary role (not a superuser) that owns the councilbot database, so
# `councilbot db upgrade` can make the tables and row-level security applies to every query.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$COUNCILBOT_DB_PASSWORD" -v dbname="$POSTGRES_DB" <<'SQL'
CREATE ROLE councilbot LOGIN PASSWORD :'password';
ALTER DATABASE :"dbname" OWNER TO councilbot;
SQL

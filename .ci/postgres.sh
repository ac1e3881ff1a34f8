#!/usr/bin/env bash
# PostgreSQL 15 with pgvector for the test suite's PostgreSQL run (issue #6). Idempotent: a machine
# that already has both is left as it is.
#
# Why Debian's PostgreSQL and pgvector built from source: bookworm ships PostgreSQL 15 (the oldest
# version Papertrend supports, and what an operator on Debian stable gets) but no pgvector package.
# pgvector builds in ~20 s from Debian's own source package (trixie), fetched through a sources list
# of its own so the system's apt sources stay untouched. The build uses postgresql-server-dev-15 at
# the installed server's exact version, and OPTFLAGS="" (no -march=native) so it runs on any x86-64.
# The fixture in tests/conftest.py starts its own throwaway cluster from these binaries; nothing here
# starts a server.
set -euo pipefail

# The server the suite will use (tests/pgcluster.py takes the newest under /usr/lib/postgresql); with
# none installed, the distribution's default, chosen after `apt-get update` below (#11: 15 on
# bookworm, 16 on Ubuntu 24.04, 17 on trixie).
PG_MAJOR="${PG_MAJOR:-$({ find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' 2>/dev/null || true; } \
  | sed 's#^/usr/lib/postgresql/\([0-9]*\)/.*#\1#' | sort -n | tail -n1)}"
BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
EXT="/usr/share/postgresql/$PG_MAJOR/extension/vector.control"

if [ -x "$BIN/postgres" ] && [ -f "$EXT" ]; then
  echo "postgres.sh: PostgreSQL $PG_MAJOR and pgvector $(sed -n "s/^default_version = '\(.*\)'/\1/p" "$EXT") already installed"
  exit 0
fi

# Installing needs root: sudo when it can ask (a terminal) or need not (NOPASSWD), else one line
# naming the command (#11: `make test` calls this on a fresh machine).
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && { [ -t 0 ] || sudo -n true 2>/dev/null; }; then
    exec sudo PG_MAJOR="$PG_MAJOR" bash "$0"
  fi
  echo "postgres.sh: PostgreSQL ${PG_MAJOR:-(none)} with pgvector is missing and installing it needs root: sudo bash .ci/postgres.sh" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }

apt-get update -qq
if [ -z "$PG_MAJOR" ]; then
  PG_MAJOR="$(apt-cache depends postgresql 2>/dev/null | sed -n 's/.*Depends: postgresql-\([0-9][0-9]*\)$/\1/p' | head -n1)"
  PG_MAJOR="${PG_MAJOR:-15}"
  BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
  EXT="/usr/share/postgresql/$PG_MAJOR/extension/vector.control"
fi
if [ ! -x "$BIN/postgres" ]; then
  apt_install "postgresql-$PG_MAJOR"
fi
# Where the archive has pgvector for this server (Ubuntu, Debian trixie, apt.postgresql.org), take it.
if apt-cache show "postgresql-$PG_MAJOR-pgvector" >/dev/null 2>&1 && apt_install "postgresql-$PG_MAJOR-pgvector" \
  && [ -f "$EXT" ]; then
  echo "postgres.sh: installed PostgreSQL $PG_MAJOR and its pgvector package"
  exit 0
fi
version="$(dpkg-query -W -f='${Version}' "postgresql-$PG_MAJOR")"
# The headers must match the server that loads the extension; when the archive has moved on since the
# server was installed, take both at the archive's version instead.
apt_install build-essential dpkg-dev "postgresql-server-dev-$PG_MAJOR=$version" \
  || apt_install build-essential dpkg-dev "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"  # apt fetches as the _apt user
# The same mirror the system uses for bookworm, asked for trixie's sources.
mirror="$(awk '$1 == "URIs:" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
if [ -z "$mirror" ]; then
  mirror="$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
fi
if [ -z "$mirror" ]; then
  echo "postgres.sh: no Debian mirror found in the apt sources" >&2
  exit 1
fi
mkdir -p "$work/lists/partial" "$work/parts"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$work/sources.list"
apt_own=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=$work/parts"
  -o "Dir::State::Lists=$work/lists")
apt-get "${apt_own[@]}" update -qq
(cd "$work" && apt-get "${apt_own[@]}" source -qq pgvector >/dev/null)
src="$(find "$work" -maxdepth 1 -type d -name 'pgvector-*' | head -n1)"
make -s -C "$src" PG_CONFIG="$BIN/pg_config" OPTFLAGS="" >/dev/null
make -s -C "$src" PG_CONFIG="$BIN/pg_config" install >/dev/null
echo "postgres.sh: installed pgvector $(basename "$src" | sed 's/^pgvector-//') for PostgreSQL $version"

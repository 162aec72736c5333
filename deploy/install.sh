#!/bin/sh
# Install or upgrade Tagbridge as a systemd service. Idempotent: run it again
# with a new binary to upgrade; the config and the PKI are never overwritten.
#
#   sudo sh deploy/install.sh [--no-start] [BINARY]
#
# BINARY defaults to ./tagbridge. With DESTDIR set (packaging, tests), files
# go under $DESTDIR and no user, ownership or systemctl change is made.
set -eu

usage() {
	echo "usage: $0 [--no-start] [BINARY]" >&2
	exit 1
}

start=yes
bin=./tagbridge
while [ $# -gt 0 ]; do
	case "$1" in
	--no-start) start=no ;;
	-h | --help) usage ;;
	-*) echo "install.sh: unknown option $1" >&2; usage ;;
	*) bin=$1 ;;
	esac
	shift
done

here=$(cd "$(dirname "$0")" && pwd)
D=${DESTDIR:-}
unit_src=$here/tagbridge.service
example_src=$here/tagbridge.example.yaml
doc_src=$here/../docs/install.md

bindir=$D/usr/local/bin
confdir=$D/etc/tagbridge
statedir=$D/var/lib/tagbridge
unitdir=$D/etc/systemd/system
docdir=$D/usr/local/share/doc/tagbridge

log() { echo "install.sh: $*"; }
die() { echo "install.sh: $*" >&2; exit 1; }

[ -f "$bin" ] || die "binary $bin not found (pass its path, e.g. dist/tagbridge-linux-amd64)"
[ -f "$unit_src" ] || die "unit $unit_src not found"
if [ -z "$D" ] && [ "$(id -u)" -ne 0 ]; then
	die "run as root (sudo), or set DESTDIR to stage the files"
fi
# A binary for the wrong architecture fails here, before anything changes.
"$bin" version >/dev/null 2>&1 || die "$bin does not run on this machine (wrong architecture?)"

# 1. The service user: a system account without a login shell or home.
if [ -z "$D" ]; then
	getent group tagbridge >/dev/null || groupadd --system tagbridge
	if ! getent passwd tagbridge >/dev/null; then
		useradd --system --gid tagbridge --home-dir /var/lib/tagbridge --no-create-home \
			--shell /usr/sbin/nologin --comment "Tagbridge gateway" tagbridge
		log "created system user tagbridge"
	fi
	# The unit adds group dialout for serial ports; some distributions name
	# that group uucp, and systemd refuses to start with an unknown group.
	if ! getent group dialout >/dev/null; then
		if getent group uucp >/dev/null; then
			mkdir -p "$unitdir/tagbridge.service.d"
			printf '[Service]\nSupplementaryGroups=\nSupplementaryGroups=uucp\n' \
				>"$unitdir/tagbridge.service.d/serial-group.conf"
			log "serial ports use group uucp on this system (drop-in serial-group.conf)"
		else
			groupadd --system dialout
		fi
	fi
fi

# 2. Directories: config readable by the service only; state owned by it.
install -d -m 0755 "$bindir" "$unitdir"
install -d -m 0750 "$confdir" "$statedir" "$statedir/pki"
if [ -z "$D" ]; then
	chown root:tagbridge "$confdir"
	chown -R tagbridge:tagbridge "$statedir"
fi

# 3. The binary, replaced atomically: a running service keeps its old file
# until it restarts.
install -m 0755 "$bin" "$bindir/tagbridge.new"
mv -f "$bindir/tagbridge.new" "$bindir/tagbridge"
log "installed $bindir/tagbridge ($("$bindir/tagbridge" version 2>/dev/null | head -n 1))"

# 4. The config: installed once, never overwritten. It holds password
# hashes, so it is not world-readable.
config_ok=yes
if [ ! -e "$confdir/tagbridge.yaml" ]; then
	install -m 0640 "$example_src" "$confdir/tagbridge.yaml"
	[ -n "$D" ] || chgrp tagbridge "$confdir/tagbridge.yaml"
	log "installed an example config at $confdir/tagbridge.yaml: edit it for your devices"
elif ! "$bindir/tagbridge" validate --config "$confdir/tagbridge.yaml"; then
	config_ok=no
	log "WARNING: the new binary rejects $confdir/tagbridge.yaml (errors above); fix it before starting"
fi

# 5. The unit and the install notes.
install -m 0644 "$unit_src" "$unitdir/tagbridge.service"
if [ -f "$doc_src" ]; then
	install -d -m 0755 "$docdir"
	install -m 0644 "$doc_src" "$docdir/install.md"
fi

# 6. Enable, then start or restart (an upgrade). Skipped when staging or when
# systemd is not running (a container, an image build).
if [ -n "$D" ] || ! command -v systemctl >/dev/null 2>&1 || [ ! -d /run/systemd/system ]; then
	log "systemd not available here: not enabling the service"
	exit 0
fi
systemctl daemon-reload
systemctl enable tagbridge.service >/dev/null 2>&1
if [ "$start" = no ] || [ "$config_ok" = no ]; then
	log "enabled; start it with: systemctl start tagbridge"
elif systemctl is-active --quiet tagbridge.service; then
	systemctl restart tagbridge.service
	log "upgraded and restarted; logs: journalctl -u tagbridge -f"
else
	systemctl start tagbridge.service
	log "started; logs: journalctl -u tagbridge -f"
fi

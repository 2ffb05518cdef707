#!/bin/sh
# Install the configuration and prompts rendered by `callcenter asterisk render --dest DIR`
# (DIR/etc/asterisk, DIR/usr/share/asterisk/sounds), fix owners, then run the command (Asterisk).
set -eu

SRC="${ASTERISK_RENDERED_DIR:-/provisioned}"

if [ ! -f "$SRC/etc/asterisk/manager.conf" ]; then
  echo "asterisk-entrypoint: no rendered configuration in $SRC/etc/asterisk;" \
       "run the asterisk-config service (callcenter asterisk render --dest $SRC) first" >&2
  exit 1
fi

cp -R "$SRC/etc/asterisk/." /etc/asterisk/
if [ -d "$SRC/usr/share/asterisk/sounds" ]; then
  mkdir -p /usr/share/asterisk/sounds
  cp -R "$SRC/usr/share/asterisk/sounds/." /usr/share/asterisk/sounds/
fi

for d in /var/run/asterisk /var/log/asterisk /var/lib/asterisk /var/spool/asterisk/monitor; do
  mkdir -p "$d"
done
rm -f /var/run/asterisk/asterisk.ctl /var/run/asterisk/asterisk.pid
chown -R asterisk:asterisk /etc/asterisk /var/run/asterisk /var/log/asterisk /var/lib/asterisk \
  /var/spool/asterisk
chmod 0640 /etc/asterisk/manager.conf

exec "$@"

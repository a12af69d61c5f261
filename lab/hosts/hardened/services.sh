#!/bin/bash
# hvconform lab, hardened host: its own daemons and baselines, run by host-init.sh last,
# inside the host's namespaces (its process table, its /run, its config trees).
set -eu
mkdir -p /run/hvlab

# LOG-007, LOG-008: rsyslogd takes local messages on /run/hvlab/dev-log (/dev/log points
# there) and forwards them over TLS (/etc/rsyslog.d/60-hvlab-forward.conf)
rsyslogd -i /run/rsyslogd.pid

# HOST-015: usbguard with Debian's configuration and an empty rule set (block every
# device). This machine has no USB bus; sim/sys/bus/usb stands for an empty one, without
# which the daemon stops ("/sys/bus/usb/devices: No such file or directory").
usbguard-daemon -f -s -p /run/usbguard.pid -c /etc/usbguard/usbguard-daemon.conf

# HOST-018: the AIDE baseline of the virtualization stack (/etc/aide/aide.conf), made the
# way Debian's aideinit does; Debian's daily check is /etc/cron.daily/aide (aide-common)
aide --config /etc/aide/aide.conf --init >/dev/null
mv /var/lib/aide/aide.db.new /var/lib/aide/aide.db

# LOG-014: the host's resource metrics, as Debian's unit runs them (user prometheus), on
# loopback only (the exporter's default is every address). Not Debian's libvirt exporter:
# its package puts user prometheus into group libvirt, full libvirt management (LIBV-010).
setsid runuser -u prometheus -- prometheus-node-exporter --web.listen-address=127.0.0.1:9100 \
    </dev/null >>/var/log/prometheus-node-exporter.log 2>&1 &

# BKP-003: the nightly borgmatic job, run once now as /etc/cron.d/borgmatic would (no cron
# daemon runs here). Its repository (ssh://backup.example.org) is never reached: the name
# does not resolve in the lab, so the run fails at once, and borgmatic says so in syslog
# ("borgmatic: CRITICAL /etc/borgmatic/config.yaml: Error running configuration file").
PATH=$PATH:/usr/bin borgmatic --verbosity -1 --syslog-verbosity 1 </dev/null >/dev/null 2>&1 || true

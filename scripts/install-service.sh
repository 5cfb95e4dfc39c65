#!/bin/sh
# Installs pp as a system service: the binary, the service file for this machine's service manager (systemd,
# FreeBSD rc.d or launchd), a starter config that is never overwritten, and the unprivileged user pp runs as.
#
#   sudo sh scripts/install-service.sh --binary dist/pp
#   sh scripts/install-service.sh --binary dist/pp --dry-run          # print what would be done
#   sh scripts/install-service.sh --binary dist/pp --root /tmp/stage  # install under a staging root
#
# Options:
#   --binary PATH        the pp binary to install (default: dist/pp beside this script, else pp on PATH)
#   --init NAME          systemd, rcd or launchd instead of detecting it
#   --root DIR           install every file under DIR (as DESTDIR does); no user is created, nothing is started
#   --user NAME          the user pp runs as (default pp); the service files name pp, so change both together
#   --dry-run            print what would be done and change nothing
#   -h, --help           show this help

set -eu

say() { printf '%s\n' "$*"; }
die() {
	printf 'install-service.sh: error: %s\n' "$*" >&2
	exit 1
}
usage() {
	sed -n '2,/^$/p' "$0" 2>/dev/null | sed 's/^# \{0,1\}//'
}
need_value() {
	if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value"; fi
}

here=$(cd "$(dirname "$0")" && pwd)
binary=""
init=""
root=""
user="pp"
dry=0

while [ $# -gt 0 ]; do
	case "$1" in
	--binary) need_value "$@"; binary=$2; shift 2 ;;
	--binary=*) binary=${1#*=}; shift ;;
	--init) need_value "$@"; init=$2; shift 2 ;;
	--init=*) init=${1#*=}; shift ;;
	--root) need_value "$@"; root=$2; shift 2 ;;
	--root=*) root=${1#*=}; shift ;;
	--user) need_value "$@"; user=$2; shift 2 ;;
	--user=*) user=${1#*=}; shift ;;
	--dry-run) dry=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) die "unknown option $1 (see --help)" ;;
	esac
done

case "$user" in
"" | *[!A-Za-z0-9_-]*) die "--user must be a plain user name, got '$user'" ;;
esac

if [ -z "$binary" ]; then
	if [ -x "$here/../dist/pp" ]; then
		binary="$here/../dist/pp"
	elif command -v pp >/dev/null 2>&1; then
		binary=$(command -v pp)
	else
		die "no pp binary found; build one (bun run build) and pass --binary PATH"
	fi
fi
case "$binary" in
/*) ;;
*) binary="$(pwd)/$binary" ;;
esac
if [ ! -f "$binary" ] || [ ! -x "$binary" ]; then die "$binary is not an executable file; pass --binary PATH"; fi
version=$("$binary" --version 2>/dev/null) || die "$binary does not run on this machine (pp --version failed)"

if [ -z "$init" ]; then
	case "$(uname -s)" in
	Darwin) init=launchd ;;
	FreeBSD) init=rcd ;;
	*)
		if [ -d /run/systemd/system ] || command -v systemctl >/dev/null 2>&1; then
			init=systemd
		else
			die "no supported service manager found (systemd, FreeBSD rc.d, launchd); pass --init NAME"
		fi
		;;
	esac
fi

case "$init" in
systemd)
	service_src="$here/service/pp.service"
	service_dst=/etc/systemd/system/pp.service
	service_mode=0644
	etc=/etc/pp
	state=""   # StateDirectory= in the unit creates /var/lib/pp owned by the service user
	;;
rcd)
	service_src="$here/service/pp"
	service_dst=/usr/local/etc/rc.d/pp
	service_mode=0555
	etc=/usr/local/etc/pp
	state=/var/db/pp
	;;
launchd)
	service_src="$here/service/com.pp.serve.plist"
	service_dst=/Library/LaunchDaemons/com.pp.serve.plist
	service_mode=0644
	etc=/usr/local/etc/pp
	state=/usr/local/var/pp
	;;
*) die "unknown --init '$init': use systemd, rcd or launchd" ;;
esac
[ -f "$service_src" ] || die "missing $service_src; run this script from a checkout of pp"

bin_dst=/usr/local/bin/pp
config="$etc/pp.toml"

if [ -n "$root" ]; then
	case "$root" in
	/*) ;;
	*) root="$(pwd)/$root" ;;
	esac
	root=${root%/}
elif [ "$dry" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
	die "installing a system service needs root: run it with sudo, or pass --root DIR to stage the files"
fi

prefix=""
[ "$dry" -eq 1 ] && prefix="would: "

# Runs a command, or only prints it with --dry-run.
act() {
	if [ "$dry" -eq 1 ]; then
		say "${prefix}$*"
	else
		"$@"
	fi
}

# Copies $1 to $2 with mode $3 through a temporary file, so a running pp is never caught half-written.
put() {
	if [ "$dry" -eq 0 ]; then
		mkdir -p "$(dirname "$2")"
		cp "$1" "$2.new.$$"
		chmod "$3" "$2.new.$$"
		mv -f "$2.new.$$" "$2"
	fi
	say "${prefix}install $1 as $2 (mode $3)"
}

user_exists() { id "$user" >/dev/null 2>&1; }

create_user() {
	if [ -n "$root" ]; then
		say "skipped creating user $user: --root installs files only"
		return 0
	fi
	if user_exists; then
		say "user $user exists"
		return 0
	fi
	case "$init" in
	systemd)
		if command -v useradd >/dev/null 2>&1; then
			act useradd --system --user-group --home-dir /var/lib/pp --no-create-home --shell /usr/sbin/nologin --comment "pp daemon" "$user"
		elif command -v adduser >/dev/null 2>&1; then
			act addgroup -S "$user"
			act adduser -S -D -H -h /var/lib/pp -s /sbin/nologin -G "$user" "$user"
		else
			die "cannot create user $user (no useradd or adduser); create it, then run this again"
		fi
		;;
	rcd) act pw useradd "$user" -c "pp daemon" -d /nonexistent -s /usr/sbin/nologin ;;
	launchd)
		say "note: create the user $user first (System Settings, or dscl), then load the service"
		return 0
		;;
	esac
}

# A random token, so that the daemon never starts open; it stays in the config file, which only root and
# the service's group can read.
new_token() {
	od -An -tx1 -N24 /dev/urandom | tr -d ' \n'
}

write_config() {
	dst="$root$config"
	if [ -e "$dst" ]; then
		say "kept $dst (it exists; never overwritten)"
		return 0
	fi
	act mkdir -p "$root$etc"
	if [ "$dry" -eq 1 ]; then
		say "would: write $dst (mode 0640) with [serve] on 127.0.0.1:39270 and a new random token"
		return 0
	fi
	# Created unreadable to others before the token goes in.
	(umask 077 && : >"$dst.new.$$")
	cat >>"$dst.new.$$" <<EOF
# pp's config for the pp service. Add your channels, then start the service; see the README.
[serve]
listen = "127.0.0.1:39270"
tokens = ["$(new_token)"]

# [channels.ops]
# type = "wecom"
# webhook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=\${WECOM_KEY}"
EOF
	chmod 0640 "$dst.new.$$"
	mv "$dst.new.$$" "$dst"
	say "wrote $dst (mode 0640) with [serve] on 127.0.0.1:39270 and a new random token"
}

# The config holds webhook secrets and the API token: root owns it, the service's group may read it.
own_config() {
	act chmod 0750 "$root$etc"
	if [ -n "$root" ]; then return 0; fi
	if user_exists || [ "$dry" -eq 1 ]; then
		act chown "root:$(id -gn "$user" 2>/dev/null || echo "$user")" "$root$etc" "$root$config"
	fi
}

make_state_dir() {
	[ -n "$state" ] || return 0
	act mkdir -p "$root$state"
	act chmod 0750 "$root$state"
	if [ -z "$root" ] && { user_exists || [ "$dry" -eq 1 ]; }; then
		act chown "$user" "$root$state"
	fi
	say "${prefix}made $root$state (mode 0750) for the store"
}

say "pp: $version ($binary)"
say "service manager: $init${root:+ (under $root)}${prefix:+ (dry run: nothing is changed)}"
create_user
put "$binary" "$root$bin_dst" 0755
put "$service_src" "$root$service_dst" "$service_mode"
write_config
own_config
make_state_dir
if [ "$init" = launchd ] && [ -z "$root" ]; then
	act mkdir -p /usr/local/var/log
fi

if [ "$init" = systemd ] && [ -z "$root" ] && [ -d /run/systemd/system ]; then
	act systemctl daemon-reload
fi

say ""
say "next:"
say "  1. add your channels to $root$config (pp config check --config $root$config checks it)"
case "$init" in
systemd) say "  2. systemctl enable --now pp; then journalctl -u pp -f (reload: systemctl reload pp)" ;;
rcd) say "  2. sysrc pp_enable=YES && service pp start (reload: service pp reload)" ;;
launchd) say "  2. launchctl bootstrap system $service_dst (reload: launchctl kill HUP system/com.pp.serve)" ;;
esac

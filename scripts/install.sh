#!/bin/sh
# Installs pp from a release: picks the archive for this machine, checks it against SHA256SUMS,
# then installs the binary and the shell completions.
#
#   curl -fsSL https://example.com/pp/install.sh | sh -s -- --base-url https://example.com/pp/v0.1.0
#   sh install.sh --from ./dist/release --prefix ~/bin
#
# Options:
#   --from DIR                 use the archives and SHA256SUMS in DIR
#   --base-url URL             download them from URL (with curl or wget)
#   --prefix DIR               install the binary into DIR (default /usr/local/bin if writable, else ~/.local/bin)
#   --completions-prefix DIR   install completions under DIR/share (default: the parent of the binary's directory)
#   --no-completions           do not install shell completions
#   --version VERSION          pick this version when SHA256SUMS lists several
#   --target OS_ARCH           pick this archive instead of detecting it (e.g. linux_amd64-baseline)
#   -h, --help                 show this help

set -eu

say() { printf '%s\n' "$*"; }
die() {
	printf 'install.sh: error: %s\n' "$*" >&2
	exit 1
}

usage() {
	sed -n '2,/^$/p' "$0" 2>/dev/null | sed 's/^# \{0,1\}//'
}

from=""
base_url=""
prefix=""
comp_prefix=""
completions=1
version=""
target=""

need_value() {
	if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value"; fi
}

while [ $# -gt 0 ]; do
	case "$1" in
	--from) need_value "$@"; from=$2; shift 2 ;;
	--from=*) from=${1#*=}; shift ;;
	--base-url) need_value "$@"; base_url=$2; shift 2 ;;
	--base-url=*) base_url=${1#*=}; shift ;;
	--prefix) need_value "$@"; prefix=$2; shift 2 ;;
	--prefix=*) prefix=${1#*=}; shift ;;
	--completions-prefix) need_value "$@"; comp_prefix=$2; shift 2 ;;
	--completions-prefix=*) comp_prefix=${1#*=}; shift ;;
	--no-completions) completions=0; shift ;;
	--version) need_value "$@"; version=$2; shift 2 ;;
	--version=*) version=${1#*=}; shift ;;
	--target) need_value "$@"; target=$2; shift 2 ;;
	--target=*) target=${1#*=}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) die "unknown option \"$1\" (see --help)" ;;
	esac
done

if [ -n "$from" ] && [ -n "$base_url" ]; then die "give either --from or --base-url, not both"; fi
if [ -z "$from" ] && [ -z "$base_url" ]; then die "say where the release is: --from DIR or --base-url URL"; fi

# ---------------------------------------------------------------- which archive

detect_target() {
	os=$(uname -s)
	case "$os" in
	Linux) os=linux ;;
	Darwin) os=darwin ;;
	FreeBSD) os=freebsd ;;
	*) die "unsupported operating system \"$os\"; pp is built for Linux, macOS, FreeBSD and Windows (use the .zip there)" ;;
	esac
	arch=$(uname -m)
	case "$arch" in
	x86_64 | amd64) arch=amd64 ;;
	aarch64 | arm64) arch=arm64 ;;
	*) die "unsupported CPU architecture \"$arch\"; pp is built for x86_64 and arm64" ;;
	esac
	# An arm64 Mac running this shell under Rosetta reports x86_64; the native build is the better one.
	if [ "$os" = darwin ] && [ "$arch" = amd64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || true)" = 1 ]; then
		arch=arm64
	fi
	if [ "$os" = linux ] && is_musl; then
		[ "$arch" = amd64 ] || die "there is no musl build for $arch; install glibc or build pp from source"
		arch=amd64-musl
	elif [ "$os" = linux ] && [ "$arch" = amd64 ] && [ -r /proc/cpuinfo ] && ! grep -q ' avx2' /proc/cpuinfo; then
		# The default x64 build assumes a Haswell-class CPU (AVX2); older CPUs need the baseline build.
		arch=amd64-baseline
	fi
	printf '%s_%s\n' "$os" "$arch"
}

is_musl() {
	[ -f /etc/alpine-release ] && return 0
	for f in /lib/ld-musl-*.so.1; do [ -e "$f" ] && return 0; done
	ldd --version 2>&1 | grep -qi musl
}

# ---------------------------------------------------------------- helpers

workdir=$(mktemp -d 2>/dev/null || mktemp -d -t pp-install)
cleanup() { rm -rf "$workdir"; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

fetch() { # URL FILE
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 2 -o "$2" "$1" || die "download failed: $1"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$2" "$1" || die "download failed: $1"
	else
		die "neither curl nor wget is installed; install one, or download the release and use --from DIR"
	fi
}

get() { # NAME -> path of a local copy
	if [ -n "$from" ]; then
		[ -f "$from/$1" ] || die "$from/$1 not found"
		printf '%s\n' "$from/$1"
	else
		fetch "${base_url%/}/$1" "$workdir/$1"
		printf '%s\n' "$workdir/$1"
	fi
}

sha256_of() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | cut -d' ' -f1
	elif command -v shasum >/dev/null 2>&1; then
		shasum -a 256 "$1" | cut -d' ' -f1
	elif command -v sha256 >/dev/null 2>&1; then
		sha256 -q "$1"
	else
		die "no SHA-256 tool found (sha256sum, shasum or sha256); cannot verify the download"
	fi
}

# ---------------------------------------------------------------- pick, fetch, verify

[ -n "$target" ] || target=$(detect_target)
case "$target" in
windows_*) die "install.sh installs on Unix; on Windows unpack the .zip and put pp.exe on your PATH" ;;
esac

sums=$(get SHA256SUMS)
if [ -n "$version" ]; then
	pattern="pp_${version}_${target}.tar.gz"
	line=$(awk -v n="$pattern" '$2 == n || $2 == "*" n { print; exit }' "$sums")
else
	line=$(awk -v t="_${target}.tar.gz" 'substr($2, 1, 3) == "pp_" && substr($2, length($2) - length(t) + 1) == t' "$sums")
	if [ "$(printf '%s\n' "$line" | grep -c .)" -gt 1 ]; then
		die "SHA256SUMS lists several versions for $target; pick one with --version"
	fi
fi
[ -n "$line" ] || die "no archive for $target${version:+ version $version} in SHA256SUMS (available: $(awk '{ printf "%s ", $2 }' "$sums"))"
expected=$(printf '%s\n' "$line" | awk '{ print $1 }')
archive=$(printf '%s\n' "$line" | awk '{ print $2 }' | sed 's/^\*//')
case "$archive" in
*/* | ..*) die "unexpected archive name \"$archive\" in SHA256SUMS" ;;
esac

say "pp: installing $archive"
file=$(get "$archive")
actual=$(sha256_of "$file")
if [ "$actual" != "$expected" ]; then
	die "checksum mismatch for $archive: SHA256SUMS says $expected, the file has $actual; nothing was installed"
fi

tar -xzf "$file" -C "$workdir" || die "cannot unpack $archive"
top="$workdir/${archive%.tar.gz}"
[ -f "$top/pp" ] || die "$archive does not contain ${archive%.tar.gz}/pp"

# ---------------------------------------------------------------- install

writable_dir() { # DIR: exists and writable, or can be created
	if [ -d "$1" ]; then
		[ -w "$1" ]
	else
		mkdir -p "$1" 2>/dev/null
	fi
}

if [ -n "$prefix" ]; then
	writable_dir "$prefix" || die "cannot write to $prefix; choose another --prefix or run with the rights to write there"
	bindir=$prefix
elif writable_dir /usr/local/bin; then
	bindir=/usr/local/bin
else
	[ -n "${HOME:-}" ] || die "/usr/local/bin is not writable and \$HOME is not set; pass --prefix DIR"
	bindir="$HOME/.local/bin"
	writable_dir "$bindir" || die "cannot write to /usr/local/bin or $bindir; pass --prefix DIR"
fi
bindir=$(cd "$bindir" && pwd)

# Copy beside the target, then rename: an upgrade never leaves a half-written pp, even while one runs.
cp "$top/pp" "$bindir/.pp.install.$$" || die "cannot write $bindir/pp"
chmod 755 "$bindir/.pp.install.$$"
mv -f "$bindir/.pp.install.$$" "$bindir/pp" || { rm -f "$bindir/.pp.install.$$"; die "cannot replace $bindir/pp"; }
say "pp: installed $bindir/pp"

if [ "$completions" = 1 ]; then
	[ -n "$comp_prefix" ] || comp_prefix=$(dirname "$bindir")
	installed=""
	for spec in "bash-completion/completions/pp:pp.bash" "zsh/site-functions/_pp:_pp" "fish/vendor_completions.d/pp.fish:pp.fish"; do
		dest="$comp_prefix/share/${spec%%:*}"
		src="$top/completions/${spec#*:}"
		[ -f "$src" ] || continue
		if mkdir -p "$(dirname "$dest")" 2>/dev/null && cp "$src" "$dest" 2>/dev/null; then
			installed="$installed $dest"
		else
			say "pp: note: could not write $dest; skipped that completion" >&2
		fi
	done
	[ -z "$installed" ] || say "pp: completions:$installed"
fi

if out=$("$bindir/pp" --version 2>/dev/null); then
	say "pp: $out"
fi
case ":${PATH:-}:" in
*":$bindir:"*) ;;
*) say "pp: note: $bindir is not on your PATH; add it, e.g. export PATH=\"$bindir:\$PATH\"" ;;
esac

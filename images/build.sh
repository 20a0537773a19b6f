#!/usr/bin/env bash
# Build the RareHub image: OCI image (podman) → oci-archive → SIF (only where apptainer exists).
#
#   images/build.sh [options]
#
#   --base IMAGE      parent image (default: $RAREHUB_BASE, else localhost/rarehub-base:bookworm
#                     if it exists or can be made with debootstrap, else debian:bookworm-slim)
#   --extra-ca FILE   PEM file of extra CA certificates trusted while downloading packages
#                     (TLS-intercepting proxies); default $RAREHUB_EXTRA_CA, else the host
#                     bundle /etc/ssl/certs/ca-certificates.crt when it exists. "none" = off
#   --image NAME      image name (default localhost/rarehub)
#   --archive PATH    write the oci-archive here (default images/build/rarehub-VERSION.oci.tar)
#   --no-archive      stop after the OCI image (the test suite does; it runs the image itself)
#   --sif PATH        write the SIF here (default images/build/rarehub-VERSION.sif); only built
#                     where `apptainer` (or `singularity`) exists
#   --force           rebuild even if an image for this exact source tree exists
#
# The image is tagged NAME:tree-HASH, where HASH is the sha256 of every file that goes into
# the build context, plus NAME:VERSION and NAME:latest. With the same tree the build is
# skipped (layers are cached anyway; this skips even the cache checks). The last line on
# stdout is the image reference NAME:tree-HASH; progress goes to stderr.
set -euo pipefail

IMAGES="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$IMAGES")"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$IMAGES/containers.conf}"

BASE="${RAREHUB_BASE:-}"
EXTRA_CA="${RAREHUB_EXTRA_CA:-}"
IMAGE="localhost/rarehub"
ARCHIVE=""
SIF=""
MAKE_ARCHIVE=1
FORCE=0
DEBOOTSTRAP_BASE="localhost/rarehub-base:bookworm"

say() { printf '[images/build.sh] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --base) BASE="$2"; shift 2 ;;
    --extra-ca) EXTRA_CA="$2"; shift 2 ;;
    --image) IMAGE="$2"; shift 2 ;;
    --archive) ARCHIVE="$2"; shift 2 ;;
    --no-archive) MAKE_ARCHIVE=0; shift ;;
    --sif) SIF="$2"; shift 2 ;;
    --force) FORCE=1; shift ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

command -v podman >/dev/null || die "podman is missing: install the Debian package 'podman'"

debian_mirror() {
  # The Debian mirror apt already uses (deb822 .sources or one-line sources.list), so that
  # debootstrap goes where the machine's apt is known to reach.
  local uri=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri="$(awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ {print u; exit}' "$f")"
    [ -n "$uri" ] && break
  done
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri="$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list)"
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

ensure_debootstrap_base() {
  # A minimal Debian 12 base made locally, for machines that cannot pull from a registry.
  podman image exists "$DEBOOTSTRAP_BASE" && return 0
  local mirror dir
  mirror="$(debian_mirror)"
  dir="$(mktemp -d "${TMPDIR:-/var/tmp}/rarehub-base.XXXXXX")"
  say "making $DEBOOTSTRAP_BASE with debootstrap --variant=minbase bookworm from $mirror"
  if ! debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$dir.log" 2>&1; then
    tail -n 20 "$dir.log" >&2
    rm -rf "$dir" "$dir.log"
    die "debootstrap failed (log above)"
  fi
  # The same suites a debian:bookworm image has: updates and security as well as the release.
  local security="${mirror%/debian}/debian-security"
  [ "$security" = "$mirror/debian-security" ] && security="http://deb.debian.org/debian-security"
  cat >"$dir/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -f "$dir/etc/apt/sources.list"
  # Slim like debian:bookworm-slim: no man pages, docs (but copyrights) or translations, now
  # and for every package installed later; no apt caches.
  cat >"$dir/etc/dpkg/dpkg.cfg.d/rarehub-slim" <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
SLIM
  find "$dir/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
  find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$dir"/usr/share/man/* "$dir"/usr/share/info/*
  find "$dir/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  rm -rf "$dir"/var/cache/apt/* "$dir"/var/lib/apt/lists/* "$dir"/var/log/*.log
  tar --numeric-owner -C "$dir" -c . | podman import --quiet \
    --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - "$DEBOOTSTRAP_BASE" >/dev/null
  rm -rf "$dir" "$dir.log"
}

if [ -z "$BASE" ]; then
  if podman image exists "$DEBOOTSTRAP_BASE"; then
    BASE="$DEBOOTSTRAP_BASE"
  elif command -v debootstrap >/dev/null && [ "$(id -u)" = 0 ]; then
    ensure_debootstrap_base
    BASE="$DEBOOTSTRAP_BASE"
  else
    BASE="debian:bookworm-slim"
  fi
elif [ "$BASE" = "$DEBOOTSTRAP_BASE" ]; then
  ensure_debootstrap_base
fi

if [ -z "$EXTRA_CA" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  EXTRA_CA=/etc/ssl/certs/ca-certificates.crt
fi
[ "$EXTRA_CA" = none ] && EXTRA_CA=""
[ -z "$EXTRA_CA" ] || [ -r "$EXTRA_CA" ] || die "--extra-ca $EXTRA_CA: not a readable file"

# The build context: only what the image needs, from the working tree (tracked and untracked
# files that git does not ignore, so no __pycache__ or node_modules).
CONTEXT_PATHS=(pyproject.toml uv.lock README.md analysis_lib hub/rarehub_hub tutorials
  images/Dockerfile images/uv-requirements.txt images/rootfs)
CTX="$(mktemp -d "${TMPDIR:-/tmp}/rarehub-context.XXXXXX")"
trap 'rm -rf "$CTX"' EXIT
cd "$ROOT"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard -- "${CONTEXT_PATHS[@]}" |
    while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done >"$CTX.list"
  GIT_COMMIT="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
  git diff --quiet HEAD -- "${CONTEXT_PATHS[@]}" 2>/dev/null || GIT_COMMIT="$GIT_COMMIT-dirty"
else
  find "${CONTEXT_PATHS[@]}" -type f ! -path '*/__pycache__/*' -print0 >"$CTX.list"
  GIT_COMMIT=unknown
fi
sort -z -o "$CTX.list" "$CTX.list"
tar --null -T "$CTX.list" -c | tar -C "$CTX" -x
# The tree hash: names, modes and contents of the context, and the parent image.
TREE_HASH="$(
  cd "$CTX"
  {
    echo "base=$BASE"
    xargs -0 stat -c '%n %a' <"$CTX.list"
    xargs -0 sha256sum <"$CTX.list"
  } | sha256sum | cut -c1-16
)"
rm -f "$CTX.list"
VERSION="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' analysis_lib/__init__.py)"
LOCK_SHA256="$(sha256sum uv.lock | cut -d' ' -f1)"
REF="$IMAGE:tree-$TREE_HASH"

if [ "$FORCE" = 0 ] && podman image exists "$REF"; then
  say "$REF exists: this source tree is already built"
else
  say "building $REF from $BASE"
  build_args=(
    --format docker # keeps HEALTHCHECK (the OCI image format has none)
    --layers
    --build-arg "BASE=$BASE"
    --build-arg "VERSION=$VERSION"
    --build-arg "GIT_COMMIT=$GIT_COMMIT"
    --build-arg "LOCK_SHA256=$LOCK_SHA256"
    -f "$CTX/images/Dockerfile"
    -t "$REF"
  )
  [ -n "$EXTRA_CA" ] && build_args+=(--secret "id=extra_ca,src=$EXTRA_CA")
  start=$(date +%s)
  podman build "${build_args[@]}" "$CTX" >&2
  say "built $REF in $(($(date +%s) - start)) s"
fi
podman tag "$REF" "$IMAGE:$VERSION" "$IMAGE:latest"
# Untag the images of earlier trees (their layers stay as build cache); one in use stays.
podman images --format '{{.Repository}}:{{.Tag}}' "$IMAGE" | grep ":tree-" | grep -vxF "$REF" |
  xargs -r podman rmi >/dev/null 2>&1 || true

if [ "$MAKE_ARCHIVE" = 1 ]; then
  mkdir -p "$IMAGES/build"
  ARCHIVE="${ARCHIVE:-$IMAGES/build/rarehub-$VERSION.oci.tar}"
  say "saving $ARCHIVE (oci-archive)"
  rm -f "$ARCHIVE.tmp"
  podman save --quiet --format oci-archive -o "$ARCHIVE.tmp" "$IMAGE:$VERSION"
  mv "$ARCHIVE.tmp" "$ARCHIVE"
  APPTAINER="$(command -v apptainer || command -v singularity || true)"
  if [ -n "$APPTAINER" ]; then
    SIF="${SIF:-$IMAGES/build/rarehub-$VERSION.sif}"
    say "building $SIF with $APPTAINER"
    # rarehub.def bootstraps from build/rarehub.oci.tar, relative to images/.
    ln -sf "$(realpath "$ARCHIVE")" "$IMAGES/build/rarehub.oci.tar"
    (cd "$IMAGES" && "$APPTAINER" build --force "$SIF.tmp" rarehub.def >&2)
    mv "$SIF.tmp" "$SIF"
  else
    say "no apptainer here: skipping the SIF (on a cluster: apptainer build rarehub.sif images/rarehub.def)"
  fi
fi
echo "$REF"

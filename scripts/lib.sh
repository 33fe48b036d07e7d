# Shared by scripts/test and scripts/try: install what the project needs on
# a fresh Debian 12 machine (as root), and nothing when it is already there.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Builds go outside the clone, so repeated runs on one machine (CI runs a
# fresh clone each time) reuse them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tapprove/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# Each step names itself with the time since the script started, so a slow
# or stuck step shows in a log that has no timestamps of its own.
say() { printf '\n==> [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }

# Runs a command that must finish within a bound: a hang fails the step
# (exit 124) with a message, instead of holding CI until its own limit.
bounded() {
  local limit="$1"; shift
  local status=0
  timeout --kill-after=30s "$limit" "$@" || status=$?
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "timed out after $limit: $*" >&2
  fi
  return "$status"
}

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or install them: apt-get install ${missing[*]})" >&2
    return 1
  fi
  say "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_toolchain() {
  apt_install ca-certificates curl gcc pkg-config
  if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is missing: install rustup (https://rustup.rs); rust-toolchain.toml pins the version" >&2
    return 1
  fi
  # rust-toolchain.toml pins the toolchain; rustup installs it on first use.
  cargo --version >/dev/null
}

# The keychain test peer: gnome-keyring's Secret Service in a private
# D-Bus session (dbus-run-session), and secret-tool to look inside.
ensure_keychain_peers() {
  apt_install dbus-daemon gnome-keyring libsecret-tools
}

ensure_node() {
  if ! command -v node >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$major" -lt 20 ]; then
    echo "Node.js $major is too old: the independent WebAuthn verifier (@simplewebauthn/server) needs Node 20 or later" >&2
    return 1
  fi
  if [ ! -d node_modules/@simplewebauthn/server ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

# The test peers' Python packages (moto), in a venv inside the repository.
ensure_python_peers() {
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt_install python3-venv
  fi
  local venv="$ROOT/.venv" requirements="$ROOT/tests/peers/requirements.txt"
  local stamp="$venv/.requirements-installed"
  if [ ! -x "$venv/bin/python" ]; then
    say "python3 -m venv .venv"
    python3 -m venv "$venv"
  fi
  if [ ! -f "$stamp" ] || [ "$requirements" -nt "$stamp" ]; then
    say "pip install -r tests/peers/requirements.txt (into .venv)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    touch "$stamp"
  fi
}

# The tray app: Tauri's system libraries to build it, and its end-to-end
# test peers: Xvfb, WebKit's WebDriver, dunst (notifications), a
# StatusNotifierItem tray host with its watcher.
ensure_app_build_deps() {
  apt_install libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libssl-dev \
    libxdo-dev libdbus-1-dev libudev-dev pkg-config
}

ensure_app_test_peers() {
  ensure_app_build_deps
  ensure_keychain_peers
  # dbus-bin: dbus-monitor, which reads back the CloseNotification calls.
  apt_install xvfb xauth webkit2gtk-driver dunst haskell-gtk-sni-tray-utils dbus-bin
  if ! command -v tauri-driver >/dev/null 2>&1; then
    say "cargo install tauri-driver"
    cargo install tauri-driver --locked --version 2.1.0 --quiet
  fi
}

# The front end (ui/dist), rebuilt when a source is newer than the build.
build_ui() {
  if [ ! -f ui/dist/index.html ] || [ -n "$(find ui/src ui/index.html ui/vite.config.ts package-lock.json -newer ui/dist/index.html -print -quit)" ]; then
    say "npm run ui:build"
    npm run --silent ui:build >/dev/null
  fi
}

# Repacks the .deb FILE with xz (LEVEL, 0-9) instead of the gzip tauri's
# bundler writes: the format dpkg and apt read since Debian 6, and the same
# files and control data, only smaller (the release .deb goes from 10.6 to
# 6.2 MB at level 9). When tauri wrote an update signature beside it
# (FILE.sig, with --update-pubkey), the repacked file is signed again with
# the same key and the app's version bound in, as the bundler does.
compress_deb() {
  local deb="$1" level="$2" tree
  tree="$(mktemp -d)"
  dpkg-deb -R "$deb" "$tree/pkg"
  dpkg-deb --root-owner-group -Zxz -z"$level" -b "$tree/pkg" "$tree/out.deb" >/dev/null
  mv "$tree/out.deb" "$deb"
  rm -rf "$tree"
  if [ -f "$deb.sig" ]; then
    # TAURI_SIGNING_PRIVATE_KEY holds the key or, as the bundler also
    # takes it, the key file's path.
    local key=(env)
    [ -f "${TAURI_SIGNING_PRIVATE_KEY:-}" ] && key=(env -u TAURI_SIGNING_PRIVATE_KEY TAURI_SIGNING_PRIVATE_KEY_PATH="$TAURI_SIGNING_PRIVATE_KEY")
    rm -f "$deb.sig"
    "${key[@]}" npx --no-install tauri signer sign \
      --app-version "$(node -p "require('./src-tauri/tauri.conf.json').version")" "$deb" >/dev/null
    [ -f "$deb.sig" ] || { echo "compress_deb: signing $deb again wrote no $deb.sig" >&2; return 1; }
  fi
}

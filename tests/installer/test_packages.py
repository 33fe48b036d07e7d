"""The Linux installers: scripts/build-installer builds the .deb and .rpm
with an organisation's policy and the autostart entry, and each package
installs, into a throwaway root, the app, its desktop entry (registering
tapprove:// links), the autostart entry and the policy, read-only to users.

Run by scripts/test (a debug build: the release build is the same bundler
with another profile, built by .github/workflows/release.yml).
"""

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "tests/installer/policy.toml"


@pytest.fixture(scope="module")
def bundles():
    out = Path(tempfile.mkdtemp(prefix="tapprove-bundles-"))
    subprocess.run(
        [str(ROOT / "scripts/build-installer"), "--debug", "--autostart", "--policy", str(POLICY), "--out", str(out)],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    yield out
    shutil.rmtree(out, ignore_errors=True)


def one(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {directory}: {found}"
    return found[0]


def check_tree(root: Path):
    app = root / "usr/bin/tapprove-app"
    assert app.is_file() and os.access(app, os.X_OK), "the app binary is installed, executable"
    assert app.read_bytes()[:4] == b"\x7fELF"
    # The app is the tray agent, which links no GTK or WebKit; the window
    # is its own binary, started on demand.
    needed = subprocess.run(["readelf", "-d", str(app)], check=True, capture_output=True, text=True).stdout
    assert "NEEDED" in needed, needed
    assert not [l for l in needed.splitlines() if "NEEDED" in l and ("webkit" in l or "gtk" in l)], needed
    window = root / "usr/bin/tapprove-window"
    assert window.is_file() and os.access(window, os.X_OK), "the window binary is installed beside the app"
    assert "webkit2gtk" in subprocess.run(["readelf", "-d", str(window)], check=True, capture_output=True, text=True).stdout

    policy = root / "etc/tapprove/policy.toml"
    assert policy.read_bytes() == POLICY.read_bytes(), "the policy given at build time, unchanged"
    mode = stat.S_IMODE(policy.stat().st_mode)
    assert mode == 0o644, f"the policy is read-only to users: {oct(mode)}"

    desktop = (root / "usr/share/applications/Tapprove.desktop").read_text()
    assert "MimeType=x-scheme-handler/tapprove" in desktop, desktop
    assert "Exec=tapprove-app %u" in desktop, "the link reaches the app as its argument"

    autostart = (root / "etc/xdg/autostart/tapprove.desktop").read_text()
    assert "Exec=tapprove-app --background" in autostart, autostart
    assert (root / "usr/share/icons/hicolor/128x128/apps/tapprove-window.png").is_file()


def test_the_deb_installs_the_app_its_links_autostart_and_the_policy(bundles):
    deb = one(bundles, "*.deb")
    control = subprocess.run(["dpkg-deb", "-f", str(deb)], check=True, capture_output=True, text=True).stdout
    assert "Package: tapprove" in control
    assert "libwebkit2gtk-4.1-0" in control and "libayatana-appindicator3-1" in control, control
    # Repacked with xz (scripts/lib.sh compress_deb), which dpkg reads.
    members = subprocess.run(["ar", "t", str(deb)], check=True, capture_output=True, text=True).stdout.split()
    assert members == ["debian-binary", "control.tar.xz", "data.tar.xz"], members
    root = Path(tempfile.mkdtemp(prefix="tapprove-deb-root-"))
    try:
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
        check_tree(root)
        listed = subprocess.run(["dpkg-deb", "-c", str(deb)], check=True, capture_output=True, text=True).stdout
        entry = next(l for l in listed.splitlines() if l.endswith("etc/tapprove/policy.toml"))
        assert entry.split()[:2] in (["-rw-r--r--", "root/root"], ["-rw-r--r--", "0/0"]), entry
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_rpm_installs_the_same(bundles):
    rpm = one(bundles, "*.rpm")
    root = Path(tempfile.mkdtemp(prefix="tapprove-rpm-root-"))
    try:
        # Debian's rpm2cpio exits 1 on the bundler's packages after writing
        # the whole archive; cpio checks the archive itself.
        cpio = subprocess.run(["rpm2cpio", str(rpm)], capture_output=True).stdout
        subprocess.run(["cpio", "-idm", "--quiet", "--no-absolute-filenames"], input=cpio, cwd=root, check=True)
        check_tree(root)
        listed = subprocess.run(["rpm", "-qlvp", str(rpm)], check=True, capture_output=True, text=True).stdout
        entry = next(l for l in listed.splitlines() if l.endswith("/etc/tapprove/policy.toml"))
        assert entry.split()[0] == "-rw-r--r--" and entry.split()[2:4] == ["root", "root"], entry
        requires = subprocess.run(["rpm", "-qp", "--requires", str(rpm)], check=True, capture_output=True, text=True).stdout
        assert "webkit2gtk" in requires, requires
    finally:
        shutil.rmtree(root, ignore_errors=True)

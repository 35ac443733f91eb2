#!/usr/bin/env bash
# The project's one set-up step, run by `npm test`, `npm start` (the demo) and CI (through npm test):
#   1. the Debian packages the project needs: installs only the missing ones (as root, or through
#      sudo when it works without a password); otherwise prints the exact apt-get line;
#   2. the native modules npm may have left unbuilt (npm 11 holds back install scripts; ssh2 then
#      falls back silently to JS crypto, 2-13x slower);
#   3. the OS images (fixtures/images/build.sh: `linux` and `debian-12`, cached; it builds the
#      busybox guest of fixtures/guest first).
# Exit status, for callers (the demo reads it):
#   0  everything is there
#   2  packages are missing and this user cannot install them (the apt-get line was printed)
#   1  anything else failed (one line saying what to run)
# Options: --check (install nothing, build nothing: report and exit as above), --no-image, --quiet.
set -euo pipefail

# Every Debian package the project needs, with why. Add new ones here (one line each).
PKGS=(
  qemu-system-x86 # the provider's machines (qemu-system-x86_64)
  qemu-utils      # qemu-img (disks) and qemu-nbd (block maps for migration)
  busybox-static  # the guest image's userland
  cpio            # packs the guest's initramfs
  openssh-client  # ssh/scp: the console and SCP tests, and the benchmarks' peers
  openssh-server  # sshd: the SCP benchmark's peer
  rsync           # the RSYNC benchmark's peer
  mmdebstrap      # builds the debian-12 image from Debian's archive
  grub-pc-bin     # GRUB for BIOS (grub-mkimage, boot.img) in every OS image
  e2fsprogs       # mke2fs -d: the images' root file systems, made without mounting
  fdisk           # sfdisk: the images' partition tables
  xorriso         # first-boot seeds (NoCloud ISO 9660); the install-media test's ISO
  vncsnapshot     # a real VNC client: the screen tests take pictures through `virtuoso vnc`
  openssl         # openssl passwd -6: the guest's root password hash from its console password
)
# The programs the code runs, checked after an install (a package can be there but broken).
TOOLS=(qemu-system-x86_64 qemu-img qemu-nbd xorriso)

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHECK="" NO_IMAGE="" QUIET=""
for arg in "$@"; do
  case "$arg" in
    --check) CHECK=1 ;;
    --no-image) NO_IMAGE=1 ;;
    --quiet) QUIET=1 ;;
    *) echo "setup: unknown option $arg (use --check, --no-image, --quiet)" >&2; exit 1 ;;
  esac
done

say() { [[ -n "$QUIET" ]] || echo "setup: $*" >&2; }
die() { echo "setup: $*" >&2; exit 1; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

# 1. Debian packages
command -v dpkg-query >/dev/null 2>&1 \
  || die "not a Debian system (no dpkg-query); install QEMU (qemu-system-x86_64, qemu-img, qemu-nbd) yourself"
missing=()
for p in "${PKGS[@]}"; do installed "$p" || missing+=("$p"); done
APT_LINE="apt-get install -y --no-install-recommends ${missing[*]:-}"
SUDO=()
if ((${#missing[@]})); then
  can_install=1
  if [[ "$(id -u)" != 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=(sudo); else can_install=""; fi
  fi
  if [[ -n "$CHECK" || -z "$can_install" ]]; then
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: as root, run: apt-get update && $APT_LINE" >&2
    # The rest (native modules, image) still runs: the demo can use them on the test hypervisor.
    PKG_STATUS=2
  else
    who="as root"
    ((${#SUDO[@]})) && who="through sudo"
    say "installing ${missing[*]} ($who: apt-get update && $APT_LINE)"
    "${SUDO[@]}" apt-get update -q >/dev/null || die "apt-get update failed; run: sudo apt-get update"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
      >/dev/null || die "apt-get install failed; run: sudo $APT_LINE"
    say "installed ${missing[*]}"
    PKG_STATUS=0
  fi
else
  say "Debian packages present (${PKGS[*]})"
  PKG_STATUS=0
fi
if ((PKG_STATUS == 0)); then
  for tool in "${TOOLS[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing although its package is installed; run: sudo apt-get install --reinstall ${PKGS[*]}"
  done
fi

# 2. Native modules (only once npm has installed the dependencies)
native_ok() {
  (cd "$HERE" && node -e "require('classic-level'); require('sodium-native');
    if (!require('ssh2/lib/protocol/crypto.js').bindingAvailable) process.exit(1)") 2>/dev/null
}
if [[ -d "$HERE/node_modules/ssh2" ]]; then
  if ! native_ok; then
    [[ -n "$CHECK" ]] && die "native modules do not load; run: npm rebuild classic-level sodium-native ssh2 cpu-features --foreground-scripts"
    say "native modules (classic-level, sodium-native, ssh2 crypto) missing: npm rebuild"
    (cd "$HERE" && npm rebuild classic-level sodium-native ssh2 cpu-features --foreground-scripts >/dev/null 2>&1) || true
    native_ok || die "native modules do not load; run: npm rebuild classic-level sodium-native ssh2 cpu-features --foreground-scripts"
  fi
  say "native modules load (classic-level, sodium-native, ssh2 crypto)"
fi

# 3. The OS images (linux needs apt-get download only; debian-12 needs root for mmdebstrap)
if [[ -z "$NO_IMAGE" ]]; then
  if [[ -n "$CHECK" ]]; then
    for os in linux debian-12; do
      [[ -s "$HERE/fixtures/images/build/$os.img" ]] || die "the $os image is not built; run: bash scripts/setup.sh"
    done
  else
    QUIET="$QUIET" bash "$HERE/fixtures/images/build.sh" || exit 1
  fi
fi

exit "$PKG_STATUS"

#!/usr/bin/env bash
# Installs the Debian 12 packages cnndiag needs to build and test. Run as root (or with sudo).
#   --with-python   also the Python packages used to regenerate example data and reference
#                   numbers (numpy, h5py, scipy) and to run the PyTorch cross-checks/benchmarks
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libcli11-dev libeigen3-dev libhdf5-dev libspdlog-dev libfmt-dev libtomlplusplus-dev
  nlohmann-json3-dev libmatio-dev libgtest-dev
)
if [[ "${1:-}" == "--with-python" ]]; then
  packages+=(python3 python3-numpy python3-h5py python3-scipy python3-torch hdf5-tools)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root (missing: ${missing[*]})" >&2; exit 2; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# Prepares what a bare NVIDIA machine needs to run scripts/gpu-check.sh, within the device tool's 64 MiB
# working-tree limit: the tracked tree (mostly the bundled model) leaves about 20 MB, and node plus
# onnxruntime-node come to about 35 MB even compressed, so the bundle goes in two calls made while the
# machine is warm (docs/DEVELOPING.md, "GPU checks on a bare NVIDIA machine"):
#   .gpu/   onnxruntime-node for linux-x64, the Vulkan/GL loaders, and the first 5 MB of node
#   .gpu2/  the rest of node
# node is stripped of its debug symbols and compressed with xz's x86 filter (99 MB -> 21 MB).
# Run from the repository root after `npm ci`; both folders are ignored by git.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
shared=../shared/gpu/pack.sh
[ -x "$shared" ] || [ -f "$shared" ] || { echo "gpu-bundle: $shared not found" >&2; exit 1; }
rm -rf .gpu .gpu2
bash "$shared" .gpu >/dev/null # onnxruntime-node, the loaders, setup.sh (and a node we replace)
rm -f .gpu/node.xz
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
strip -o "$tmp/node" "$(readlink -f "$(command -v node)")"
xz -T1 --x86 --lzma2=preset=9e -c "$tmp/node" >"$tmp/node.xz"
mkdir -p .gpu2
head -c 5000000 "$tmp/node.xz" >.gpu/node.xz.a
tail -c +5000001 "$tmp/node.xz" >.gpu2/node.xz.b
grep -qx '/.gpu2/' .git/info/exclude 2>/dev/null || echo '/.gpu2/' >>.git/info/exclude
du -sh .gpu .gpu2
cat <<'NEXT'
Then, with `npm run build` done, two device calls back to back (the second within the 30 s the machine stays warm):
 1. carry [".gpu"]:
    set -e; mkdir -p /tmp/gpu/bin; tar -C /tmp/gpu -xJf .gpu/node_modules.tar.xz; cp .gpu/node.xz.a /tmp/gpu/; for f in .gpu/debs/*.deb; do dpkg -x $f /; done; ldconfig
 2. carry [".gpu2", "dist/cli.js"]:
    cat /tmp/gpu/node.xz.a .gpu2/node.xz.b | xz -dc > /tmp/gpu/bin/node && chmod +x /tmp/gpu/bin/node && export PATH=/tmp/gpu/bin:$PATH NODE_PATH=/tmp/gpu/node_modules VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json && PROMPTS=30 bash scripts/gpu-check.sh
NEXT

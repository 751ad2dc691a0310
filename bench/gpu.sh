#!/usr/bin/env bash
# The prepared device check of the GPU issue: one run on a GPU machine measures everything (under 8 min).
#   here:   bash scripts/gpu-carry.sh            (packs Node, onnxruntime-node and the build into .gpu/)
#           and, for WebGPU, the Vulkan loaders into .gl/ (see the device tool's README)
#   there:  device run, carry [".gpu", ".gl"], command "bash bench/gpu.sh"; results in $OUT
# Prints `node dist/cli.js env`, the GPU tests (WebGPU/CUDA against CPU) and bench/gpu's BENCH lines
# (training step of shakespeare-char and gpt2-124m, decode, against PyTorch on the same GPU).
# BENCH_QUICK=1 runs it small, e.g. here on lavapipe: BENCH_QUICK=1 bash bench/gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
if [ -d .gl ] && ls .gl/*.deb > /dev/null 2>&1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd
if ! command -v node > /dev/null; then
  tar -xJf .gpu/node.tar.xz -C /tmp && export PATH=/tmp/node/bin:$PATH
fi
[ -f node_modules/onnxruntime-node/package.json ] || tar -xJf .gpu/runtime.tar.xz
[ -f out/bench/gpu.bench.js ] && [ -f dist/cli.js ] || tar -xJf .gpu/build.tar.xz
echo "== env"
node dist/cli.js env 2>&1 | tee "$OUT/env.txt"
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee -a "$OUT/env.txt"
echo "== GPU tests"
timeout 180 node --enable-source-maps --test --test-concurrency=1 out/test/unit/engineGpu*.test.js \
  out/test/unit/webgpu*.test.js 2>&1 | tee "$OUT/tests.txt" | grep -E '^(ok|not ok|# (pass|fail|skip))'
echo "== bench"
timeout 360 node --enable-source-maps out/bench/gpu.bench.js 2>&1 | tee "$OUT/bench.txt" | grep -Ev 'Warning: max'

#!/usr/bin/env bash
# Packs what bench/gpu.sh needs on a GPU machine that has no Node.js and reaches no registry, into .gpu/
# (ignored; name it in the device tool's `carry`): Node itself, onnxruntime-node's Linux x64 runtime, and
# the built CLI, benchmark and GPU tests. About 40 MB with xz. Run it after `npm run build` here.
#   bash scripts/gpu-carry.sh && du -sh .gpu
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/build.mjs --bench > /dev/null
rm -rf .gpu && mkdir -p .gpu/stage/node/bin
cp "$(command -v node)" .gpu/stage/node/bin/node
tar -C .gpu/stage -cJf .gpu/node.tar.xz node
ORT=node_modules/onnxruntime-node
tar -cJf .gpu/runtime.tar.xz "$ORT/package.json" "$ORT/dist" "$ORT/lib" "$ORT/bin/napi-v6/linux/x64" \
  node_modules/onnxruntime-common
tests=$(ls out/test/unit/engineGpu*.test.js out/test/unit/webgpu*.test.js)
tar -cJf .gpu/build.tar.xz dist/cli.js out/bench/gpu.bench.js $tests $(ls out/test/unit/*.js.map 2>/dev/null | grep -E 'engineGpu|webgpu' || true)
rm -rf .gpu/stage
du -sh .gpu/*.tar.xz

#!/usr/bin/env bash
# Copies the third-party proto files buf needs into third_party/proto
# (git-ignored) from Go modules pinned here, so generation works offline
# without the Buf Schema Registry.
set -euo pipefail
cd "$(dirname "$0")/.."
GATEWAY_V1=github.com/grpc-ecosystem/grpc-gateway@v1.16.0
dir=$(go mod download -modfile=tools/go.mod -json "$GATEWAY_V1" 2>/dev/null | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
if [ -z "$dir" ]; then
  echo "thirdparty: cannot download $GATEWAY_V1 from the Go module proxy" >&2
  exit 1
fi
rm -rf third_party/proto
mkdir -p third_party/proto/google/api
for f in annotations.proto http.proto; do
  install -m 0644 "$dir/third_party/googleapis/google/api/$f" third_party/proto/google/api/$f
done

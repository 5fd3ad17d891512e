#!/usr/bin/env bash
# Copies the third-party proto files buf needs into third_party/proto
# (git-ignored) from Go modules pinned here, so generation works offline
# without the Buf Schema Registry.
set -euo pipefail
cd "$(dirname "$0")/.."
# google/api (HTTP annotations) from grpc-gateway v1; buf/validate
# (protovalidate constraints) from the protovalidate repository, whose Go
# runtime (buf.build/go/protovalidate) is pinned in go.mod.
GATEWAY_V1=github.com/grpc-ecosystem/grpc-gateway@v1.16.0
PROTOVALIDATE=github.com/bufbuild/protovalidate@v1.2.2
moddir() {
  local dir
  dir=$(go mod download -modfile=tools/go.mod -json "$1" 2>/dev/null | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  if [ -z "$dir" ]; then
    echo "thirdparty: cannot download $1 from the Go module proxy" >&2
    exit 1
  fi
  echo "$dir"
}
gateway=$(moddir "$GATEWAY_V1")
protovalidate=$(moddir "$PROTOVALIDATE")
rm -rf third_party/proto
mkdir -p third_party/proto/google/api third_party/proto/buf/validate
for f in annotations.proto http.proto; do
  install -m 0644 "$gateway/third_party/googleapis/google/api/$f" third_party/proto/google/api/$f
done
install -m 0644 "$protovalidate/proto/protovalidate/buf/validate/validate.proto" third_party/proto/buf/validate/validate.proto

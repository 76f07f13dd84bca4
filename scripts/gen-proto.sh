#!/usr/bin/env bash
# Regenerates the Go code for the Salesforce Pub/Sub API contract
# (salesforce/pubsub/pubsubpb/*.pb.go) from pubsub_api.proto.
#
# Tools, all pinned:
#   protoc              Debian package protobuf-compiler (3.21.12 on Debian 12);
#                       install with: apt-get update && apt-get install -y protobuf-compiler
#   protoc-gen-go       google.golang.org/protobuf, same version as in go.mod
#   protoc-gen-go-grpc  google.golang.org/grpc/cmd/protoc-gen-go-grpc
# The two Go plugins are installed into ./bin when missing or at another
# version. The protoc version is written into the generated headers, so a
# different protoc produces a diff in those comment lines only.
#
# Usage: scripts/gen-proto.sh   (from anywhere inside the repo)
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.36.8
PROTOC_GEN_GO_GRPC_VERSION=v1.5.1
PROTOC_VERSION=3.21.12

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="$root/bin"
out=salesforce/pubsub/pubsubpb
GO="${GO:-go}"

if ! command -v protoc >/dev/null 2>&1; then
	echo "gen-proto: protoc not found; install it with:" >&2
	echo "  apt-get update && apt-get install -y protobuf-compiler" >&2
	exit 1
fi
have_protoc="$(protoc --version | awk '{print $2}')"
if [ "$have_protoc" != "$PROTOC_VERSION" ]; then
	echo "gen-proto: warning: protoc $have_protoc, the committed code was generated with $PROTOC_VERSION;" >&2
	echo "  expect the 'protoc' version line in the generated headers to change." >&2
fi

# protoc-gen-go must match the google.golang.org/protobuf runtime in go.mod.
mod_protobuf="$("$GO" list -m -f '{{.Version}}' google.golang.org/protobuf)"
if [ "$mod_protobuf" != "$PROTOC_GEN_GO_VERSION" ]; then
	echo "gen-proto: warning: go.mod has google.golang.org/protobuf $mod_protobuf but this script pins protoc-gen-go $PROTOC_GEN_GO_VERSION" >&2
fi

mkdir -p "$bin"
# install_plugin NAME MODULE_PATH VERSION: installs into ./bin unless the
# binary there already reports VERSION.
install_plugin() {
	local name="$1" pkg="$2" version="$3"
	# protoc-gen-go prints "protoc-gen-go v1.36.8", protoc-gen-go-grpc
	# prints "protoc-gen-go-grpc 1.5.1": compare without the leading v.
	if [ -x "$bin/$name" ]; then
		local have
		have="$("$bin/$name" --version 2>/dev/null | awk '{print $NF}')"
		if [ "${have#v}" = "${version#v}" ]; then
			return
		fi
	fi
	echo "gen-proto: installing $pkg@$version into $bin" >&2
	GOBIN="$bin" "$GO" install "$pkg@$version"
}
install_plugin protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION"
install_plugin protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"

rm -f "$out"/*.pb.go
protoc \
	--plugin=protoc-gen-go="$bin/protoc-gen-go" \
	--plugin=protoc-gen-go-grpc="$bin/protoc-gen-go-grpc" \
	-I "$out" \
	--go_out="$out" --go_opt=paths=source_relative \
	--go-grpc_out="$out" --go-grpc_opt=paths=source_relative \
	"$out"/pubsub_api.proto
echo "gen-proto: wrote $(ls "$out"/*.pb.go | tr '\n' ' ')" >&2

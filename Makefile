# Pforte builds with cgo (SQLite) into one static binary.
TAGS    := sqlite_omit_load_extension sqlite_fts5 osusergo netgo
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -extldflags=-static -X github.com/pforte/pforte/cli.version=$(VERSION) -X github.com/pforte/pforte/cli.commit=$(COMMIT)
export CGO_ENABLED := 1

.PHONY: build demo test bench check generate image

# A fully static binary: file(1) says "statically linked", ldd finds nothing.
build:
	go build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o pforte .

# The gateway on embedded defaults with the Cloud API simulator.
demo:
	go run -tags '$(TAGS)' . serve --demo

# Every test, with the race detector.
test:
	go vet -tags '$(TAGS)' ./...
	go test -race -tags '$(TAGS)' -timeout 25m ./...

# Benchmarks print their tables; see README "Performance".
bench:
	go test -tags '$(TAGS)' -run '^$$' -bench . -benchtime 1x ./...

# Regenerates the panel's templ components (commit the *_templ.go files).
generate:
	go tool templ generate -path web

check:
	test -z "$$(gofmt -l .)" || (gofmt -l . && exit 1)
	go vet -tags '$(TAGS)' ./...

# The container image from the host's static binary (no base image pulled).
PODMAN ?= podman
PODMAN_BUILD_FLAGS ?=
image: build
	rm -rf .image && mkdir -p .image/rootfs/base/usr/local/bin .image/rootfs/volume
	mkdir -m 1777 .image/rootfs/base/tmp && mkdir -m 700 .image/rootfs/volume/data
	cp pforte .image/rootfs/base/usr/local/bin/pforte
	$(PODMAN) build $(PODMAN_BUILD_FLAGS) --format docker --build-arg BINARY=host --build-arg VERSION=$(VERSION) -t localhost/pforte:$(VERSION) -t localhost/pforte:latest .

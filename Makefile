# certform's build. Only Go, make, gcc (for -race) and git are assumed;
# tools are installed into .tools/ from the Go module proxy at pinned versions.

GO          ?= go
PREFIX      ?= /usr/local
DESTDIR     ?=
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X main.version=$(VERSION)
TOOLS       := $(CURDIR)/.tools
# staticcheck 2026.2.2 is the release that supports Go 1.26.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(TOOLS)/staticcheck-$(STATICCHECK_VERSION)
FUZZTIME    ?= 30s

.PHONY: all build test vet staticcheck bench fuzz demo install clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/certform .

$(STATICCHECK):
	mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(TOOLS)/staticcheck $@

vet:
	$(GO) vet ./...

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...

test: vet staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) test -race -count=1 ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./spec

demo: build
	./bin/certform validate --dir examples

install: build
	install -d -m 0755 $(DESTDIR)$(PREFIX)/bin
	install -m 0755 bin/certform $(DESTDIR)$(PREFIX)/bin/certform

clean:
	rm -rf bin .tools

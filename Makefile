# certform's build. Only Go, make, gcc (for -race) and git are assumed;
# tools are installed into .tools/ from the Go module proxy at pinned versions.

GO          ?= go
PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
UNITDIR     ?= $(PREFIX)/lib/systemd/system
DOCDIR      ?= $(PREFIX)/share/doc/certform
SYSCONFDIR  ?= /etc
UNITS       := certform.service certform-git-sync.service certform-git-sync.timer certform-deploy@.path certform-deploy@.service
# What certform version prints (see docs/development.md, "Releases"): the release tag
# (v1.2.0; git describe's v1.2.0-3-gabc1234 past it, -dirty for uncommitted
# changes) or dev without one; the full commit; the build time, from
# SOURCE_DATE_EPOCH when set (reproducible builds).
VERSION     ?= $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || echo dev)
COMMIT      ?= $(shell c=$$(git rev-parse HEAD 2>/dev/null) && { git diff --quiet HEAD -- 2>/dev/null && echo $$c || echo $$c-dirty; })
DATE        ?= $(shell date -u $${SOURCE_DATE_EPOCH:+-d @$$SOURCE_DATE_EPOCH} +%Y-%m-%dT%H:%M:%SZ)
# Expanded once, so that every use in a run (the binary, the .deb) agrees.
VERSION     := $(VERSION)
COMMIT      := $(COMMIT)
DATE        := $(DATE)
CLIPKG      := github.com/certform/certform/internal/cli
LDFLAGS     := -X $(CLIPKG).version=$(VERSION) -X $(CLIPKG).commit=$(COMMIT) -X $(CLIPKG).date=$(DATE)
TOOLS       := $(CURDIR)/.tools
# staticcheck 2026.2.2 is the release that supports Go 1.26.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(TOOLS)/staticcheck-$(STATICCHECK_VERSION)
FUZZTIME    ?= 30s
# make dist: static binaries, a .deb per architecture and SHA256SUMS in
# DISTDIR. tools/ is a module of its own that pins nfpm (tools/go.mod; it
# needs Go 1.26.4 or later).
DISTDIR     ?= dist
DIST_ARCHES ?= amd64 arm64
# The .deb's Maintainer field; a published release sets the real one.
MAINTAINER  ?= The certform authors <certform@invalid>
MKDEB       := $(TOOLS)/mkdeb

.PHONY: all build test vet cross staticcheck bench fuzz demo install dist clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/certform .

$(STATICCHECK):
	mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(TOOLS)/staticcheck $@

vet:
	$(GO) vet ./...
	$(GO) -C tools vet ./...

# cross vets the tree (vet compiles the test files too) for the systems
# besides Linux that certform builds on (README.md, "Quick start"), so that
# a Linux-only identifier outside a _linux.go file fails here. The build
# cache keeps it fast.
CROSS       ?= darwin/arm64 darwin/amd64 freebsd/amd64
cross:
	set -e; for p in $(CROSS); do \
		echo "GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet ./..."; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet ./...; \
	done

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...
	cd tools && $(STATICCHECK) ./...

test: vet cross staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) test -race -count=1 -timeout 20m ./...
	$(GO) -C tools test -count=1 ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./spec

# demo runs the daemon on examples/ against a fake CertCentral served in the
# same process, with a temporary state: no API key, no network. It keeps
# watching until Ctrl-C; edit a file in examples/ to see a cycle.
demo: build
	./bin/certform run --dev --dir examples --debounce 500ms

# install puts the binary, the systemd units (with the binary's path filled
# in), README.md and an example configuration in place; see docs/daemon.md,
# "Running on a server". It does not enable or start anything.
install: build
	# Folders are created with these modes only when missing: a mode an
	# earlier install or the admin set on purpose is kept.
	for d in $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR); do \
		test -d $$d || install -d -m 0755 $$d || exit 1; \
	done
	test -d $(DESTDIR)$(SYSCONFDIR)/certform || install -d -m 0750 $(DESTDIR)$(SYSCONFDIR)/certform
	install -m 0755 bin/certform $(DESTDIR)$(BINDIR)/certform
	for u in $(UNITS); do \
		sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -m 0640 systemd/certform.env.example $(DESTDIR)$(SYSCONFDIR)/certform/certform.env.example

# dist builds a release into DISTDIR (emptied first): for each of DIST_ARCHES
# a static binary certform-VERSION-linux-ARCH (CGO_ENABLED=0, -trimpath, no
# symbol table or DWARF (-s -w: panics still name functions and lines),
# version, commit and date stamped) and a .deb (tools/mkdeb: the files make
# install installs, at Debian's paths; no maintainer script), the notices of
# the software the binary links (THIRD_PARTY_NOTICES), and SHA256SUMS over
# all of them (check with sha256sum -c SHA256SUMS). See docs/development.md, "Releases".
dist: $(MKDEB)
	rm -rf $(DISTDIR)
	mkdir -p $(DISTDIR)
	set -e; for a in $(DIST_ARCHES); do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$a $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' -o $(DISTDIR)/certform-$(VERSION)-linux-$$a . ; \
		$(MKDEB) --binary $(DISTDIR)/certform-$(VERSION)-linux-$$a --arch $$a --version '$(VERSION)' --date '$(DATE)' \
			--maintainer '$(MAINTAINER)' --units '$(UNITS)' --src . --out $(DISTDIR) --notices $(DISTDIR)/THIRD_PARTY_NOTICES >/dev/null; \
	done
	cd $(DISTDIR) && sha256sum certform-* certform_*.deb THIRD_PARTY_NOTICES > SHA256SUMS

$(MKDEB): tools/go.mod tools/go.sum $(wildcard tools/mkdeb/*.go)
	mkdir -p $(TOOLS)
	$(GO) -C tools build -o $@ ./mkdeb

clean:
	rm -rf bin .tools dist

# certform's build. Only Go, make, gcc (for -race) and git are assumed;
# tools are installed into .tools/ from the Go module proxy at pinned versions.

GO          ?= go
PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
UNITDIR     ?= $(PREFIX)/lib/systemd/system
DOCDIR      ?= $(PREFIX)/share/doc/certform
SYSCONFDIR  ?= /etc
UNITS       := certform.service certform-git-sync.service certform-git-sync.timer
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
	$(GO) test -race -count=1 -timeout 20m ./...

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
# in), README.md and an example configuration in place; see README.md,
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

clean:
	rm -rf bin .tools

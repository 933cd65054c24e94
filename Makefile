# Labyrinth: build, install, test.
#
#   make demo                 scripts/demo.sh: install the build's libraries, build, replay the bundled capture
#   make test                 scripts/test.sh: install what the tests use (apt, pip), build and run every test
#   make                      release build, Swift standard library linked in
#   sudo make install         binaries, config, systemd units, sysusers entry, man pages, completions, docs
#   make deb                  labyrinth_VERSION_amd64.deb (release build under the build lock, then debian/)
#   make docs                 scripts/gen-docs.sh: man pages, completions, docs/configuration.md
#   make install DESTDIR=/tmp/stage PREFIX=/opt/labyrinth   (staged; paths in the units follow PREFIX)
#   make tests-only           the test suite alone, installing nothing
#   sudo make uninstall

PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
DATADIR     ?= $(PREFIX)/share/labyrinth
DOCDIR      ?= $(PREFIX)/share/doc/labyrinth
SYSCONFDIR  ?= /etc
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/vendor-completions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
DESTDIR     ?=
SWIFT       ?= swift
# Where the binaries to install come from (override to install a debug build).
BUILD       ?= .build/release
SWIFTFLAGS  ?= -c release --static-swift-stdlib

INSTALL = install

.PHONY: all build demo install uninstall test tests-only check-units clean docs deb

all: build

build:
	$(SWIFT) build $(SWIFTFLAGS) --product labyrinthd
	$(SWIFT) build $(SWIFTFLAGS) --product labyrinthctl

install:
	@test -x $(BUILD)/labyrinthd -a -x $(BUILD)/labyrinthctl || { echo "no binaries in $(BUILD): run make first" >&2; exit 1; }
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/labyrinth \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	$(INSTALL) -m 0755 $(BUILD)/labyrinthd $(BUILD)/labyrinthctl $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 0644 captures/loopback.pcap $(DESTDIR)$(DATADIR)/
	$(INSTALL) -m 0644 README.md BENCHMARKS.md config/labyrinth.toml $(DESTDIR)$(DOCDIR)/
	@# docs/, as a tree (its pages link to each other).
	cd docs && find . -type f -name '*.md' -exec $(INSTALL) -D -m 0644 {} $(DESTDIR)$(DOCDIR)/docs/{} \;
	$(INSTALL) -d $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	$(INSTALL) -m 0644 man/labyrinthd.8 man/labyrinthctl.8 $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 man/labyrinth.toml.5 $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 0644 completions/labyrinthd.bash $(DESTDIR)$(BASHCOMPDIR)/labyrinthd
	$(INSTALL) -m 0644 completions/labyrinthctl.bash $(DESTDIR)$(BASHCOMPDIR)/labyrinthctl
	$(INSTALL) -m 0644 completions/_labyrinthd completions/_labyrinthctl $(DESTDIR)$(ZSHCOMPDIR)/
	$(INSTALL) -m 0644 completions/labyrinthd.fish completions/labyrinthctl.fish $(DESTDIR)$(FISHCOMPDIR)/
	@# The config is the commented example with the socket group switched on;
	@# an existing one is kept (the new example goes next to it).
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/labyrinth/labyrinth.toml ]; then \
		sed 's|^# socket_group = "labyrinth"|socket_group = "labyrinth"|' config/labyrinth.toml > $(DESTDIR)$(SYSCONFDIR)/labyrinth/labyrinth.toml.example; \
		echo "kept $(DESTDIR)$(SYSCONFDIR)/labyrinth/labyrinth.toml (the new example is labyrinth.toml.example)"; \
	else \
		sed 's|^# socket_group = "labyrinth"|socket_group = "labyrinth"|' config/labyrinth.toml > $(DESTDIR)$(SYSCONFDIR)/labyrinth/labyrinth.toml; \
		chmod 0644 $(DESTDIR)$(SYSCONFDIR)/labyrinth/labyrinth.toml; \
	fi
	@for unit in labyrinthd.service labyrinthd.socket; do \
		sed -e 's|/usr/local/bin/|$(BINDIR)/|g' -e 's|/usr/local/share/doc/labyrinth/|$(DOCDIR)/|g' \
		    -e 's|/etc/labyrinth/|$(SYSCONFDIR)/labyrinth/|g' systemd/$$unit > $(DESTDIR)$(UNITDIR)/$$unit; \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$unit; \
	done
	$(INSTALL) -m 0644 systemd/labyrinth.sysusers $(DESTDIR)$(SYSUSERSDIR)/labyrinth.conf
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		systemd-sysusers $(SYSUSERSDIR)/labyrinth.conf && systemctl daemon-reload && \
		echo "installed; start with: systemctl enable --now labyrinthd.socket labyrinthd"; \
	fi

uninstall:
	-systemctl disable --now labyrinthd.service labyrinthd.socket 2>/dev/null
	rm -f $(DESTDIR)$(BINDIR)/labyrinthd $(DESTDIR)$(BINDIR)/labyrinthctl \
		$(DESTDIR)$(UNITDIR)/labyrinthd.service $(DESTDIR)$(UNITDIR)/labyrinthd.socket \
		$(DESTDIR)$(SYSUSERSDIR)/labyrinth.conf \
		$(DESTDIR)$(MANDIR)/man8/labyrinthd.8 $(DESTDIR)$(MANDIR)/man8/labyrinthctl.8 \
		$(DESTDIR)$(MANDIR)/man5/labyrinth.toml.5 \
		$(DESTDIR)$(BASHCOMPDIR)/labyrinthd $(DESTDIR)$(BASHCOMPDIR)/labyrinthctl \
		$(DESTDIR)$(ZSHCOMPDIR)/_labyrinthd $(DESTDIR)$(ZSHCOMPDIR)/_labyrinthctl \
		$(DESTDIR)$(FISHCOMPDIR)/labyrinthd.fish $(DESTDIR)$(FISHCOMPDIR)/labyrinthctl.fish
	rm -rf $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR)
	@echo "kept $(SYSCONFDIR)/labyrinth/ (your configuration)"

# The README's first command: the libraries the build links, then the
# bundled capture through the pinned workers.
demo:
	scripts/demo.sh

# The README's second command, and what CI runs: everything the tests use,
# then the tests, as root (scripts/test.sh asks for sudo otherwise).
test:
	scripts/test.sh

tests-only:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# systemd-analyze verify on a staged install (the units need their binaries).
check-units:
	rm -rf .build/stage && $(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/.build/stage BUILD=$(BUILD)
	SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --root=$(CURDIR)/.build/stage \
		$(CURDIR)/.build/stage$(UNITDIR)/labyrinthd.service $(CURDIR)/.build/stage$(UNITDIR)/labyrinthd.socket

# The man pages, completions and configuration reference, from the
# release binaries (make build first); `scripts/gen-docs.sh --check` is CI's
# check that the committed ones are current.
docs:
	scripts/gen-docs.sh $(BUILD)

# The Debian package, in the current directory: the release build (under
# the build lock other builds take), then dpkg-buildpackage on a staging
# copy of what debian/rules installs (.build/deb), so that the tree gets no
# debian/ build litter and the parent directory no files.
DEB_VERSION = $(shell dpkg-parsechangelog -l debian/changelog -S Version)
DEB_ARCH    = $(shell dpkg-architecture -qDEB_HOST_ARCH)
deb:
	flock /tmp/swift-build.lock $(MAKE) --no-print-directory build
	@v=$$($(BUILD)/labyrinthd --version); [ "$$v" = "$(DEB_VERSION)" ] || \
		{ echo "make deb: labyrinthd is $$v, debian/changelog says $(DEB_VERSION): add a changelog entry" >&2; exit 1; }
	rm -rf .build/deb && mkdir -p .build/deb/labyrinth-$(DEB_VERSION)/captures
	cp -r Makefile README.md BENCHMARKS.md config systemd docs man completions debian .build/deb/labyrinth-$(DEB_VERSION)/
	cp captures/loopback.pcap .build/deb/labyrinth-$(DEB_VERSION)/captures/
	cd .build/deb/labyrinth-$(DEB_VERSION) && \
		LABYRINTH_BUILD=$(abspath $(BUILD)) dpkg-buildpackage -b -us -uc --no-sign > ../build.log 2>&1 || \
		{ tail -40 ../build.log >&2; exit 1; }
	cp .build/deb/labyrinth_$(DEB_VERSION)_$(DEB_ARCH).deb .
	@echo "built labyrinth_$(DEB_VERSION)_$(DEB_ARCH).deb (log: .build/deb/build.log)"

clean:
	rm -rf .build

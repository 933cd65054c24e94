# Labyrinth: build, install, test.
#
#   make demo                 scripts/demo.sh: install the build's libraries, build, replay the bundled capture
#   make test                 scripts/test.sh: install what the tests use (apt, pip), build and run every test
#   make                      release build, Swift standard library linked in
#   sudo make install         binaries, config, systemd units, sysusers entry
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
DESTDIR     ?=
SWIFT       ?= swift
# Where the binaries to install come from (override to install a debug build).
BUILD       ?= .build/release
SWIFTFLAGS  ?= -c release --static-swift-stdlib

INSTALL = install

.PHONY: all build demo install uninstall test tests-only check-units clean

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
		$(DESTDIR)$(SYSUSERSDIR)/labyrinth.conf
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

clean:
	rm -rf .build

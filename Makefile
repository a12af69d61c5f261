# hvconform: the two commands of README.md, and their parts.
#   make demo   set up, bring the lab up, audit it, write reports/<run-id>/
#   make test   set up, bring the lab up, run the project's own tests
# Both need Debian 12 and root (the lab makes namespaces, bridges and daemons).

SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
RUN_ID ?= $(shell date -u +%Y%m%dT%H%M%SZ)-lab
# What the tool and its tests need from Debian; the lab installs its own (lab/lab).
APT_PACKAGES := python3-venv python3-dev gcc libvirt-dev pkg-config chromium

.PHONY: demo test setup apt lab-up lab-down audit-local clean ansible

demo: setup lab-up
	@# pytest exits 1 when controls fail: for an audit that is a finding, not a broken run;
	@# the findings are in the report, so the terminal keeps to the per-host summary
	$(PY) -m pytest --inventory inventories/lab.yaml -n 2 \
	    --run-id $(RUN_ID) -q -rN --tb=no || [ $$? -eq 1 ]

audit-local: setup
	$(PY) -m pytest -q || [ $$? -eq 1 ]

test: setup $(VENV)-oscal/.installed $(VENV)/.ansible-installed lab-up
	$(PY) -m pytest tests -n 2 -q

setup: apt $(VENV)/.installed

apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

# optional: Ansible inventories (requirements-ansible.txt says why); the tests need it
$(VENV)/.ansible-installed: requirements-ansible.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-ansible.txt
	touch $@

# the OSCAL validator, for the tests only (tests/requirements-oscal.txt says why it is apart)
$(VENV)-oscal/.installed: tests/requirements-oscal.txt
	python3 -m venv $(VENV)-oscal
	$(VENV)-oscal/bin/python -m pip install -q -r tests/requirements-oscal.txt
	touch $@

ansible: $(VENV)/.ansible-installed

lab-up:
	lab/lab up

lab-down:
	lab/lab down

clean: lab-down
	rm -rf $(VENV) $(VENV)-oscal

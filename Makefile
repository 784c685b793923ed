# Two commands a newcomer needs: `make run` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export KERAS_BACKEND := tensorflow
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: setup run test lint docker-check typecheck pytest postgres clean

# Reinstalls only when pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "ressearch needs Python >= 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian packages that are not on PyPI, as command:package: docker-compose (1.29) for the docker/
# checks, hyperfine for the whole-process timings of benchmarks/overhead.py, chromium and its
# driver for the dashboard's browser test (Selenium drives them offline).
DEBIAN_TOOLS := docker-compose:docker-compose hyperfine:hyperfine chromium:chromium chromedriver:chromium-driver
setup: $(STAMP)
	@missing=$$(for tool in $(DEBIAN_TOOLS); do command -v $${tool%%:*} >/dev/null || echo $${tool#*:}; done); \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

# A real quick study on the embedded SQLite default (./ressearch.db) with an offline dataset,
# then the best model exported to exports/quickstart and the report written to report/.
# A second call resumes: nothing to add.
run: setup
	$(BIN)/ressearch run studies/quickstart.yaml
	$(BIN)/ressearch export quickstart --out exports/quickstart --force
	$(BIN)/ressearch report quickstart --out report --force
	$(BIN)/ressearch best quickstart

# The PostgreSQL tests need the local server: start it if it is down (CI starts from a clean
# machine), with one password-only role for the wrong-password test.
postgres:
	@bash tests/postgres-setup.sh

lint: setup docker-check
	$(BIN)/ruff check ressearch tests benchmarks
	$(BIN)/ruff format --check ressearch tests benchmarks
	$(BIN)/lint-imports

# The Dockerfiles, compose file and k8s manifests, read statically: no daemon or registry needed.
docker-check: setup
	BIN=$(BIN) bash docker/check.sh

typecheck: setup
	$(BIN)/mypy ressearch

# Two test processes (pytest-xdist), one module per process at a time so module fixtures run once:
# half the suite waits on subprocesses, signals and the database, so 2 cores finish in ~8 min, not 14.
pytest: setup postgres
	$(BIN)/pytest -n 2 --dist loadscope

test: lint typecheck pytest

# What `make run` and the commands' defaults leave here: the SQLite file and its WAL files, the
# artifact folder beside it (ressearch-artifacts/ for PostgreSQL), exports, the report.
clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache ressearch.db ressearch.db-wal ressearch.db-shm \
		ressearch.db-journal ressearch.db.artifacts ressearch-artifacts artifacts exports report ablation

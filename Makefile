# mnist-exp: `make help` lists the targets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# pip constraints for .venv: the lowest versions pyproject.toml allows, which CI tests in
# full; CONSTRAINTS= takes the newest pip finds (Hydra's pre-releases among them: the
# joblib launcher asks for hydra-core>=1.1.0.dev7, and pip reads that as allowing them)
CONSTRAINTS ?= .ci/lowest.txt
# test-newest: the newest Python with the newest Hydra and OmegaConf, pre-releases included
PYTHON_NEWEST ?= $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 \
	/usr/local/bin/python3.13 /usr/bin/python3.13; do "$$p" -c '' 2>/dev/null && { command -v "$$p"; break; }; done)
NEWEST_VENV ?= .venv-newest
NEWEST := 'hydra-core>=1.4.0rc3,<1.5' 'omegaconf>=2.4.1rc1,<2.5'
BENCH_ARGS ?=
SWEEP_BENCH_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install browser slurm postgres run smoke sweep test test-fast test-newest bench lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: $(STAMP) ## create .venv and install mnist-exp with its test tools

$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# setuptools notes every editable install ("Editable installation"), whatever the project
	PYTHONWARNINGS='ignore:Editable installation:UserWarning' \
		$(BIN)/python -m pip install --quiet $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) -e '.[dev]'
	touch $(STAMP)

run: install ## train the tutorial's model on the bundled offline digits (data=mnist_5k)
	$(BIN)/mnist-exp data=mnist_5k

smoke: install ## a run of seconds: +experiment=smoke
	$(BIN)/mnist-exp +experiment=smoke

sweep: install ## a small sweep on the bundled digits (8 runs of +experiment=tutorial_sweep) and its summary
	$(BIN)/mnist-exp -m +experiment=tutorial_sweep training.epochs=3 training.batch_size=128

test: install browser slurm postgres ## run every test, slow ones included
	$(BIN)/pytest $(PYTEST_ARGS)

browser: ## Debian's chromium for the browser test of report.html, where apt-get can install it
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& export DEBIAN_FRONTEND=noninteractive \
		&& { apt-get install -y -qq chromium >/dev/null 2>&1 \
			|| { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; }; }; } \
		|| echo "chromium not installed (apt-get install chromium): the browser test will skip"

slurm: ## Debian's slurm-wlm and munge for the tests' one-node SLURM cluster, where apt-get can install them
	@command -v slurmctld >/dev/null 2>&1 && command -v munged >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] \
		&& command -v apt-get >/dev/null 2>&1 && export DEBIAN_FRONTEND=noninteractive \
		&& { apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1 \
			|| { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1; }; }; } \
		|| echo "slurm-wlm not installed (apt-get install slurm-wlm munge): the SLURM cluster tests will skip"

postgres: ## Debian's PostgreSQL server for the tests that keep a study in one, where apt-get can install it
	@command -v pg_config >/dev/null 2>&1 && [ -x "$$(pg_config --bindir)/initdb" ] \
		|| ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] \
		&& command -v apt-get >/dev/null 2>&1 && export DEBIAN_FRONTEND=noninteractive \
		&& { apt-get install -y -qq postgresql >/dev/null 2>&1 \
			|| { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq postgresql >/dev/null 2>&1; }; }; } \
		|| echo "postgresql not installed (apt-get install postgresql): the PostgreSQL tests will skip"

test-fast: install ## run the tests not marked slow, spread over the cores
	$(BIN)/pytest -m "not slow" -n auto --dist loadfile $(PYTEST_ARGS)

test-newest: ## the fast tests on Python 3.13 with the newest Hydra and OmegaConf (pre-releases), in $(NEWEST_VENV)
	@test -n "$(PYTHON_NEWEST)" || { echo "Python 3.13 not found: make test-newest PYTHON_NEWEST=/path/to/python3.13"; exit 1; }
	test -f $(NEWEST_VENV)/.installed || { $(PYTHON_NEWEST) -m venv $(NEWEST_VENV) \
		&& $(NEWEST_VENV)/bin/python -m pip install --quiet --upgrade pip \
		&& PYTHONWARNINGS='ignore:Editable installation:UserWarning' \
			$(NEWEST_VENV)/bin/python -m pip install --quiet -e '.[dev]' $(NEWEST) \
		&& touch $(NEWEST_VENV)/.installed; }
	$(NEWEST_VENV)/bin/pytest -m "not slow" -n auto --dist loadfile $(PYTEST_ARGS)

bench: install ## time mnist-exp beside the raw Keras script and PyTorch, and sweeps (~15 min): benchmarks/results/
	@$(BIN)/python -m pip install --quiet torch==2.13.0 \
		|| echo "torch==2.13.0 not installed: the benchmark skips the PyTorch loop"
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.sweeps $(SWEEP_BENCH_ARGS)

lint: install ## ruff on the package and the tests
	$(BIN)/ruff check mnist_exp hydra_plugins tests
	$(BIN)/ruff format --check mnist_exp hydra_plugins tests

clean: ## remove outputs/ and caches (keeps .venv)
	rm -rf outputs .pytest_cache .ruff_cache

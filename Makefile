# The two quickstart commands: `make quickstart` (main job on embedded data) and `make test`.
# Each creates .venv and installs the core and every first-party plugin, with torch pinned
# to the CPU build by constraints.txt.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PLUGINS := $(sort $(wildcard plugins/zoo-*))
PIP := $(BIN)/python -m pip install --quiet -c constraints.txt
QUICK_DB ?= .zoo/quickstart.db
EMBEDDED_SUPERVISED := digits,breast-cancer,wine,diabetes

.PHONY: install quickstart test lint perf clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt $(wildcard plugins/*/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -e '.[test]' $(addprefix -e ,$(PLUGINS))
	touch $@

quickstart: install
	$(BIN)/zoo bench supervised --budget quick --seeds 3 --datasets $(EMBEDDED_SUPERVISED) --db $(QUICK_DB)
	$(BIN)/zoo bench embedded-ad --budget quick --seeds 3 --db $(QUICK_DB)
	$(BIN)/zoo leaderboard supervised --db $(QUICK_DB)
	$(BIN)/zoo leaderboard embedded-ad --db $(QUICK_DB)
	$(BIN)/zoo report supervised --db $(QUICK_DB) --out reports/supervised
	$(BIN)/zoo report embedded-ad --db $(QUICK_DB) --out reports/embedded-ad

# One intra-op thread per process: the tests' networks are tiny, the DDP tests run two
# processes, and torch's spinning worker threads slow small ops 10-30x on a busy 2-core box.
test: install
	$(BIN)/ruff check zoo plugins tests benchmarks docs
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(BIN)/pytest -q

perf: install
	$(BIN)/python benchmarks/perf/cli_latency.py
	$(BIN)/python benchmarks/perf/train_throughput.py

clean:
	rm -rf $(VENV) .zoo

# chorus_pro_liaison — developer commands (see README.md).
PYTHON ?= python3

.PHONY: help install test test-lib test-odoo demo demo-stop simulator i18n bench clean

help:
	@echo "make install    install the Python requirements (Odoo's pins as constraints)"
	@echo "make test       library tests, then Odoo tests on a fresh database, then browser tests"
	@echo "make demo       simulator + database chorus_demo + Odoo on http://127.0.0.1:8069"
	@echo "make simulator  run the Chorus Pro simulator in the foreground"
	@echo "make i18n       re-export the translation template, merge fr.po, list what lacks French"

install:
	$(PYTHON) tools/install_requirements.py

test:
	$(PYTHON) tools/run_tests.py

test-lib:
	$(PYTHON) -m pytest -q

test-odoo:
	$(PYTHON) tools/run_tests.py --no-library

demo:
	$(PYTHON) tools/demo.py

demo-stop:
	$(PYTHON) tools/demo.py --stop

simulator:
	$(PYTHON) -m chorus_pro.simulator --host 127.0.0.1 --port 8123

i18n:
	$(PYTHON) tools/update_translations.py

clean:
	rm -rf .pytest_cache var

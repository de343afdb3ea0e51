# Shortcuts for the scripts in scripts/ (which work without make too).
.PHONY: install up test check bench

install:
	bash scripts/install

up:
	bash scripts/up

test:
	bash scripts/test

check:
	bash scripts/check

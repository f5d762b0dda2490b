# The two commands of the README, and their parts.
.PHONY: setup up down test

setup:
	./scripts/setup-host

up: setup
	.venv/bin/flotilla up

down:
	.venv/bin/flotilla down

test: setup
	./scripts/test

# `make test` runs everything CI runs; `make converge` builds the environment.
.PHONY: test unit lint build sanity molecule images converge

test:
	bash scripts/test.sh

unit lint build sanity molecule images:
	bash scripts/test.sh $@

converge:
	ansible-playbook site.yml

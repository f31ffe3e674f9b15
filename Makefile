# `make test` runs everything CI runs; `make converge` builds the environment.
.PHONY: test unit lint build molecule images converge

test:
	bash scripts/test.sh

unit lint build molecule images:
	bash scripts/test.sh $@

converge:
	ansible-playbook site.yml

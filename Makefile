# The two commands the README leads with, and the ones behind them.
.PHONY: demo test bootstrap controlplane bench clean-cluster

demo:            ## run the operator against the local control plane with examples/districts
	bash scripts/demo.sh

test:            ## static checks + unit + integration tests (what CI runs)
	bash scripts/test.sh

bootstrap:       ## venv with pinned deps, PostgreSQL, cached control plane
	bash scripts/bootstrap.sh

controlplane:    ## build (or find cached) etcd, kube-apiserver, kube-controller-manager, helm
	bash tools/build-controlplane.sh

bench:           ## the long benchmarks (not part of `make test`)
	bash scripts/bench.sh

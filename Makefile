# The two commands the README leads with, and the ones behind them.
.PHONY: demo test bootstrap controlplane bench soak clean-cluster

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

soak:            ## the long fault run: 40 districts, 60 kill -9s, 2 apiserver restarts
	bash scripts/bootstrap.sh && .venv/bin/python -m benchmarks.soak --districts 40 --kills 60 --apiserver-restarts 2

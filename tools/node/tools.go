//go:build tools

// Package tools pins the node commands (and the scheduler that binds pods to the node) this module builds.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)

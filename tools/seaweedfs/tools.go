//go:build tools

// Package tools pins the SeaweedFS server this module builds (its `weed` command serves S3).
package tools

import _ "github.com/seaweedfs/seaweedfs/weed"

module github.com/safemap-go/safemap/bench

go 1.24.0

require (
	github.com/maypok86/otter/v2 v2.4.0
	github.com/puzpuzpuz/xsync/v4 v4.5.0
	github.com/safemap-go/safemap v0.1.0
)

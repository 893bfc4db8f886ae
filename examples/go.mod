module github.com/safemap-go/safemap/examples

go 1.24

require github.com/safemap-go/safemap v0.1.0
